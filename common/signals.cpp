#include "common/signals.hpp"

#include <cctype>
#include <charconv>
#include <csignal>
#include <utility>

namespace kvd {

namespace {
// Every standard signal Linux defines, so that exit events and `kill` name them all.
constexpr std::pair<int, std::string_view> kSignals[] = {
    {SIGHUP, "SIGHUP"},       {SIGINT, "SIGINT"},       {SIGQUIT, "SIGQUIT"},
    {SIGILL, "SIGILL"},       {SIGTRAP, "SIGTRAP"},     {SIGABRT, "SIGABRT"},
    {SIGBUS, "SIGBUS"},       {SIGFPE, "SIGFPE"},       {SIGKILL, "SIGKILL"},
    {SIGUSR1, "SIGUSR1"},     {SIGSEGV, "SIGSEGV"},     {SIGUSR2, "SIGUSR2"},
    {SIGPIPE, "SIGPIPE"},     {SIGALRM, "SIGALRM"},     {SIGTERM, "SIGTERM"},
    {SIGCHLD, "SIGCHLD"},     {SIGCONT, "SIGCONT"},     {SIGSTOP, "SIGSTOP"},
    {SIGTSTP, "SIGTSTP"},     {SIGTTIN, "SIGTTIN"},     {SIGTTOU, "SIGTTOU"},
    {SIGURG, "SIGURG"},       {SIGXCPU, "SIGXCPU"},     {SIGXFSZ, "SIGXFSZ"},
    {SIGSYS, "SIGSYS"},       {SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"},
    {SIGWINCH, "SIGWINCH"},   {SIGIO, "SIGIO"},         {SIGPWR, "SIGPWR"},
#ifdef SIGSTKFLT
    {SIGSTKFLT, "SIGSTKFLT"},
#endif
};

// A signal number in 1..NSIG-1 spelled in decimal, or nullopt.
std::optional<int> parse_number(std::string_view digits) {
    int n = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size() || n <= 0 ||
        n >= NSIG)
        return std::nullopt;
    return n;
}
}  // namespace

std::optional<int> parse_signal(std::string_view name) {
    if (name.empty()) return std::nullopt;
    if (std::isdigit(static_cast<unsigned char>(name[0]))) return parse_number(name);
    std::string upper;
    for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper.rfind("SIG", 0) != 0) upper = "SIG" + upper;
    for (const auto& [n, s] : kSignals)
        if (s == upper) return n;
    // "SIG34": how signal_name() spells a signal without a name (e.g. real-time ones).
    if (upper.size() > 3 && std::isdigit(static_cast<unsigned char>(upper[3])))
        return parse_number(std::string_view(upper).substr(3));
    return std::nullopt;
}

std::string signal_name(int signo) {
    for (const auto& [n, s] : kSignals)
        if (n == signo) return std::string(s);
    return "SIG" + std::to_string(signo);
}

bool ends_process_by_default(int signo) {
    switch (signo) {
        case SIGCHLD:
        case SIGCONT:
        case SIGSTOP:
        case SIGTSTP:
        case SIGTTIN:
        case SIGTTOU:
        case SIGURG:
        case SIGWINCH:
            return false;
        default:
            return signo > 0 && signo < NSIG;
    }
}

}  // namespace kvd
