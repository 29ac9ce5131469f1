#include "services/scheduler/service/watch_runs_call.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

#include "common/config/proto_duration.h"
#include "common/config/proto_timestamp.h"

namespace coffer::scheduler {

using Event = v1::WatchRunsResponse;
using Writer = grpc_util::ServerWriter<Event>;

namespace {

bool IsTerminal(v1::RunState state) {
  return state != v1::RUN_STATE_UNSPECIFIED && state != v1::RUN_STATE_PENDING &&
         state != v1::RUN_STATE_RUNNING;
}

}  // namespace

absl::StatusOr<absl::Duration> ProgressIntervalOf(const google::protobuf::Duration& interval) {
  const absl::Duration value = config::DurationFromProto(interval);
  if (value == absl::ZeroDuration()) return kDefaultProgressInterval;
  if (value < kMinProgressInterval) {
    return absl::InvalidArgumentError(absl::StrCat(
        "progress_interval: ", absl::FormatDuration(value), " is below the minimum of ",
        absl::FormatDuration(kMinProgressInterval), " (0 takes the default of ",
        absl::FormatDuration(kDefaultProgressInterval), ")"));
  }
  return value;
}

// One WatchRuns stream; see the header for its life. Every member function
// runs with a strong reference held by its caller, so the RunWatches entry
// dropped by an end never frees the object under its own feet.
class WatchRunsCall : public std::enable_shared_from_this<WatchRunsCall> {
 public:
  WatchRunsCall(const RunWatchSources& sources, RunEvents::Filter filter, absl::Duration interval,
                Writer writer, absl::AnyInvocable<void(const WatchRunsCall*)> on_end)
      : sources_(sources),
        filter_(std::move(filter)),
        interval_(interval),
        writer_(std::make_unique<Writer>(std::move(writer))),
        on_end_(std::move(on_end)) {}

  grpc_util::CallContext& context() { return writer_->context(); }

  // STARTING: subscribes, then asks for the current runs.
  void Begin() {
    std::weak_ptr<WatchRunsCall> weak = weak_from_this();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (phase_ == Phase::kEnded) return;
      subscription_ = sources_.events->Subscribe(filter_, [weak] {
        if (std::shared_ptr<WatchRunsCall> call = weak.lock()) call->OnEventsReady();
      });
      // Events are taken only when the writer has sent everything before
      // them, so a slow client's backlog stays in the subscription, where
      // progress is merged and the limit applies.
      writer_->OnIdle([weak] {
        if (std::shared_ptr<WatchRunsCall> call = weak.lock()) call->OnEventsReady();
      });
    }
    sources_.current_runs(filter_, [self = shared_from_this()](std::vector<v1::Run> runs) {
      self->OnCurrentRuns(std::move(runs));
    });
  }

  void End(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    EndLocked(std::move(status));
  }

  bool ended() const {
    std::lock_guard<std::mutex> lock(mu_);
    return phase_ == Phase::kEnded;
  }

 private:
  enum class Phase { kStarting, kStreaming, kEnded };

  // A run's PROGRESS pacing.
  struct Pace {
    absl::Time last_sent = absl::InfinitePast();
    std::optional<Event> held;
    bool timer_set = false;
  };

