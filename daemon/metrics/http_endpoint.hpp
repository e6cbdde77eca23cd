// The optional HTTP endpoint of `[metrics] listen` (README "Metrics"): prometheus-cpp's Exposer
// serves GET /metrics from threads of its own (civetweb's). kvd's figures belong to its loop,
// so a scrape never reads them from such a thread: it asks the loop (uv_async_send) and waits,
// at most kScrapeDeadline, for the loop to collect them and hand them over under a mutex.
//
// Ordering: close() first tells waiting scrapes to give up and refuses new ones (under the
// bridge's mutex), so no thread waits on a loop that no longer answers and no uv_async_send
// reaches the async handle it then closes. Stopping civetweb takes up to its poll quantum (2 s),
// so the Exposer is destroyed on a thread of its own, which the destructor joins: the loop
// never waits for it.
#pragma once

#include <prometheus/metric_family.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/uv/handle.hpp"

namespace prometheus {
class Exposer;
}

namespace kvd::metrics {

class HttpEndpoint {
  public:
    // `collect` runs on the loop, once per scrape.
    using CollectFn = std::function<std::vector<prometheus::MetricFamily>()>;

    HttpEndpoint(uv_loop_t* loop, CollectFn collect);
    ~HttpEndpoint();
    HttpEndpoint(const HttpEndpoint&) = delete;
    HttpEndpoint& operator=(const HttpEndpoint&) = delete;

    // Listens on `listen` ("HOST:PORT", port 0 for any free one) and serves /metrics; the
    // reason when it cannot (the address is taken, not local, ...).
    std::optional<std::string> start(const std::string& listen);
    // The port it listens on (the one chosen for port 0); 0 when not listening.
    int port() const;
    // Stops serving without blocking the loop; idempotent.
    void close();

  private:
    class Bridge;
    void answer();

    uv_loop_t* loop_;
    CollectFn collect_;
    uv::Handle<uv_async_t> async_;
    std::shared_ptr<Bridge> bridge_;
    std::unique_ptr<prometheus::Exposer> exposer_;
    std::thread stopper_;  // destroys exposer_ after close()
};

}  // namespace kvd::metrics
