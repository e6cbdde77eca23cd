// The fleet registry on JetStream KV: key = registry_key(bucket), value = one JSON object
// {"bucket","host","pid","boot","kind","since"}. One host's kvd-nats writes only its own
// entries: put on create, deleted on exit only while the entry is still the one this host
// wrote for that pid (a revision-checked delete), reconciled with kvd's `list` at start.
// An entry of another host is never overwritten: the collision is logged and counted.
#pragma once

#include <nats/nats.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace kvd::fleet {

using Json = nlohmann::json;

struct RegistryEntry {
    std::string bucket;
    std::string host;
    int64_t pid = 0;
    std::string boot;
    std::string kind;
    std::string since;
    uint64_t revision = 0;
};

// The entry stored under `key`, or nullopt for a value that is not one.
std::optional<RegistryEntry> parse_registry_value(const std::string& key, std::string_view value,
                                                  uint64_t revision);
std::string registry_value(const RegistryEntry& e);

// One bucket of kvd's `list`.
struct LocalBucket {
    std::string bucket;
    int64_t pid = 0;
    std::string kind;
    std::string started;
};

// Opens the KV bucket `name`, creating it (file storage, history 1, `replicas`) when absent.
// "" on success, else a message.
std::string open_registry(kvStore** kv, jsCtx* js, const std::string& name, int replicas);

// Every entry of the registry (keys that are not registry_key() of a name are skipped).
// "" on success.
std::string read_registry(kvStore* kv, std::vector<RegistryEntry>& out);

class Registry {
  public:
    Registry(std::string host, std::string boot) : host_(std::move(host)), boot_(std::move(boot)) {}
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    // For a boot id learnt after construction.
    void set_boot(std::string boot) { boot_ = std::move(boot); }

    // "" on success, else why: the caller retries later.
    std::string open(jsCtx* js, const std::string& name, int replicas);
    bool is_open() const { return kv_ != nullptr; }
    void close();

    // Each returns "" once the event's effect is decided and stored (or deliberately not
    // stored, for a collision), else the error to retry on.
    std::string on_create(const std::string& bucket, int64_t pid, const std::string& kind,
                          const std::string& since);
    std::string on_exit(const std::string& bucket, int64_t pid);
    // Removes this host's entries that `local` does not hold with the same pid in this boot,
    // and writes those of `local` that are missing.
    std::string reconcile(const std::vector<LocalBucket>& local);

    uint64_t collisions() const { return collisions_; }

  private:
    // Deletes `key` only if its last revision is still `revision`; `raced` tells when it was
    // not (nothing deleted, and "" returned). Else "" or the transport error.
    std::string delete_if_unchanged(const std::string& key, uint64_t revision, bool& raced);

    std::string host_;
    std::string boot_;
    std::string name_;
    jsCtx* js_ = nullptr;
    kvStore* kv_ = nullptr;
    uint64_t collisions_ = 0;
};

}  // namespace kvd::fleet
