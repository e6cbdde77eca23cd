// One bucket's log file, log_dir/NAME.log, with size-based rotation: before a write would
// take NAME.log past `max_size`, NAME.log.K-1 … NAME.log.1 move up one (NAME.log.K, the
// oldest, is replaced), NAME.log becomes NAME.log.1 and a new NAME.log is started; with
// keep = 0 the full file is simply removed. Lines are never split across two files.
//
// Writes are plain write(2)s on kvd's loop, one per batch of lines (a regular file takes
// them at once). What a write could not store (a full disk, a missing directory) waits in a
// buffer of kMaxPendingBytes and is tried again at most once a second, at the next line; a
// line that does not fit the buffer is dropped and counted. A failure is logged once, and
// its end once, with the number of lines dropped meanwhile.
//
// The file is opened at the first line (a bucket that writes nothing has no file) and
// reopened by reopen() (SIGHUP: after an outside rotation, the next line goes to a new
// NAME.log).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kvd::logs {

struct FileSettings {
    std::string dir;  // empty: no file
    uint64_t max_size = 10 * 1024 * 1024;
    unsigned keep = 5;
};

class FileSink {
  public:
    static constexpr std::size_t kMaxPendingBytes = 1024 * 1024;

    explicit FileSink(std::string name) : name_(std::move(name)) {}
    ~FileSink();
    FileSink(const FileSink&) = delete;
    FileSink& operator=(const FileSink&) = delete;

    // New settings: a new directory takes effect at the next line (the file is reopened).
    void configure(const FileSettings& settings);
    bool enabled() const { return !settings_.dir.empty(); }

    // Queues one whole line (ending in '\n'); false when it was dropped (buffer full).
    bool add(std::string_view line);
    // Writes what is queued, rotating as needed. `now_ms` paces retries after a failure.
    void flush(uint64_t now_ms);
    // Closes the file; the next write opens log_dir/NAME.log anew.
    void reopen();

    uint64_t dropped() const { return dropped_; }
    std::string path() const;
    std::size_t pending_bytes() const { return pending_.size(); }

  private:
    bool open_file();
    bool rotate();
    void close_file();
    void failed(const std::string& what, int err);

    std::string name_;
    FileSettings settings_;
    int fd_ = -1;
    uint64_t size_ = 0;  // of the open file
    std::string pending_;
    uint64_t dropped_ = 0;
    bool failing_ = false;
    uint64_t dropped_at_failure_ = 0;
    uint64_t retry_at_ms_ = 0;
};

// The path of rotated file `index` (0: the live file): "dir/NAME.log", "dir/NAME.log.1", …
std::string rotated_path(const std::string& dir, std::string_view name, unsigned index);

}  // namespace kvd::logs
