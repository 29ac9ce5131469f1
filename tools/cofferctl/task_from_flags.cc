#include "tools/cofferctl/task_from_flags.h"

#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

#include "common/config/proto_duration.h"
#include "common/status/status_macros.h"
#include "tools/cofferctl/command.h"
#include "tools/cofferctl/flags.h"

// What a task is and when it runs.
ABSL_FLAG(std::string, kind, "",
          "Task kind: refresh_balances, refresh_prices, backup or prune (tasks ls: a filter, "
          "comma-separated)");
ABSL_FLAG(absl::Duration, interval, absl::ZeroDuration(),
          "Time between runs, from one start to the next (30s, 5m, 1h); required");
ABSL_FLAG(double, jitter, 0, "Random delay of each run, as a fraction of the interval (0 to 0.5)");
ABSL_FLAG(absl::Duration, first_run_delay, absl::ZeroDuration(),
          "Delay of the first run after creation (0: at once)");
ABSL_FLAG(absl::Duration, run_timeout, absl::ZeroDuration(),
          "A run going longer is cancelled as TIMED_OUT (0: the kind's default, 10m)");
ABSL_FLAG(absl::Duration, starting_deadline, absl::ZeroDuration(),
          "A run that cannot start within this of its time is SKIPPED (0: no limit)");
ABSL_FLAG(int32_t, max_failures, 0,
          "Pause the task after this many FAILED runs in a row (0: never)");
ABSL_FLAG(bool, paused, false, "Create the task paused (triggers still run it)");
ABSL_FLAG(std::string, description, "", "What the task is for, for people");
ABSL_FLAG(int32_t, runs_keep_last, 0, "Keep only this many newest runs of the task (0: all)");
ABSL_FLAG(absl::Duration, runs_keep_for, absl::ZeroDuration(),
          "Delete the task's runs older than this (0: keep)");
// Parameters of the kinds (besides the shared --chain, --tag, --quote, --asset).
ABSL_FLAG(int32_t, batch_size, 0, "refresh_balances: accounts per fetcher call (0: 500)");
ABSL_FLAG(int32_t, batches_in_flight, 0,
          "refresh_balances: fetcher calls in flight per run (0: 4)");
ABSL_FLAG(std::string, block_tag, "",
          "refresh_balances: the block each chain is read at: latest, safe or finalized");
ABSL_FLAG(bool, bypass_cache, false,
          "refresh_balances, refresh_prices: every run bypasses the fetcher's caches");
ABSL_FLAG(std::string, backup_path, "",
          "backup: file path; {time} becomes the run's start (empty: storage's default)");
ABSL_FLAG(int32_t, backup_keep_last, 0, "backup: keep this many newest backups (0: all)");
ABSL_FLAG(absl::Duration, snapshot_max_age, absl::ZeroDuration(),
          "prune: delete snapshots older than this");
ABSL_FLAG(int32_t, snapshot_keep_last, 0, "prune: keep only this many newest snapshots");
ABSL_FLAG(absl::Duration, price_max_age, absl::ZeroDuration(),
          "prune: delete prices older than this (the latest of each is kept)");
