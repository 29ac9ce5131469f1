#include "common/log/logging.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/base/const_init.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "spdlog/logger.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

#include "common/log/fmt_absl.h"
#include "common/log/json_formatter.h"
#include "common/log/level.h"
#include "common/log/text_formatter.h"

ABSL_FLAG(coffer::log::LevelFlag, log_level, coffer::log::LevelFlag{},
          "Least severe level logged: trace, debug, info, warning, error, critical or off.");
ABSL_FLAG(bool, log_json, false,
          "Log JSON lines (ts, level, service, thread, msg) instead of text.");

namespace coffer::log {
namespace {

// Serializes Init and SetLevel, so SetLevel's "previous level" is the level
// it replaced even when two callers race. Logging itself never takes it.
ABSL_CONST_INIT absl::Mutex setup_mutex(absl::kConstInit);

}  // namespace

Options OptionsFromFlags(std::string service) {
  Options options;
  options.service = std::move(service);
  options.level = std::string(LevelName(absl::GetFlag(FLAGS_log_level).level));
  options.json = absl::GetFlag(FLAGS_log_json);
  return options;
}

void Init(const Options& options) {
  absl::MutexLock lock(&setup_mutex);
  std::shared_ptr<spdlog::sinks::sink> sink = options.sink;
  if (sink == nullptr) sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  if (options.json) {
    sink->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    sink->set_formatter(std::make_unique<TextFormatter>());
  }
  auto logger = std::make_shared<spdlog::logger>(options.service, std::move(sink));
  const absl::StatusOr<spdlog::level::level_enum> level = ParseLevel(options.level);
  spdlog::set_default_logger(logger);
  spdlog::set_level(level.ok() ? *level : spdlog::level::info);
  if (!level.ok()) logger->error("{}; logging at info", level.status().message());
}

absl::StatusOr<std::string> SetLevel(absl::string_view level) {
  absl::StatusOr<spdlog::level::level_enum> parsed = ParseLevel(level);
  if (!parsed.ok()) return parsed.status();
  absl::MutexLock lock(&setup_mutex);
  std::string previous(LevelName(spdlog::default_logger()->level()));
  spdlog::set_level(*parsed);
  return previous;
}

std::string GetLevel() { return std::string(LevelName(spdlog::default_logger()->level())); }

}  // namespace coffer::log
