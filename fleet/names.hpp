// Names on the NATS side of the fleet: subject tokens, KV keys and message ids built from
// kvd's names. Pure code, unit-tested.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kvd::fleet {

// `text` as one NATS subject token: every byte outside A-Z a-z 0-9 _ - becomes '_' (so
// '.', '*', '>', spaces and non-ASCII never reach a subject); an empty text becomes "_".
// Several texts can map to one token: the payload always carries the original.
std::string subject_token(std::string_view text);

// `kvd.HOST.TYPE`, both parts made subject tokens.
std::string event_subject(std::string_view host, std::string_view type);
// `kvdctl.HOST`: where a host's kvd-nats serves control requests. Deliberately outside
// `kvd.>`: a subject there would be captured by the KVD_EVENTS stream, which would store every
// request and answer it with a PubAck before kvd-nats could (and an event of a custom type
// "ctl" would arrive as a request).
std::string control_subject(std::string_view host);

// The KV key for a bucket name. kvd's names are 1-128 bytes of A-Z a-z 0-9 . _ : -; KV keys
// allow A-Z a-z 0-9 - _ / = and '.' only between non-empty tokens. The key escapes '=' ':' '.'
// and any other byte outside A-Z a-z 0-9 - _ as "=XX" (two upper-case hex digits), so that
// every key is one token and the mapping is reversible: "a.b:c" -> "a=2Eb=3Ac".
std::string registry_key(std::string_view bucket);
// The bucket name of a key made by registry_key(); nullopt for a key it cannot have made.
std::optional<std::string> bucket_of_key(std::string_view key);

// HOST:BOOT:SEQ, the Nats-Msg-Id of an event.
std::string message_id(std::string_view host, std::string_view boot, uint64_t seq);

}  // namespace kvd::fleet
