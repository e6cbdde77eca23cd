// Regression: parse_reply copied a reply's id recursively, so a line nested tens of thousands
// of levels deep (well under the 1 MiB line limit) overflowed kvctl's stack. kvd never sends
// one, but kvctl may be pointed at any socket. Found by feeding fuzz_reply a hand-made input
// longer than its -max_len; such lines are now not a reply, and kvd's deepest replies still are.
#include <gtest/gtest.h>

#include <string>

#include "common/protocol.hpp"

namespace kvd {
namespace {

std::string deeply_nested(std::size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
}

TEST(ParseReplyRegression, DeeplyNestedReplyIsRefusedNotACrash) {
    EXPECT_FALSE(parse_reply(R"({"ok":true,"id":)" + deeply_nested(200'000) + "}"));
    EXPECT_FALSE(parse_reply(R"({"ok":true,"result":{"x":)" + deeply_nested(200'000) + "}}"));
}

TEST(ParseReplyRegression, TheDeepestIdKvdAcceptsStillComesBack) {
    // parse_request takes a request at most 256 levels deep, so its id is at most 255 deep.
    std::string request = R"({"op":"ping","id":)" + deeply_nested(255) + "}";
    auto parsed = parse_request(request);
    ASSERT_TRUE(std::holds_alternative<Request>(parsed));
    const Json& id = std::get<Request>(parsed).id;
    std::string line = reply_error(id, wire::ErrorCode::bad_request, "x");
    line.pop_back();
    auto reply = parse_reply(line);
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->id, id);
}

}  // namespace
}  // namespace kvd
