#include "services/scheduler/service/dependency_monitor.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include <spdlog/spdlog.h>

#include "common/config/proto_timestamp.h"
#include "common/exec/thread_name.h"
#include "services/scheduler/lease/answer_inbox.h"

namespace coffer::scheduler {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

namespace {

v1::Error ErrorOf(absl::StatusCode code, std::string message) {
  v1::Error error;
  error.set_code(static_cast<v1::Error::Code>(code));
  error.set_message(std::move(message));
  return error;
}

}  // namespace

struct DependencyMonitorAnswer {
  uint64_t round = 0;
  size_t index = 0;
  absl::StatusOr<HealthCheckResponse> reply;
};

struct DependencyMonitor::Inbox : AnswerInbox<DependencyMonitorAnswer> {
  using Answer = DependencyMonitorAnswer;
};

DependencyMonitor::DependencyMonitor(std::vector<Dependency> dependencies,
                                     DependencyMonitorOptions options, WaitableClock* clock,
                                     absl::AnyInvocable<absl::Time()> wall_now, Listener listener)
    : dependencies_(std::move(dependencies)),
      options_(options),
      clock_(clock),
      wall_now_(std::move(wall_now)),
      listener_(std::move(listener)),
      inbox_(std::make_shared<Inbox>()) {
  const google::protobuf::Timestamp now = config::TimeToProto(wall_now_());
  std::lock_guard<std::mutex> lock(mu_);
  for (const Dependency& dependency : dependencies_) {
    State& state = states_.emplace_back();
    state.status.set_name(dependency.name);
    state.status.set_target(dependency.target);
    *state.status.mutable_since() = now;
  }
}

DependencyMonitor::~DependencyMonitor() { Stop(); }

void DependencyMonitor::Start() {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (started_ || stopped_) return;
  started_ = true;
  thread_ = std::thread([this] {
    exec::SetCurrentThreadName("dependency-mon");
    Run();
  });
}

void DependencyMonitor::Stop() {
  inbox_->RequestStop();
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  stopped_ = true;
  if (thread_.joinable()) thread_.join();
}

std::vector<v1::DependencyStatus> DependencyMonitor::Statuses() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<v1::DependencyStatus> statuses;
  statuses.reserve(states_.size());
  for (const State& state : states_) statuses.push_back(state.status);
  return statuses;
}

bool DependencyMonitor::IsServing(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  const State* state = Find(name);
  return state != nullptr && state->status.serving();
}

bool DependencyMonitor::HasBeenServing(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  const State* state = Find(name);
  return state != nullptr && state->ever_serving;
}

const DependencyMonitor::State* DependencyMonitor::Find(std::string_view name) const {
  for (const State& state : states_) {
    if (state.status.name() == name) return &state;
  }
  return nullptr;
}

void DependencyMonitor::Run() {
  uint64_t round = 0;
  size_t outstanding = 0;
  absl::Time next_round = absl::InfinitePast();
  while (!inbox_->Stopping()) {
    const absl::Time now = clock_->Now();
    if (outstanding == 0 && now >= next_round) {
      ++round;
      outstanding = dependencies_.size();
      next_round = now + options_.interval;
      SendRound(round);
    }
    for (Inbox::Answer& answer : inbox_->Take()) {
      if (answer.round != round) continue;
      --outstanding;
      const Dependency& dependency = dependencies_[answer.index];
      bool serving = false;
      std::optional<v1::Error> error;
      if (!answer.reply.ok()) {
        error = ErrorOf(answer.reply.status().code(),
                        absl::StrCat("health check of ", dependency.name, " at ", dependency.target,
                                     " failed: ", answer.reply.status().message()));
      } else if (answer.reply->status() != HealthCheckResponse::SERVING) {
        error =
            ErrorOf(absl::StatusCode::kUnavailable,
                    absl::StrCat(dependency.name, " at ", dependency.target, " reports ",
                                 HealthCheckResponse::ServingStatus_Name(answer.reply->status())));
      } else {
        serving = true;
      }
      if (Record(answer.index, serving, error)) {
        if (serving) {
          spdlog::info("scheduler: {} at {} is SERVING", dependency.name, dependency.target);
        } else {
          spdlog::warn("scheduler: {} is not serving: {}", dependency.name, error->message());
        }
      }
      listener_(dependency.name, serving);
    }
    if (inbox_->Stopping()) break;
    // Every check answers by its deadline, so a round in flight ends by
    // itself; the wakeup comes with each answer and with Stop.
    clock_->WaitUntil(outstanding > 0 ? absl::InfiniteFuture() : next_round, inbox_->wakeup);
  }
}

void DependencyMonitor::SendRound(uint64_t round) {
  HealthCheckRequest request;  // service "": the dependency as a whole
  for (size_t index = 0; index < dependencies_.size(); ++index) {
    dependencies_[index].health->Call(
        &Health::Stub::PrepareAsyncCheck, request,
        [inbox = inbox_, round, index](absl::StatusOr<HealthCheckResponse> reply) {
          inbox->Deliver({.round = round, .index = index, .reply = std::move(reply)});
        },
        {.timeout = options_.timeout});
  }
}

bool DependencyMonitor::Record(size_t index, bool serving, std::optional<v1::Error> error) {
  std::lock_guard<std::mutex> lock(mu_);
  State& state = states_[index];
  const bool first = !state.answered;
  const bool changed = state.status.serving() != serving;
  state.answered = true;
  if (serving) state.ever_serving = true;
  if (error.has_value()) *state.status.mutable_last_error() = *std::move(error);
  if (changed) {
    state.status.set_serving(serving);
    *state.status.mutable_since() = config::TimeToProto(wall_now_());
  }
  return first || changed;
}

}  // namespace coffer::scheduler
