#include "daemon/metrics/http_endpoint.hpp"

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>

namespace kvd::metrics {

namespace {
// How long a scrape waits for kvd's loop; past it the scrape gets no kvd figures (only the
// Exposer's own) rather than holding a civetweb thread.
constexpr std::chrono::seconds kScrapeDeadline{5};
}  // namespace

// The Exposer's view of kvd: Collect() runs on an Exposer thread, everything else on the loop.
class HttpEndpoint::Bridge final : public prometheus::Collectable {
  public:
    explicit Bridge(uv_async_t* async) : async_(async) {}

    std::vector<prometheus::MetricFamily> Collect() const override {
        std::unique_lock lock(mutex_);
        if (closed_) return {};
        uint64_t ticket = ++asked_;
        // Under the mutex: close() marks closed_ under it before the handle is closed.
        uv_async_send(async_);
        bool answered =
            ready_.wait_for(lock, kScrapeDeadline, [&] { return closed_ || answered_ >= ticket; });
        if (!answered || closed_) return {};
        return families_;
    }

    // From the loop: the figures for every scrape that asked so far.
    void answer(std::vector<prometheus::MetricFamily> families) {
        std::lock_guard lock(mutex_);
        families_ = std::move(families);
        answered_ = asked_;
        ready_.notify_all();
    }

    // Do scrapes wait for an answer?
    bool asked() const {
        std::lock_guard lock(mutex_);
        return answered_ < asked_;
    }

    void shut() {
        std::lock_guard lock(mutex_);
        closed_ = true;
        ready_.notify_all();
    }

  private:
    uv_async_t* async_;
    mutable std::mutex mutex_;
    mutable std::condition_variable ready_;
    mutable uint64_t asked_ = 0;
    uint64_t answered_ = 0;
    bool closed_ = false;
    std::vector<prometheus::MetricFamily> families_;
};

HttpEndpoint::HttpEndpoint(uv_loop_t* loop, CollectFn collect)
    : loop_(loop), collect_(std::move(collect)) {}

HttpEndpoint::~HttpEndpoint() {
    close();
    if (stopper_.joinable()) stopper_.join();
}

std::optional<std::string> HttpEndpoint::start(const std::string& listen) {
    if (uv_async_init(loop_, async_.get(), [](uv_async_t* a) {
            if (auto* self = static_cast<HttpEndpoint*>(a->data)) self->answer();
        }) != 0)
        return "metrics: cannot create the loop's wake-up handle";
    async_.mark_initialized();
    async_.get()->data = this;
    // Scrapes do not keep kvd running: shutdown ends the loop with it still open.
    uv_unref(async_.raw());
    bridge_ = std::make_shared<Bridge>(async_.get());
    try {
        // One thread: scrapes are rare, and each waits for the loop anyway.
        exposer_ = std::make_unique<prometheus::Exposer>(listen, 1);
        exposer_->RegisterCollectable(bridge_);
    } catch (const std::exception& e) {
        exposer_.reset();
        close();
        return fmt::format("metrics: cannot listen on {}: {}", listen, e.what());
    }
    return std::nullopt;
}

int HttpEndpoint::port() const {
    if (!exposer_) return 0;
    auto ports = exposer_->GetListeningPorts();
    return ports.empty() ? 0 : ports.front();
}

void HttpEndpoint::answer() {
    if (bridge_ && bridge_->asked()) bridge_->answer(collect_());
}

void HttpEndpoint::close() {
    if (bridge_) bridge_->shut();
    // The Exposer keeps the bridge alive while a scrape is in Collect() (its weak_ptr locked).
    bridge_.reset();
    if (exposer_)
        stopper_ = std::thread([exposer = std::move(exposer_)]() mutable { exposer.reset(); });
    async_.close();
}

}  // namespace kvd::metrics
