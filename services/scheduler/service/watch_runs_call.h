// WatchRuns streams (scheduler.proto): each stream first sends the runs
// pending or running when it starts (CURRENT), then every QUEUED, STARTED,
// PROGRESS and FINISHED event of the runs it follows, PROGRESS at most once
// per progress_interval per run, until the client cancels, the watched run
// ends (OK), the stream falls too far behind (RESOURCE_EXHAUSTED), or the
// replica stops being active or shuts down (UNAVAILABLE).
//
//   RunWatches watches({.events = &events,
//                       .current_runs = [&](auto filter, auto done) {
//                         engine.CurrentRuns(std::move(filter), std::move(done)); },
//                       .get_run = [&](const auto& request, auto done) {
//                         engine.GetRun(request, std::move(done)); },
//                       .admit = [&] { return RefusalUnlessActive(); },
//                       .timer = &timer});
//   void HandleWatchRuns(CallContext&, const WatchRunsRequest& request,
//                        ServerWriter<WatchRunsResponse> writer) {
//     watches.Watch(request, std::move(writer));
//   }
//   ...
//   watches.EndAll(absl::UnavailableError("lease lost"));  // from on_lost
//
// A stream's life:
//
//   Watch: progress_interval checked, OnCancel hooked, admitted (else ended
//     |    with admit's status), subscribed to RunEvents (events wait there)
//     v
//   STARTING  current_runs(filter). On its answer (the engine's thread, the
//     |       same one that publishes) what the subscription holds is older
//     |       than the answer and dropped; one CURRENT event per run. A
//     |       run_id that is not among them is looked up with get_run:
//     |       unknown ends NOT_FOUND, ended is sent CURRENT and ends OK.
//     v
//   STREAMING each time the subscription has something: take it, write it
//     |       (PROGRESS held back per run until progress_interval has passed
//     |       since that run's last one, then the latest sent from the timer);
//     |       the watched run's FINISHED ends the stream OK.
//     v
//   ENDED     writer finished, subscription dropped, removed from RunWatches.
//
// RunWatches owns each stream until it ends; everything else (RunEvents'
// ready callback, timers, OnCancel) holds a weak reference, and only the
// answers of current_runs and get_run a strong one. Thread-safe: streams
// are written from the engine's thread, the timer's and pollers, never
// blocking any of them.
#ifndef COFFER_SERVICES_SCHEDULER_SERVICE_WATCH_RUNS_CALL_H_
#define COFFER_SERVICES_SCHEDULER_SERVICE_WATCH_RUNS_CALL_H_

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/duration.pb.h"

#include "coffer/v1/scheduler.pb.h"
#include "common/grpc/server_stream_call.h"
#include "services/scheduler/engine/run_events.h"
#include "services/scheduler/runs/run_backends.h"
#include "services/scheduler/service/timer_thread.h"

namespace coffer::scheduler {

// progress_interval when the request leaves it 0, and the least it may be.
inline constexpr absl::Duration kDefaultProgressInterval = absl::Milliseconds(500);
inline constexpr absl::Duration kMinProgressInterval = absl::Milliseconds(100);

// The request's progress_interval: 0 is the default; below the minimum (or
// negative) is INVALID_ARGUMENT naming the field, rather than clamped, so a
// client that asks for more than it can get learns it.
absl::StatusOr<absl::Duration> ProgressIntervalOf(const google::protobuf::Duration& interval);

// Where streams get their runs: the task engine in the service, fakes in
// tests. Each is called from any thread and must not block.
struct RunWatchSources {
  RunEvents* events = nullptr;
  // The runs pending or running now that match the filter
  // (TaskEngine::CurrentRuns); answered on the thread that publishes to
  // `events`, with nothing published between the snapshot and the answer.
  absl::AnyInvocable<void(RunEvents::Filter, absl::AnyInvocable<void(std::vector<v1::Run>) &&>)
                         const>
      current_runs;
  // One run, live or stored (TaskEngine::GetRun); NOT_FOUND if unknown.
  absl::AnyInvocable<void(const v1::GetRunRequest&, Answer<v1::GetRunResponse>) const> get_run;
  // OK when this replica may serve a stream now; otherwise the status the
  // stream ends with at once (a standby's UNAVAILABLE).
  absl::AnyInvocable<absl::Status() const> admit = [] { return absl::OkStatus(); };
  // Runs held PROGRESS events; its clock is the scheduler's, and stamps
  // CURRENT events. Must outlive every stream.
  TimerThread* timer = nullptr;
};

class WatchRunsCall;

class RunWatches {
 public:
  explicit RunWatches(RunWatchSources sources);
  // Ends what is left UNAVAILABLE.
  ~RunWatches();

  RunWatches(const RunWatches&) = delete;
  RunWatches& operator=(const RunWatches&) = delete;

  // Starts one WatchRuns stream, as described above. On a polling thread.
  void Watch(const v1::WatchRunsRequest& request,
             grpc_util::ServerWriter<v1::WatchRunsResponse> writer);

  // Ends every stream going now with `status`; later ones start as usual
  // (the replica may become active again). Any thread.
  void EndAll(const absl::Status& status);

  // EndAll, and every later stream ends with `status` at once (shutdown).
  void Close(const absl::Status& status);

  // Streams going now.
  size_t size() const;

 private:
  void Remove(const WatchRunsCall* call);

  const RunWatchSources sources_;
  mutable std::mutex mu_;
  std::map<const WatchRunsCall*, std::shared_ptr<WatchRunsCall>> live_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> closed_ ABSL_GUARDED_BY(mu_);
};

}  // namespace coffer::scheduler

#endif  // COFFER_SERVICES_SCHEDULER_SERVICE_WATCH_RUNS_CALL_H_
