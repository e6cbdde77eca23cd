// Fuzzes the bucket protocol from both ends. Every line of the input goes to a Store as kvd
// would send it, and the reply must be one line bucket_protocol::parse_reply reads. Then the
// same bytes, read as a script of put/get/delete/keys with keys and values cut from the input,
// go through request_line -> Store::handle_line -> parse_reply and are checked against a
// std::map: what kvd asks for is what the bucket does.
#include <fuzzer/FuzzedDataProvider.h>

#include <map>
#include <string>
#include <string_view>

#include "bucket/store.hpp"
#include "common/bucket_protocol.hpp"
#include "common/protocol.hpp"
#include "fuzz/fuzz_support.hpp"

namespace kvd::fuzz {
namespace {

bucket_protocol::BucketReply answer(Store& store, std::string_view request) {
    std::string line = store.handle_line(request);
    FUZZ_CHECK(!line.empty() && line.find('\n') == line.size() - 1,
               "a bucket reply is not exactly one line");
    line.pop_back();
    auto reply = bucket_protocol::parse_reply(line);
    FUZZ_CHECK(reply.has_value(), "kvd cannot read the bucket's reply");
    FUZZ_CHECK(reply->ok ? reply->result.is_object() : !reply->code.empty());
    return *reply;
}

// The string as it arrives on the other side: JSON carries UTF-8 only, and dump_line replaces
// invalid bytes, so a key with one is stored under its replaced spelling.
std::string as_sent(const std::string& s) {
    return Json::parse(dump_line(Json(s))).get<std::string>();
}

void run_raw_lines(std::string_view input) {
    Store store;
    for (std::string_view line : split_lines(input)) answer(store, line);
}

void run_script(const uint8_t* data, std::size_t size) {
    FuzzedDataProvider provider(data, size);
    Store store;
    std::map<std::string, std::string> model;
    while (provider.remaining_bytes() > 0) {
        int op = provider.ConsumeIntegralInRange(0, 3);
        std::string key = provider.ConsumeRandomLengthString(24);
        std::string value = provider.ConsumeRandomLengthString(64);
        std::string stored_key = as_sent(key);
        switch (op) {
            case 0: {
                auto reply = answer(store, bucket_protocol::request_line("put", &key, &value));
                FUZZ_CHECK(reply.ok && reply.result.empty(), "put failed");
                model[stored_key] = as_sent(value);
                break;
            }
            case 1: {
                auto reply = answer(store, bucket_protocol::request_line("get", &key, nullptr));
                auto it = model.find(stored_key);
                if (it == model.end()) {
                    FUZZ_CHECK(!reply.ok && reply.code == "not_found", "got a key never put");
                } else {
                    FUZZ_CHECK(reply.ok && reply.result["value"] == it->second,
                               "get did not return what was put");
                }
                break;
            }
            case 2: {
                auto reply = answer(store, bucket_protocol::request_line("delete", &key, nullptr));
                bool had = model.erase(stored_key) > 0;
                FUZZ_CHECK(reply.ok && reply.result["deleted"] == had);
                break;
            }
            default: {
                auto reply = answer(store, bucket_protocol::request_line("keys", nullptr, nullptr));
                FUZZ_CHECK(reply.ok && reply.result["keys"].is_array());
                Json want = Json::array();
                for (const auto& [k, v] : model) want.push_back(k);
                FUZZ_CHECK(reply.result["keys"] == want, "keys differ from what was put");
                break;
            }
        }
        FUZZ_CHECK(store.size() == model.size());
    }
}

}  // namespace
}  // namespace kvd::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    kvd::fuzz::run_raw_lines(kvd::fuzz::as_text(data, size));
    kvd::fuzz::run_script(data, size);
    return 0;
}
