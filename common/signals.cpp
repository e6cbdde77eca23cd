#include "common/signals.hpp"

#include <csignal>
#include <charconv>
#include <array>
#include <cctype>
#include <utility>

namespace kvd {

namespace {
constexpr std::array<std::pair<int, std::string_view>, 25> kSignals{{
    {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},     {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
    {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"},   {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
    {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"},   {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
    {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"},   {SIGTERM, "SIGTERM"}, {SIGCHLD, "SIGCHLD"},
    {SIGCONT, "SIGCONT"}, {SIGSTOP, "SIGSTOP"},   {SIGTSTP, "SIGTSTP"}, {SIGTTIN, "SIGTTIN"},
    {SIGTTOU, "SIGTTOU"}, {SIGURG, "SIGURG"},     {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
    {SIGSYS, "SIGSYS"},
}};
}  // namespace

std::optional<int> parse_signal(std::string_view name) {
    if (name.empty()) return std::nullopt;
    if (std::isdigit(static_cast<unsigned char>(name[0]))) {
        int n = 0;
        auto [p, ec] = std::from_chars(name.data(), name.data() + name.size(), n);
        if (ec != std::errc() || p != name.data() + name.size() || n <= 0 || n >= NSIG)
            return std::nullopt;
        return n;
    }
    std::string upper;
    for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper.rfind("SIG", 0) != 0) upper = "SIG" + upper;
    for (const auto& [n, s] : kSignals)
        if (s == upper) return n;
    return std::nullopt;
}

std::string signal_name(int signo) {
    for (const auto& [n, s] : kSignals)
        if (n == signo) return std::string(s);
    return "SIG" + std::to_string(signo);
}

}  // namespace kvd
