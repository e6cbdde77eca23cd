#include "fleet/registry.hpp"

#include <map>

#include "fleet/connection.hpp"
#include "fleet/log.hpp"
#include "fleet/names.hpp"

namespace kvd::fleet {

namespace {

// A create or update raced with another writer this many times in a row: give up for now.
constexpr int kMaxRaces = 5;

struct EntryGuard {
    kvEntry* e = nullptr;
    ~EntryGuard() {
        if (e != nullptr) kvEntry_Destroy(e);
    }
};

// The entry under `key`: found, absent (nullopt with ""), or an error message.
std::string get_entry(kvStore* kv, const std::string& key, std::optional<RegistryEntry>& out) {
    out.reset();
    EntryGuard g;
    natsStatus s = kvStore_Get(&g.e, kv, key.c_str());
    if (s == NATS_NOT_FOUND) return "";
    if (s != NATS_OK) return "registry get '" + key + "': " + nats_error(s);
    std::string_view value(static_cast<const char*>(kvEntry_Value(g.e)),
                           static_cast<std::size_t>(kvEntry_ValueLen(g.e)));
    out = parse_registry_value(key, value, kvEntry_Revision(g.e));
    if (!out) {
        // Not ours to judge: something else wrote this key. Treat it as another host's.
        RegistryEntry foreign;
        foreign.bucket = bucket_of_key(key).value_or(key);
        foreign.host = "?";
        foreign.revision = kvEntry_Revision(g.e);
        out = foreign;
    }
    return "";
}

}  // namespace

std::optional<RegistryEntry> parse_registry_value(const std::string& key, std::string_view value,
                                                  uint64_t revision) {
    Json j = Json::parse(value, nullptr, false);
    if (!j.is_object()) return std::nullopt;
    RegistryEntry e;
    auto text = [&](const char* name, std::string& out) {
        auto it = j.find(name);
        if (it == j.end() || !it->is_string()) return false;
        out = it->get<std::string>();
        return true;
    };
    if (!text("host", e.host) || !text("boot", e.boot)) return std::nullopt;
    auto pid = j.find("pid");
    if (pid == j.end() || !pid->is_number_integer()) return std::nullopt;
    e.pid = pid->get<int64_t>();
    text("kind", e.kind);
    text("since", e.since);
    if (!text("bucket", e.bucket)) e.bucket = bucket_of_key(key).value_or(key);
    e.revision = revision;
    return e;
}

std::string registry_value(const RegistryEntry& e) {
    return Json{{"bucket", e.bucket}, {"host", e.host}, {"pid", e.pid},
                {"boot", e.boot},     {"kind", e.kind}, {"since", e.since}}
        .dump();
}

std::string open_registry(kvStore** kv, jsCtx* js, const std::string& name, int replicas) {
    natsStatus s = js_KeyValue(kv, js, name.c_str());
    if (s == NATS_OK) return "";
    if (s != NATS_NOT_FOUND) return "cannot open KV bucket '" + name + "': " + nats_error(s);
    kvConfig cfg;
    kvConfig_Init(&cfg);
    cfg.Bucket = name.c_str();
    cfg.Description = "kvd fleet registry: which host runs each bucket";
    cfg.History = 1;
    cfg.StorageType = js_FileStorage;
    cfg.Replicas = replicas;
    s = js_CreateKeyValue(kv, js, &cfg);
    if (s != NATS_OK) return "cannot create KV bucket '" + name + "': " + nats_error(s);
    return "";
}

std::string read_registry(kvStore* kv, std::vector<RegistryEntry>& out) {
    kvKeysList keys;
    natsStatus s = kvStore_Keys(&keys, kv, nullptr);
    if (s == NATS_NOT_FOUND) return "";
    if (s != NATS_OK) return "registry keys: " + nats_error(s);
    std::string error;
    for (int i = 0; i < keys.Count && error.empty(); ++i) {
        std::optional<RegistryEntry> e;
        error = get_entry(kv, keys.Keys[i], e);
        if (e) out.push_back(*e);
    }
    kvKeysList_Destroy(&keys);
    return error;
}

Registry::~Registry() {
    close();
}

void Registry::close() {
    if (kv_ != nullptr) kvStore_Destroy(kv_);
    kv_ = nullptr;
    js_ = nullptr;
}

std::string Registry::open(jsCtx* js, const std::string& name, int replicas) {
    close();
    std::string error = open_registry(&kv_, js, name, replicas);
    if (!error.empty()) {
        kv_ = nullptr;
        return error;
    }
    js_ = js;
    name_ = name;
    return "";
}

std::string Registry::on_create(const std::string& bucket, int64_t pid, const std::string& kind,
                                const std::string& since) {
    const std::string key = registry_key(bucket);
    RegistryEntry mine{bucket, host_, pid, boot_, kind, since, 0};
    const std::string value = registry_value(mine);
    for (int attempt = 0; attempt < kMaxRaces; ++attempt) {
        std::optional<RegistryEntry> current;
        std::string error = get_entry(kv_, key, current);
        if (!error.empty()) return error;
        natsStatus s;
        uint64_t rev = 0;
        if (!current) {
            s = kvStore_Create(&rev, kv_, key.c_str(), value.data(),
                               static_cast<int>(value.size()));
        } else if (current->host == host_) {
            // Ours: an earlier pid of this name, or an entry a previous boot left.
            s = kvStore_Update(&rev, kv_, key.c_str(), value.data(), static_cast<int>(value.size()),
                               current->revision);
        } else {
            ++collisions_;
            log_warn(
                "bucket '{}' is registered by host '{}' (pid {}); this host's pid {} is not "
                "written to the registry (collision {})",
                bucket, current->host, current->pid, pid, collisions_);
            return "";
        }
        if (s == NATS_OK) return "";
        // A lost race is NATS_ERR (the server's "wrong last sequence"): look again. Anything
        // else is a transport problem the caller retries after a pause.
        if (s != NATS_ERR) return "registry write '" + key + "': " + nats_error(s);
    }
    return "registry write '" + key + "': it kept changing under us";
}

std::string Registry::on_exit(const std::string& bucket, int64_t pid) {
    const std::string key = registry_key(bucket);
    for (int attempt = 0; attempt < kMaxRaces; ++attempt) {
        std::optional<RegistryEntry> current;
        std::string error = get_entry(kv_, key, current);
        if (!error.empty()) return error;
        // Gone, or no longer the entry this exit is about (another host's, a later create's).
        if (!current || current->host != host_ || current->boot != boot_ || current->pid != pid)
            return "";
        bool raced = false;
        error = delete_if_unchanged(key, current->revision, raced);
        if (!error.empty() || !raced) return error;
        // Changed between our read and the delete: look again.
    }
    return "registry delete '" + key + "': it kept changing under us";
}

std::string Registry::reconcile(const std::vector<LocalBucket>& local) {
    std::map<std::string, const LocalBucket*> by_name;
    for (const auto& b : local) by_name[b.bucket] = &b;
    std::vector<RegistryEntry> entries;
    std::string error = read_registry(kv_, entries);
    if (!error.empty()) return error;
    std::map<std::string, bool> registered;  // bucket -> held by this host in this boot
    uint64_t removed = 0;
    for (const auto& e : entries) {
        if (e.host != host_) {
            registered[e.bucket] = false;
            continue;
        }
        auto it = by_name.find(e.bucket);
        if (e.boot == boot_ && it != by_name.end() && it->second->pid == e.pid) {
            registered[e.bucket] = true;
            continue;
        }
        bool raced = false;  // then it is no longer the stale entry: leave it
        error = delete_if_unchanged(registry_key(e.bucket), e.revision, raced);
        if (!error.empty()) return error;
        ++removed;
    }
    uint64_t added = 0;
    for (const auto& b : local) {
        auto it = registered.find(b.bucket);
        if (it != registered.end() && it->second) continue;
        error = on_create(b.bucket, b.pid, b.kind, b.started);
        if (!error.empty()) return error;
        ++added;
    }
    log_info(
        "registry reconciled with kvd's list: {} local buckets, {} stale entries removed, "
        "{} written",
        local.size(), removed, added);
    return "";
}

std::string Registry::delete_if_unchanged(const std::string& key, uint64_t revision, bool& raced) {
    natsMsg* msg = nullptr;
    std::string subject = "$KV." + name_ + "." + key;
    natsStatus s = natsMsg_Create(&msg, subject.c_str(), nullptr, nullptr, 0);
    if (s == NATS_OK) s = natsMsgHeader_Set(msg, "KV-Operation", "DEL");
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.ExpectLastSubjectSeq = revision;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    jsPubAck* pa = nullptr;
    if (s == NATS_OK) s = js_PublishMsg(&pa, js_, msg, &po, &jerr);
    if (pa != nullptr) jsPubAck_Destroy(pa);
    natsMsg_Destroy(msg);
    raced = s != NATS_OK && jerr == JSStreamWrongLastSequenceErr;
    if (s == NATS_OK || raced) return "";
    return "registry delete '" + key + "': " + nats_error(s);
}

}  // namespace kvd::fleet
