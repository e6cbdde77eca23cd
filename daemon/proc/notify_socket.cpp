#include "daemon/proc/notify_socket.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

namespace kvd::proc {

bool notify_says_ready(std::string_view datagram) {
    while (!datagram.empty()) {
        std::size_t nl = datagram.find('\n');
        std::string_view line = datagram.substr(0, nl);
        if (line == "READY=1") return true;
        if (nl == std::string_view::npos) break;
        datagram.remove_prefix(nl + 1);
    }
    return false;
}

NotifySocket::NotifySocket(uv_loop_t* loop, ReadyFn on_ready)
    : loop_(loop), on_ready_(std::move(on_ready)) {}

NotifySocket::~NotifySocket() {
    close();
}

int NotifySocket::open() {
    if (fd_ >= 0) return 0;
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) return uv_translate_sys_error(errno);
    int one = 1;
    if (setsockopt(fd_, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) {
        int err = errno;
        close();
        return uv_translate_sys_error(err);
    }
    // An abstract name: nothing on disk to clean up, and reachable by children running as
    // another user. Who sent a message is the kernel's word (SCM_CREDENTIALS), not the name's.
    std::random_device rd;
    std::string name = fmt::format("kvd-notify-{}-{:08x}", getpid(), rd());
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, name.data(), name.size());
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
        int err = errno;
        close();
        return uv_translate_sys_error(err);
    }
    if (int rc = uv_poll_init(loop_, poll_.get(), fd_); rc != 0) {
        close();
        return rc;
    }
    poll_.mark_initialized();
    poll_.get()->data = this;
    uv_poll_start(poll_.get(), UV_READABLE, [](uv_poll_t* p, int, int) {
        if (auto* self = static_cast<NotifySocket*>(p->data)) self->on_readable();
    });
    address_ = "@" + name;
    return 0;
}

void NotifySocket::on_readable() {
    // Bounded per wake-up, so a child that floods the socket cannot hold the loop.
    for (int i = 0; i < 64; ++i) {
        char buf[4096];
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
        iovec iov{buf, sizeof buf};
        msghdr mh{};
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = control;
        mh.msg_controllen = sizeof control;
        ssize_t n = recvmsg(fd_, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;  // EAGAIN: drained
        }
        pid_t sender = 0;
        for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
                ucred cred;
                std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
                sender = cred.pid;
            } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                // sd_notify can pass fds (FDSTORE=1); kvd keeps none.
                std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (std::size_t k = 0; k < count; ++k) {
                    int fd;
                    std::memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof fd);
                    ::close(fd);
                }
            }
        }
        if (sender > 0 && on_ready_ &&
            notify_says_ready(std::string_view(buf, static_cast<std::size_t>(n))))
            on_ready_(sender);
        if (fd_ < 0) return;  // closed by the callback
    }
}

void NotifySocket::close() {
    poll_.close();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    address_.clear();
}

}  // namespace kvd::proc
