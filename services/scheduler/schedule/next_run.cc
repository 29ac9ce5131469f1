#include "services/scheduler/schedule/next_run.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

#include "common/config/proto_duration.h"
#include "services/scheduler/schedule/schedule_boundaries.h"

namespace coffer::scheduler {
namespace {

bool IsContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

std::string PauseNote(uint32_t failures, absl::string_view last_error) {
  std::string note = absl::StrCat("paused after ", failures, " consecutive failed runs");
  if (!last_error.empty()) absl::StrAppend(&note, "; last error: ", last_error);
  return TruncateUtf8(note, kMaxPauseNoteBytes);
}

}  // namespace

absl::Duration BackoffDelay(const BackoffPolicy& backoff, uint32_t failures) {
  if (failures <= 1 || backoff.multiplier <= 1) return std::min(backoff.initial, backoff.max);
  // Compared as a ratio before multiplying, so a huge power (or inf) can
  // only select max, never reach absl::Duration arithmetic.
  const double factor = std::pow(backoff.multiplier, static_cast<double>(failures - 1));
  const double cap = absl::FDivDuration(backoff.max, backoff.initial);
  if (!(factor < cap)) return backoff.max;
  return absl::Trunc(backoff.initial * factor, absl::Nanoseconds(1));
}

std::string TruncateUtf8(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t end = max_bytes;
  // text[end] is the first byte cut off; if it continues a sequence, that
  // sequence's lead byte and the rest of it go too.
  while (end > 0 && IsContinuationByte(text[end])) --end;
  return std::string(text.substr(0, end));
}

absl::StatusOr<NextRun> ComputeNextRun(const v1::Schedule& schedule, uint32_t consecutive_failures,
                                       const FinishedRun& run, absl::Time now,
                                       JitterSource& jitter) {
  const absl::Duration interval = config::DurationFromProto(schedule.interval());
  NextRun next;
  next.consecutive_failures = consecutive_failures;
  switch (run.state) {
    case v1::RUN_STATE_SUCCEEDED:
    case v1::RUN_STATE_PARTIAL:
      next.consecutive_failures = 0;
      next.next_run_time = run.started_at + interval;
      break;
    case v1::RUN_STATE_FAILED:
    case v1::RUN_STATE_TIMED_OUT: {
      if (consecutive_failures < std::numeric_limits<uint32_t>::max()) {
        ++next.consecutive_failures;
      }
      next.next_run_time =
          run.finished_at + BackoffDelay(EffectiveBackoff(schedule), next.consecutive_failures);
      const uint32_t limit = schedule.max_consecutive_failures();
      if (limit > 0 && next.consecutive_failures >= limit) {
        next.pause = true;
        next.pause_note = PauseNote(next.consecutive_failures, run.error_message);
      }
      break;
    }
    case v1::RUN_STATE_CANCELLED:
    case v1::RUN_STATE_SKIPPED:
    case v1::RUN_STATE_ABANDONED:
      next.next_run_time =
          FirstBoundaryAtOrAfter(run.scheduled_for, interval, now, /*min_steps=*/1).time;
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("run state ", v1::RunState_Name(run.state),
                                                     " is not a finished run's state"));
  }
  next.next_run_time += JitterDelay(interval, schedule.jitter(), jitter);
  return next;
}

}  // namespace coffer::scheduler
