// The read end of a FIFO on which a helper started by someone else (kvd's handler,
// supervisord's event listener) reports "KEY NANOSECONDS\n" when an event reached it. The
// helpers write with O_NONBLOCK and drop records rather than ever block their event loop,
// so records matter only while a measurement waits for them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

namespace kvd::bench {

class RecordFifo {
  public:
    // Creates the FIFO at `path` and opens its read end (before the writer starts, so the
    // writer's non-blocking open finds a reader).
    explicit RecordFifo(std::string path);
    ~RecordFifo();
    RecordFifo(const RecordFifo&) = delete;
    RecordFifo& operator=(const RecordFifo&) = delete;

    const std::string& path() const { return path_; }
    // Waits for the record of `key` until `deadline_ns`; nullopt when it did not come.
    std::optional<int64_t> wait_for(const std::string& key, int64_t deadline_ns);
    // Forgets everything read so far and discards what is waiting.
    void drain();

  private:
    void read_available();

    std::string path_;
    int fd_ = -1;
    std::string partial_;
    std::unordered_map<std::string, int64_t> seen_;
};

}  // namespace kvd::bench
