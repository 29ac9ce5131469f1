// Validation of configuration messages with errors that name the field.
//
// A validator walks a parsed config, records every problem it finds against
// the field's path, and returns them all at once: an operator fixing a config
// file wants the whole list, not one error per restart.
//
// Usage:
//
//   absl::Status ValidateFetcherConfig(const FetcherConfig& config) {
//     FieldErrors errors("fetcher.textproto");
//     for (int i = 0; i < config.chains_size(); ++i) {
//       const Chain& chain = config.chains(i);
//       const FieldPath path = FieldPath("chains").Index(i);
//       errors.Check(!chain.id().empty(), path.Field("id"), "must not be empty");
//       for (int j = 0; j < chain.endpoints_size(); ++j) {
//         errors.Check(chain.endpoints(j).url().starts_with("https://"),
//                      path.Field("endpoints").Index(j).Field("url"), "must use https");
//       }
//     }
//     return errors.ToStatus();
//   }
//
// which returns OK, or INVALID_ARGUMENT with
// "fetcher.textproto: chains[2].id: must not be empty; chains[3].endpoints[0].url: must use https".
#ifndef COFFER_COMMON_CONFIG_VALIDATION_H_
#define COFFER_COMMON_CONFIG_VALIDATION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace coffer::config {

// The path of a field inside a message, written the way textproto and
// protobuf's own errors write it: "chains[3].endpoints[0].url". Immutable;
// each step returns a new path, so one prefix can be extended many ways.
class FieldPath {
 public:
  // The path of the message itself (""), for errors about the whole config.
  FieldPath() = default;
  // A top-level field, or a path already written out ("chains[3].endpoints").
  explicit FieldPath(absl::string_view field) : path_(field) {}

  // This path followed by field `name`: "chains[3]" -> "chains[3].id".
  FieldPath Field(absl::string_view name) const;
  // Element `index` of the repeated field at this path: "chains" -> "chains[3]".
  FieldPath Index(int64_t index) const;
  // The value under `key` of the map field at this path:
  // "limits" -> "limits[\"api.example.com\"]".
  FieldPath Key(absl::string_view key) const;

  const std::string& str() const { return path_; }
  bool empty() const { return path_.empty(); }

 private:
  std::string path_;
};

// Collects validation errors, each "path: message", for one config source.
// Not thread-safe: one validator fills one instance.
class FieldErrors {
 public:
  // `source` names what is being validated (usually the config file) and
  // prefixes the status message; empty for no prefix.
  explicit FieldErrors(absl::string_view source = "") : source_(source) {}

  // Records `message` against `path` unless `condition` holds. Returns
  // `condition`, so a validator can skip checks that depend on this one:
  //   if (errors.Check(n > 0, path, "must be positive")) { ... use n ... }
  bool Check(bool condition, const FieldPath& path, absl::string_view message);
  bool Check(bool condition, absl::string_view path, absl::string_view message) {
    return Check(condition, FieldPath(path), message);
  }

  // Records `message` against `path` unconditionally.
  void Add(const FieldPath& path, absl::string_view message);
  void Add(absl::string_view path, absl::string_view message) { Add(FieldPath(path), message); }

  // Records the message of `status` against `path` unless it is OK, for
  // values checked by a parser that already returns a Status (durations,
  // URLs, addresses). Returns status.ok().
  bool CheckOk(const FieldPath& path, const absl::Status& status);

  bool ok() const { return errors_.empty(); }
  // Every error so far, "path: message", in the order recorded.
  const std::vector<std::string>& errors() const { return errors_; }

  // OK if nothing was recorded, otherwise INVALID_ARGUMENT
  // "source: path: message; path: message".
  [[nodiscard]] absl::Status ToStatus() const;

 private:
  std::string source_;
  std::vector<std::string> errors_;
};

}  // namespace coffer::config

#endif  // COFFER_COMMON_CONFIG_VALIDATION_H_
