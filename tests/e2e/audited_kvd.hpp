// A fixture for fault scenarios: one kvd with a sync handler "audit" (test_handler writing
// every event it gets to a file), a connected client, and kvd's footprint (fds, children)
// taken once everything is up, to compare against after the fault.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/e2e/harness.hpp"

namespace kvd::test {

class AuditedKvdTest : public ::testing::Test {
  protected:
    // How the sync handler "audit" answers (test_handler mode and argument).
    virtual std::vector<std::string> audit_mode() const { return {"ack"}; }

    void SetUp() override {
        out_ = dir_.file("audit.out");
        Json command = {test_handler_path(), "--out", out_};
        for (const auto& a : audit_mode()) command.push_back(a);
        KvdOptions options;
        options.config =
            "[[handler]]\nname = \"audit\"\nmode = \"sync\"\ncommand = " + command.dump() + "\n";
        kvd_ = std::make_unique<KvdProcess>(dir_, options);
        ASSERT_TRUE(kvd_->ready());
        client_ = std::make_unique<Client>(kvd_->socket_path());
        ASSERT_TRUE(client_->connected()) << client_->connect_error();
        ASSERT_TRUE(wait_until([&] { return children_of(kvd_->pid()).size() == 1; }, 10s,
                               "the handler to start"));
        ASSERT_TRUE(is_ok(client_->call("ping")));
        before_ = footprint_of(kvd_->pid());
    }

    // The handler's events so far, parsed.
    std::vector<Json> events() {
        std::vector<Json> out;
        for (const auto& line : read_lines(out_)) out.push_back(Json::parse(line, nullptr, false));
        return out;
    }

    TempDir dir_;
    std::string out_;
    std::unique_ptr<KvdProcess> kvd_;
    std::unique_ptr<Client> client_;
    Footprint before_;
};

}  // namespace kvd::test
