// Structured configuration from textproto files.
//
// Services keep their structured settings (chains, endpoints, limits) in
// proto messages written as text. Loading one is strict: an unknown field is
// an error rather than silently ignored, because a misspelt setting that
// quietly keeps its default is the hardest configuration bug to find. Every
// error is prefixed "file:line:col: " so an editor can jump to it.
//
// Usage:
//
//   coffer::v1::FetcherConfig config;
//   absl::Status status = coffer::config::LoadTextProto(path, &config);
//   if (!status.ok()) { ... }  // "fetcher.textproto:3:7: Message type ..."
//
// Validation of the values themselves belongs to the caller (see
// validation.h); this layer only checks syntax and field names.
#ifndef COFFER_COMMON_CONFIG_TEXTPROTO_H_
#define COFFER_COMMON_CONFIG_TEXTPROTO_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace coffer::config {

// Reads the file at `path` and parses it into `out` (which is cleared first).
// Errors: NOT_FOUND naming the path if the file does not exist, another code
// mapped from errno if it cannot be read, INVALID_ARGUMENT with
// "path:line:col: message" for every parse error.
[[nodiscard]] absl::Status LoadTextProto(const std::string& path, google::protobuf::Message* out);

// Parses `text` into `out` (which is cleared first). `source_name` stands for
// the file name in error messages; lines and columns count from 1.
[[nodiscard]] absl::Status ParseTextProto(absl::string_view text, absl::string_view source_name,
                                          google::protobuf::Message* out);

}  // namespace coffer::config

#endif  // COFFER_COMMON_CONFIG_TEXTPROTO_H_
