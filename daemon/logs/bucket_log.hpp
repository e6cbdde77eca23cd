// The captured output of one bucket, by name: it outlives the bucket's processes, so a
// bucket started again under the same name (a restart, or a `create` after an exit) goes on
// with the same history. The registry's LogSet (log_set.hpp) owns every BucketLog and
// attaches to it the Captures of each new process's pipes.
//
// Each line goes to the ring (`logs`), to the listeners (`logs follow` connections), to
// log_dir/NAME.log when [bucket] log_dir is set, and to the journal when log_journal is true.
//
// Loss (`dropped`): lines kvd cut (longer than kMaxLineBytes), lines the file could not take
// (its buffer full while the disk refused writes), and lines the journal refused. Lines
// the ring let go to make room for newer ones are not loss, and none is lost between the
// pipe and kvd: a bucket that writes faster than kvd reads waits on its full pipe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/logs/file_sink.hpp"
#include "daemon/logs/log_line.hpp"
#include "daemon/logs/ring.hpp"
#include "daemon/ops/host.hpp"

namespace kvd::logs {

class Capture;

// [bucket] log_* as the logs use them.
struct LogSettings {
    FileSettings file;
    std::size_t buffer = 256 * 1024;
    bool journal = false;
};

// Someone following the log (a `logs follow` connection).
class LogListener {
  public:
    // A new line; `json_line` is its follow_line().
    virtual void on_log_line(const LogEntry& entry, const std::string& json_line) = 0;
    // No more lines will come: the bucket is gone and its pipes are drained, or the log goes
    // away. The listener is no longer registered when this is called.
    virtual void on_log_end() = 0;

  protected:
    ~LogListener() = default;
};

class BucketLog final : public OpLog {
  public:
    BucketLog(std::string name, const LogSettings& settings);
    ~BucketLog();
    BucketLog(const BucketLog&) = delete;
    BucketLog& operator=(const BucketLog&) = delete;

    void configure(const LogSettings& settings);

    const std::string& bucket() const override { return name_; }
    std::vector<const LogEntry*> tail(std::size_t n, std::optional<Stream> only) const override {
        return ring_.tail(n, only);
    }
    uint64_t dropped() const override { return cut_ + file_.dropped() + journal_dropped_; }
    uint64_t cut() const { return cut_; }
    bool uncaptured(Stream stream) const override { return uncaptured_[index(stream)]; }
    void set_uncaptured(Stream stream, bool uncaptured) { uncaptured_[index(stream)] = uncaptured; }
    const LogRing& ring() const { return ring_; }

    // One line of output: `raw` bytes, after which `cut_bytes` were discarded.
    void append(Stream stream, std::string_view raw, std::size_t cut_bytes, WallTime time);
    // Hands what the file sink holds to the file (after a batch of lines).
    void flush(uint64_t now_ms) { file_.flush(now_ms); }
    void reopen_file() { file_.reopen(); }

    // A process of this bucket runs (again) / the bucket left the registry.
    void set_live(bool live);
    bool live() const { return live_; }
    // Gone, with every capture drained: nothing more will be appended until it is live again.
    bool ended() const { return !live_ && captures_.empty(); }

    void add_capture(std::unique_ptr<Capture> capture);
    // From a capture at the end of its pipe: destroys it.
    void capture_ended(Capture* capture);

    void add_listener(LogListener* listener);
    void remove_listener(LogListener* listener);
    std::size_t listener_count() const;

  private:
    static std::size_t index(Stream stream) { return stream == Stream::out ? 0 : 1; }
    void send_to_journal(const LogEntry& entry);
    void end_listeners_if_ended();

    std::string name_;
    LogSettings settings_;
    LogRing ring_;
    FileSink file_;
    uint64_t cut_ = 0;
    uint64_t journal_dropped_ = 0;
    bool journal_failing_ = false;
    bool uncaptured_[2] = {false, false};
    bool live_ = false;
    std::vector<std::unique_ptr<Capture>> captures_;
    // Null slots are listeners removed while lines were being handed out; swept after.
    std::vector<LogListener*> listeners_;
    bool notifying_ = false;
};

}  // namespace kvd::logs
