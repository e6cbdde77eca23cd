#include "bench/supervisor_peer.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <thread>

#include "bench/clock.hpp"
#include "bench/conn.hpp"

namespace kvd::bench {

namespace {

constexpr const char* kGroup = "sleepers";

// The text of member `name` in one <struct> of an XML-RPC response.
std::string member(std::string_view xml, std::string_view name) {
    std::string key = fmt::format("<name>{}</name>", name);
    auto at = xml.find(key);
    if (at == std::string_view::npos) return {};
    auto value = xml.find("<value>", at);
    if (value == std::string_view::npos) return {};
    auto start = xml.find('>', value + 7);  // past the type tag (<int>, <string>)
    auto end = xml.find('<', start + 1);
    if (start == std::string_view::npos || end == std::string_view::npos) return {};
    return std::string(xml.substr(start + 1, end - start - 1));
}

std::string string_param(std::string_view s) {
    return fmt::format("<param><value><string>{}</string></value></param>", s);
}
const char* kTrueParam = "<param><value><boolean>1</boolean></value></param>";

}  // namespace

Supervisord::Supervisord(const Paths& paths, const TempDir& dir, const std::string& program,
                         std::size_t procs, const std::string& fifo_path,
                         const std::string& extra_conf)
    : socket_(dir.file("supervisor.sock")), log_(dir.file("supervisord.log")) {
    mkdir(dir.file("supervisor-logs").c_str(), 0700);
    // startsecs=0: a process counts as RUNNING as soon as it is spawned, as a bucket does
    // (the default of 1 s would make every start take a second). Everything else default.
    std::string conf = fmt::format(
        "[unix_http_server]\n"
        "file={sock}\n"
        "chmod=0700\n"
        "[supervisord]\n"
        "nodaemon=true\n"
        "logfile={dir}/supervisord.log\n"
        "pidfile={dir}/supervisord.pid\n"
        "childlogdir={dir}/supervisor-logs\n"
        "[rpcinterface:supervisor]\n"
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
        "[program:{group}]\n"
        "command={sleeper}\n"
        "process_name=%(program_name)s_%(process_num)04d\n"
        "numprocs={procs}\n"
        "autostart=false\n"
        "autorestart=false\n"
        "startsecs=0\n"
        "[eventlistener:listener]\n"
        "command={listener} {fifo}\n"
        "events=PROCESS_STATE_EXITED\n"
        "buffer_size=1000\n",
        fmt::arg("sock", socket_), fmt::arg("dir", dir.path()), fmt::arg("group", kGroup),
        fmt::arg("sleeper", paths.bin("kvd-bench-sleeper")), fmt::arg("procs", procs),
        fmt::arg("listener", paths.bin("kvd-bench-listener")), fmt::arg("fifo", fifo_path));
    dir.write_file("supervisord.conf", conf + extra_conf);
    StartSpec spec;
    spec.argv = {program, "-n", "-c", dir.file("supervisord.conf")};
    spec.log_path = dir.file("supervisord.out");
    process_ = std::make_unique<Process>("supervisord", spec);

    int64_t deadline = deadline_in_ms(30'000);
    for (;;) {
        try {
            std::string info =
                call("supervisor.getProcessInfo", string_param("listener:listener"), 5'000);
            if (member(info, "statename") == "RUNNING") {
                std::string v = call("supervisor.getSupervisorVersion", "", 5'000);
                auto a = v.find("<string>"), b = v.find("</string>");
                if (a != std::string::npos && b != std::string::npos)
                    version = v.substr(a + 8, b - a - 8);
                return;
            }
        } catch (const BenchError&) {
            if (!process_->running())
                throw BenchError("supervisord exited at startup; see " +
                                 dir.file("supervisord.out"));
        }
        if (mono_ns() > deadline) throw BenchError("supervisord or its listener did not start");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

std::string Supervisord::call(const std::string& method, const std::string& params_xml,
                              int64_t timeout_ms) {
    std::string body = fmt::format(
        "<?xml version=\"1.0\"?><methodCall><methodName>{}</methodName><params>{}</params>"
        "</methodCall>",
        method, params_xml);
    Conn c(socket_);
    c.send(
        fmt::format("POST /RPC2 HTTP/1.0\r\nHost: localhost\r\nContent-Type: text/xml\r\n"
                    "Content-Length: {}\r\n\r\n{}",
                    body.size(), body));
    int64_t deadline = deadline_in_ms(timeout_ms);
    // HTTP/1.0: the response ends when supervisord closes the connection.
    while (!c.eof()) {
        c.write_some();
        if (mono_ns() > deadline) throw BenchError("supervisord did not answer " + method);
        c.pump(100);
    }
    std::string response(c.input());
    auto split = response.find("\r\n\r\n");
    if (!response.starts_with("HTTP/1.") || split == std::string::npos ||
        response.find(" 200 ") > split)
        throw BenchError("supervisord: bad HTTP response to " + method + ": " +
                         response.substr(0, 200));
    std::string xml = response.substr(split + 4);
    if (xml.find("<fault>") != std::string::npos)
        throw BenchError("supervisord: " + method + " failed: " + xml.substr(0, 400));
    return xml;
}

std::vector<Supervisord::ProcInfo> Supervisord::sleepers() {
    std::string xml = call("supervisor.getAllProcessInfo", "");
    std::vector<ProcInfo> out;
    std::size_t pos = 0;
    for (;;) {
        auto start = xml.find("<struct>", pos);
        if (start == std::string::npos) break;
        auto end = xml.find("</struct>", start);
        std::string_view one(xml.data() + start, end - start);
        ProcInfo p;
        p.name = member(one, "name");
        p.pid = static_cast<pid_t>(std::atoi(member(one, "pid").c_str()));
        p.state = member(one, "statename");
        if (member(one, "group") == kGroup) out.push_back(p);
        pos = end;
    }
    return out;
}

void Supervisord::start_group() {
    call("supervisor.startProcessGroup", string_param(kGroup) + kTrueParam);
}

void Supervisord::stop_group() {
    call("supervisor.stopProcessGroup", string_param(kGroup) + kTrueParam);
}

}  // namespace kvd::bench
