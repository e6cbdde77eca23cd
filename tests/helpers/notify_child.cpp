// notify_child: a program that speaks sd_notify, for the tests of kinds with ready = "notify".
//
//   notify_child [DELAY_MS]   wait DELAY_MS (default 0), send READY=1 with libsystemd's
//                             sd_notify to $NOTIFY_SOCKET, then run until SIGTERM (exit 0)
//   notify_child never        never send READY=1; run until SIGTERM
//
// It exits 2 when READY=1 could not be sent (no NOTIFY_SOCKET, or sd_notify failed).
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

int main(int argc, char** argv) {
    bool never = argc > 1 && std::strcmp(argv[1], "never") == 0;
    if (!never) {
        int delay_ms = argc > 1 ? std::atoi(argv[1]) : 0;
        if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
        if (sd_notify(0, "READY=1\nSTATUS=serving") <= 0) {
            std::fprintf(stderr, "notify_child: sd_notify did not send READY=1\n");
            return 2;
        }
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    int sig = 0;
    sigwait(&set, &sig);
    return 0;
}
