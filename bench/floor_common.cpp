#include "bench/floor_common.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "bench/clock.hpp"

extern char** environ;

namespace kvd::bench::floor {

Floor::Floor(std::string program) : program_(std::move(program)) {
    uv_disable_stdio_inheritance();  // as kvd does
    uv_loop_init(&loop_);
    // kv-bucket checks that its parent is the kvd named in KVD_PID.
    for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "KVD_PID=", 8) != 0 && std::strncmp(*e, "KVD_BUCKET=", 11) != 0)
            env_.emplace_back(*e);
    env_.push_back("KVD_PID=" + std::to_string(getpid()));
    env_.push_back("KVD_BUCKET=floor");
    for (auto& s : env_) envp_.push_back(s.data());
    envp_.push_back(nullptr);
}

Floor::~Floor() {
    end_all(background_, SIGKILL);
    uv_run(&loop_, UV_RUN_NOWAIT);
    uv_loop_close(&loop_);
}

void Floor::on_exit(uv_process_t* p, int64_t, int) {
    auto* c = static_cast<Child*>(p->data);
    c->exited_ns = mono_ns();
    c->exited = true;
    uv_close(reinterpret_cast<uv_handle_t*>(p),
             [](uv_handle_t* h) { static_cast<Child*>(h->data)->closed = true; });
}

int Floor::spawn(Child& child) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return uv_translate_sys_error(errno);
    char* argv[] = {program_.data(), const_cast<char*>("floor"), nullptr};
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_INHERIT_FD;
    stdio[0].data.fd = sv[1];
    stdio[1].flags = UV_INHERIT_FD;
    stdio[1].data.fd = sv[1];
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    uv_process_options_t options{};
    options.file = argv[0];
    options.args = argv;
    options.env = envp_.data();
    options.stdio = stdio;
    options.stdio_count = 3;
    options.exit_cb = on_exit;
    child.process.data = &child;
    int rc = uv_spawn(&loop_, &child.process, &options);
    ::close(sv[1]);
    if (rc != 0) {
        ::close(sv[0]);
        child.exited = true;
        uv_close(reinterpret_cast<uv_handle_t*>(&child.process),
                 [](uv_handle_t* h) { static_cast<Child*>(h->data)->closed = true; });
        run_until([&] { return child.closed; });
        return rc;
    }
    child.pid = child.process.pid;
    child.socket_fd = sv[0];
    return 0;
}

void Floor::run_until(const std::function<bool()>& done) {
    while (!done()) uv_run(&loop_, UV_RUN_ONCE);
}

void Floor::end_all(std::vector<std::unique_ptr<Child>>& children, int signo) {
    for (auto& c : children)
        if (!c->exited) uv_process_kill(&c->process, signo);
    run_until([&] {
        for (auto& c : children)
            if (!c->closed) return false;
        return true;
    });
    for (auto& c : children)
        if (c->socket_fd >= 0) ::close(c->socket_fd);
    children.clear();
}

void Floor::grow(std::size_t alive) {
    while (background_.size() < alive) {
        auto c = std::make_unique<Child>();
        if (int rc = spawn(*c); rc != 0) {
            std::fprintf(stderr, "floor: uv_spawn %s: %s\n", program_.c_str(), uv_strerror(rc));
            std::exit(1);
        }
        background_.push_back(std::move(c));
    }
    if (background_.size() > alive) {
        std::vector<std::unique_ptr<Child>> extra;
        while (background_.size() > alive) {
            extra.push_back(std::move(background_.back()));
            background_.pop_back();
        }
        end_all(extra, SIGKILL);
    }
}

bool common_command(Floor& floor, const std::string& verb, long n,
                    std::vector<std::unique_ptr<Child>>& batch) {
    if (verb == "grow") {
        floor.grow(static_cast<std::size_t>(n));
        reply("{\"alive\":" + std::to_string(floor.background().size()) + "}");
    } else if (verb == "spawn") {
        std::vector<double> lat;
        lat.reserve(static_cast<std::size_t>(n));
        int64_t start = mono_ns();
        for (long i = 0; i < n; ++i) {
            auto c = std::make_unique<Child>();
            int64_t t0 = mono_ns();
            int rc = floor.spawn(*c);
            lat.push_back(ns_to_us(mono_ns() - t0));
            if (rc != 0) {
                std::fprintf(stderr, "floor: uv_spawn: %s\n", uv_strerror(rc));
                std::exit(1);
            }
            batch.push_back(std::move(c));
        }
        double seconds = ns_to_s(mono_ns() - start);
        reply("{\"seconds\":" + std::to_string(seconds) + ",\"lat_us\":" + json_array(lat) + "}");
    } else if (verb == "stop") {
        int64_t start = mono_ns();
        floor.end_all(batch, SIGTERM);
        reply("{\"seconds\":" + std::to_string(ns_to_s(mono_ns() - start)) + "}");
    } else {
        return false;
    }
    return true;
}

bool read_command(std::string& verb, long& arg) {
    std::string line;
    if (!std::getline(std::cin, line)) return false;
    auto sp = line.find(' ');
    verb = line.substr(0, sp);
    arg = sp == std::string::npos ? 0 : std::strtol(line.c_str() + sp + 1, nullptr, 10);
    return true;
}

void reply(const std::string& json) {
    std::fwrite(json.data(), 1, json.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

std::string json_array(const std::vector<double>& values) {
    std::string out = "[";
    char buf[64];
    for (std::size_t i = 0; i < values.size(); ++i) {
        std::snprintf(buf, sizeof buf, "%s%.3f", i ? "," : "", values[i]);
        out += buf;
    }
    return out + "]";
}

}  // namespace kvd::bench::floor