  void OnCurrentRuns(std::vector<v1::Run> runs) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (phase_ != Phase::kStarting) return;
      // Published before the snapshot, on this same thread: already in it.
      subscription_->Take();
      bool watched_is_current = filter_.run_id.empty();
      for (const v1::Run& run : runs) {
        if (run.run_id() == filter_.run_id) watched_is_current = true;
      }
      if (watched_is_current) {
        for (const v1::Run& run : runs) {
          if (!WriteLocked(Current(run))) return;
        }
        phase_ = Phase::kStreaming;
        DrainLocked();
        return;
      }
    }
    // Not under mu_: the answer may come before get_run returns.
    v1::GetRunRequest request;
    request.set_run_id(filter_.run_id);
    sources_.get_run(request,
                     [self = shared_from_this()](absl::StatusOr<v1::GetRunResponse> reply) {
                       self->OnStoredRun(std::move(reply));
                     });
  }

  void OnStoredRun(absl::StatusOr<v1::GetRunResponse> reply) {
    std::lock_guard<std::mutex> lock(mu_);
    if (phase_ != Phase::kStarting) return;
    if (!reply.ok()) {
      EndLocked(reply.status());
      return;
    }
    if (!WriteLocked(Current(reply->run()))) return;
    if (IsTerminal(reply->run().state())) {
      EndLocked(absl::OkStatus());
      return;
    }
    phase_ = Phase::kStreaming;
    DrainLocked();
  }

  void OnEventsReady() {
    std::lock_guard<std::mutex> lock(mu_);
    if (phase_ == Phase::kStreaming) DrainLocked();
  }

  void OnProgressDue(const std::string& run_id) {
    std::lock_guard<std::mutex> lock(mu_);
    if (phase_ != Phase::kStreaming) return;
    auto pace = paces_.find(run_id);
    if (pace == paces_.end()) return;
    pace->second.timer_set = false;
    if (!pace->second.held.has_value()) return;
    Event event = *std::move(pace->second.held);
    pace->second.held.reset();
    pace->second.last_sent = sources_.timer->clock().Now();
    WriteLocked(std::move(event));
  }

  Event Current(const v1::Run& run) const {
    Event event;
    event.set_type(Event::CURRENT);
    *event.mutable_run() = run;
    *event.mutable_time() = config::TimeToProto(sources_.timer->clock().Now());
    return event;
  }

  void DrainLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (subscription_->overflowed()) {
      EndLocked(absl::ResourceExhaustedError(
          "this stream fell too far behind the run events; watch again"));
      return;
    }
    if (!writer_->Idle()) return;  // OnIdle drains again
    for (Event& event : subscription_->Take()) {
      if (phase_ == Phase::kEnded) return;
      DeliverLocked(std::move(event));
    }
  }

  void DeliverLocked(Event event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const std::string run_id = event.run().run_id();
    if (event.type() == Event::PROGRESS) {
      const absl::Time now = sources_.timer->clock().Now();
      Pace& pace = paces_[run_id];
      if (now - pace.last_sent >= interval_) {
        pace.last_sent = now;
        pace.held.reset();
        WriteLocked(std::move(event));
        return;
      }
      pace.held = std::move(event);
      if (!pace.timer_set) {
        pace.timer_set = true;
        sources_.timer->RunAt(pace.last_sent + interval_, [weak = weak_from_this(), run_id] {
          if (std::shared_ptr<WatchRunsCall> call = weak.lock()) call->OnProgressDue(run_id);
        });
      }
      return;
    }
    if (event.type() == Event::FINISHED) {
      // The final record carries the final progress: held progress is stale.
      paces_.erase(run_id);
      if (!WriteLocked(std::move(event))) return;
      if (run_id == filter_.run_id) EndLocked(absl::OkStatus());
      return;
    }
    WriteLocked(std::move(event));
  }

  // False (and the stream ended) once the client is gone.
  bool WriteLocked(Event event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writer_->Write(std::move(event))) return true;
    EndLocked(absl::CancelledError("the client went away"));
    return false;
  }

  void EndLocked(absl::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (phase_ == Phase::kEnded) return;
    phase_ = Phase::kEnded;
    subscription_.reset();
    paces_.clear();
    // Finish never calls back into this object; the writer's reference to
    // the gRPC call goes with it.
    writer_->Finish(std::move(status));
    writer_.reset();
    on_end_(this);
  }

  const RunWatchSources& sources_;
  const RunEvents::Filter filter_;
  const absl::Duration interval_;

  mutable std::mutex mu_;
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kStarting;
  std::unique_ptr<Writer> writer_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<RunEvents::Subscription> subscription_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Pace> paces_ ABSL_GUARDED_BY(mu_);
  absl::AnyInvocable<void(const WatchRunsCall*)> on_end_ ABSL_GUARDED_BY(mu_);
};

RunWatches::RunWatches(RunWatchSources sources) : sources_(std::move(sources)) {}

RunWatches::~RunWatches() { Close(absl::UnavailableError("the scheduler is shutting down")); }

void RunWatches::Watch(const v1::WatchRunsRequest& request, Writer writer) {
  absl::StatusOr<absl::Duration> interval = ProgressIntervalOf(request.progress_interval());
  if (!interval.ok()) {
    writer.Finish(interval.status());
    return;
  }
  auto call = std::make_shared<WatchRunsCall>(
      sources_, RunEvents::Filter{.task_id = request.task_id(), .run_id = request.run_id()},
      *interval, std::move(writer), [this](const WatchRunsCall* ended) { Remove(ended); });
  // Hooked before anything else can end the stream: once ended, the gRPC
  // call (and its context) may be gone.
  call->context().OnCancel([weak = std::weak_ptr<WatchRunsCall>(call)] {
    if (std::shared_ptr<WatchRunsCall> cancelled = weak.lock()) {
      cancelled->End(absl::CancelledError("the client cancelled the watch"));
    }
  });
  std::optional<absl::Status> closed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed = closed_;
    if (!closed.has_value()) live_.emplace(call.get(), call);
  }
  if (closed.has_value()) {
    call->End(*std::move(closed));
    return;
  }
  // Ended by the cancel hook before it was added: its removal came first.
  if (call->ended()) {
    Remove(call.get());
    return;
  }
  if (absl::Status admitted = sources_.admit(); !admitted.ok()) {
    call->End(std::move(admitted));
    return;
  }
  call->Begin();
}

void RunWatches::EndAll(const absl::Status& status) {
  std::map<const WatchRunsCall*, std::shared_ptr<WatchRunsCall>> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    live = live_;
  }
  for (auto& [key, call] : live) call->End(status);
}

void RunWatches::Close(const absl::Status& status) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = status;
  }
  EndAll(status);
}

size_t RunWatches::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_.size();
}

void RunWatches::Remove(const WatchRunsCall* call) {
  std::shared_ptr<WatchRunsCall> removed;  // freed outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(call);
  if (it == live_.end()) return;
  removed = std::move(it->second);
  live_.erase(it);
}

}  // namespace coffer::scheduler
