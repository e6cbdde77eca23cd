// kvd-bench-sleeper: what supervisord runs 200 of in the comparison: a process that starts
// like kv-bucket (a small C++ program) and then waits for a signal. It dies with its parent,
// so a killed supervisord leaves no sleeper behind.
#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>

int main() {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) return 1;  // the parent died before prctl took effect
    for (;;) pause();
}
