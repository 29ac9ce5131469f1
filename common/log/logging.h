// Process-wide logging setup: one spdlog logger per service, installed as
// spdlog's default logger so code anywhere just calls spdlog::info(...).
//
// Usage, in main() after flags are parsed:
//
//   coffer::config::ParseCommandLine(argc, argv, "storage: ...");
//   coffer::log::Init(coffer::log::OptionsFromFlags("storage"));
//   spdlog::info("listening on {}", address);
//
// The level and format come from --log_level (COFFER_LOG_LEVEL) and
// --log_json (COFFER_LOG_JSON). Events go to stderr, one line each: text for
// people (see text_formatter.h) or JSON lines for collectors (see
// json_formatter.h). The level can change while the process runs, through
// SetLevel(), e.g. from an admin RPC.
#ifndef COFFER_COMMON_LOG_LOGGING_H_
#define COFFER_COMMON_LOG_LOGGING_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "spdlog/sinks/sink.h"

namespace coffer::log {

struct Options {
  // The logger's name: the service field of every event ("storage").
  std::string service;
  // A level name accepted by ParseLevel() (level.h).
  std::string level = "info";
  // JSON lines instead of text.
  bool json = false;
  // Where events go; stderr when null. Tests pass a sink that keeps them.
  std::shared_ptr<spdlog::sinks::sink> sink;
};

// Options for `service` from --log_level and --log_json.
Options OptionsFromFlags(std::string service);

// Creates the service's logger from `options` and makes it spdlog's default,
// replacing any earlier one. An unknown level falls back to "info" and says
// so in the log rather than stopping the service: flags reject bad levels
// before this, so one here is a caller's slip not worth a crash.
// Call from main() before starting threads: spdlog reads its default logger
// without a lock, so replacing it races with threads that are logging.
// Tests may call it again between cases.
void Init(const Options& options);

// Sets the level of every spdlog logger and returns the previous level's name.
// INVALID_ARGUMENT naming the accepted levels if `level` is not one.
// Thread-safe, and safe while other threads log.
[[nodiscard]] absl::StatusOr<std::string> SetLevel(absl::string_view level);

// The default logger's level name ("info"). Thread-safe.
std::string GetLevel();

}  // namespace coffer::log

#endif  // COFFER_COMMON_LOG_LOGGING_H_