namespace coffer::cofferctl {
namespace {

// The kind-specific flags given for another kind are mistakes, not
// silently dropped settings.
absl::Status CheckParamFlags(v1::TaskKind kind) {
  struct ParamFlag {
    const char* name;
    bool set;
    v1::TaskKind kind;
    v1::TaskKind other_kind = v1::TASK_KIND_UNSPECIFIED;
  };
  const ParamFlag flags[] = {
      {"chain", !absl::GetFlag(FLAGS_chain).empty(), v1::TASK_KIND_REFRESH_BALANCES},
      {"tag", !absl::GetFlag(FLAGS_tag).empty(), v1::TASK_KIND_REFRESH_BALANCES},
      {"batch_size", absl::GetFlag(FLAGS_batch_size) != 0, v1::TASK_KIND_REFRESH_BALANCES},
      {"batches_in_flight", absl::GetFlag(FLAGS_batches_in_flight) != 0,
       v1::TASK_KIND_REFRESH_BALANCES},
      {"block_tag", !absl::GetFlag(FLAGS_block_tag).empty(), v1::TASK_KIND_REFRESH_BALANCES},
      {"bypass_cache", absl::GetFlag(FLAGS_bypass_cache), v1::TASK_KIND_REFRESH_BALANCES,
       v1::TASK_KIND_REFRESH_PRICES},
      {"asset", !absl::GetFlag(FLAGS_asset).empty(), v1::TASK_KIND_REFRESH_PRICES},
      {"backup_path", !absl::GetFlag(FLAGS_backup_path).empty(), v1::TASK_KIND_BACKUP},
      {"backup_keep_last", absl::GetFlag(FLAGS_backup_keep_last) != 0, v1::TASK_KIND_BACKUP},
      {"snapshot_max_age", absl::GetFlag(FLAGS_snapshot_max_age) != absl::ZeroDuration(),
       v1::TASK_KIND_PRUNE},
      {"snapshot_keep_last", absl::GetFlag(FLAGS_snapshot_keep_last) != 0, v1::TASK_KIND_PRUNE},
      {"price_max_age", absl::GetFlag(FLAGS_price_max_age) != absl::ZeroDuration(),
       v1::TASK_KIND_PRUNE},
  };
  for (const ParamFlag& flag : flags) {
    if (flag.set && flag.kind != kind && flag.other_kind != kind) {
      return UsageError(
          absl::StrCat("--", flag.name, " does not apply to --kind ", KindName(kind)));
    }
  }
  for (int32_t value :
       {absl::GetFlag(FLAGS_batch_size), absl::GetFlag(FLAGS_batches_in_flight),
        absl::GetFlag(FLAGS_backup_keep_last), absl::GetFlag(FLAGS_snapshot_keep_last),
        absl::GetFlag(FLAGS_runs_keep_last), absl::GetFlag(FLAGS_max_failures)}) {
    if (value < 0) return UsageError("counts must not be negative");
  }
  return absl::OkStatus();
}

absl::Status SetParams(v1::TaskKind kind, v1::Task& task) {
  switch (kind) {
    case v1::TASK_KIND_REFRESH_BALANCES: {
      v1::RefreshBalancesParams& params = *task.mutable_refresh_balances();
      params.set_chain_id(absl::GetFlag(FLAGS_chain));
      for (const std::string& tag : absl::GetFlag(FLAGS_tag)) params.add_tags(tag);
      params.set_batch_size(absl::GetFlag(FLAGS_batch_size));
      params.set_max_batches_in_flight(absl::GetFlag(FLAGS_batches_in_flight));
      params.set_bypass_cache(absl::GetFlag(FLAGS_bypass_cache));
      if (const std::string tag = absl::GetFlag(FLAGS_block_tag); !tag.empty()) {
        v1::BlockTag block;
        if (!v1::BlockTag_Parse(absl::StrCat("BLOCK_TAG_", absl::AsciiStrToUpper(tag)), &block) ||
            block == v1::BLOCK_TAG_UNSPECIFIED) {
          return UsageError("--block_tag must be latest, safe or finalized");
        }
        params.set_block_tag(block);
      }
      break;
    }
    case v1::TASK_KIND_REFRESH_PRICES: {
      v1::RefreshPricesParams& params = *task.mutable_refresh_prices();
      for (absl::string_view quote :
           absl::StrSplit(absl::GetFlag(FLAGS_quote), ',', absl::SkipWhitespace())) {
        params.add_quote_currencies(absl::AsciiStrToLower(quote));
      }
      for (const std::string& asset : absl::GetFlag(FLAGS_asset)) params.add_extra_asset_ids(asset);
      params.set_bypass_cache(absl::GetFlag(FLAGS_bypass_cache));
      break;
    }
    case v1::TASK_KIND_BACKUP:
      task.mutable_backup()->set_path(absl::GetFlag(FLAGS_backup_path));
      task.mutable_backup()->set_keep_last(absl::GetFlag(FLAGS_backup_keep_last));
      break;
    case v1::TASK_KIND_PRUNE: {
      v1::RetentionPolicy& retention = *task.mutable_prune()->mutable_retention();
      if (absl::Duration age = absl::GetFlag(FLAGS_snapshot_max_age); age > absl::ZeroDuration()) {
        *retention.mutable_snapshot_max_age() = config::DurationToProto(age);
      }
      retention.set_snapshot_keep_last(absl::GetFlag(FLAGS_snapshot_keep_last));
      if (absl::Duration age = absl::GetFlag(FLAGS_price_max_age); age > absl::ZeroDuration()) {
        *retention.mutable_price_max_age() = config::DurationToProto(age);
      }
      break;
    }
    default:
      break;
  }
  return absl::OkStatus();
}

}  // namespace

std::string KindName(v1::TaskKind kind) {
  const std::string full = v1::TaskKind_Name(kind);
  const std::string name(absl::StripPrefix(full, "TASK_KIND_"));
  return name.empty() ? "?" : absl::AsciiStrToLower(name);
}

absl::StatusOr<v1::TaskKind> ParseKind(absl::string_view text) {
  std::string name = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  absl::StrReplaceAll({{"-", "_"}}, &name);
  if (!absl::StartsWith(name, "TASK_KIND_")) name = absl::StrCat("TASK_KIND_", name);
  v1::TaskKind kind;
  if (!v1::TaskKind_Parse(name, &kind) || kind == v1::TASK_KIND_UNSPECIFIED) {
    return UsageError(absl::StrCat("--kind \"", text,
                                   "\" is not a kind: refresh_balances, refresh_prices, backup "
                                   "or prune"));
  }
  return kind;
}

absl::StatusOr<v1::Task> TaskFromFlags() {
  if (absl::GetFlag(FLAGS_kind).empty()) return UsageError("--kind is required");
  ASSIGN_OR_RETURN(v1::TaskKind kind, ParseKind(absl::GetFlag(FLAGS_kind)));
  const absl::Duration interval = absl::GetFlag(FLAGS_interval);
  if (interval <= absl::ZeroDuration()) return UsageError("--interval is required (e.g. 5m)");
  for (absl::Duration duration :
       {absl::GetFlag(FLAGS_first_run_delay), absl::GetFlag(FLAGS_run_timeout),
        absl::GetFlag(FLAGS_starting_deadline), absl::GetFlag(FLAGS_runs_keep_for)}) {
    if (duration < absl::ZeroDuration()) return UsageError("durations must not be negative");
  }
  RETURN_IF_ERROR(CheckParamFlags(kind));

  v1::Task task;
  task.set_kind(kind);
  task.set_description(absl::GetFlag(FLAGS_description));
  task.set_paused(absl::GetFlag(FLAGS_paused));
  v1::Schedule& schedule = *task.mutable_schedule();
  *schedule.mutable_interval() = config::DurationToProto(interval);
  schedule.set_jitter(absl::GetFlag(FLAGS_jitter));
  *schedule.mutable_first_run_delay() =
      config::DurationToProto(absl::GetFlag(FLAGS_first_run_delay));
  *schedule.mutable_run_timeout() = config::DurationToProto(absl::GetFlag(FLAGS_run_timeout));
  *schedule.mutable_starting_deadline() =
      config::DurationToProto(absl::GetFlag(FLAGS_starting_deadline));
  schedule.set_max_consecutive_failures(absl::GetFlag(FLAGS_max_failures));
  if (absl::GetFlag(FLAGS_runs_keep_last) > 0 ||
      absl::GetFlag(FLAGS_runs_keep_for) > absl::ZeroDuration()) {
    task.mutable_run_retention()->set_keep_last(absl::GetFlag(FLAGS_runs_keep_last));
    *task.mutable_run_retention()->mutable_keep_for() =
        config::DurationToProto(absl::GetFlag(FLAGS_runs_keep_for));
  }
  RETURN_IF_ERROR(SetParams(kind, task));
  return task;
}

}  // namespace coffer::cofferctl
