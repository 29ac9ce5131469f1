// load_generator: load for coffer.v1.Admin/Ping, closed-loop or paced,
// built on coffer's own async client (AsyncClient over ClientQueues).
//
//   load_generator --target=127.0.0.1:50051 --concurrency=64 --duration=5s
//                  --warmup=1s --payload_bytes=0 [--server_pid=1234] [--rate=20000]
//
// prints one line of JSON:
//
//   {"qps":41234.5,"p50_us":1480.2,"p99_us":3012.9,"calls":206172,"errors":0,...}
//
// Closed loop (the default): `--concurrency` slots each keep exactly one
// call in flight and start the next as soon as the previous one answers, so
// the offered load follows the server's speed and latency is measured
// without queueing in the generator.
//
// Paced (`--rate`): each slot instead waits for its next turn (a grpc::Alarm
// on its queue; after a slow reply it calls at once and does not catch up),
// so the server sees the same load whatever its speed, and its CPU time per
// call compares two servers doing the same work under the same arrivals. At
// the end the generator waits for every slot's alarm: at most one period,
// concurrency / rate.
//
// The slots are spread over `--channels` channels, each its own TCP
// connection (a local subchannel pool and a distinct channel argument keep
// gRPC from sharing one), and the channels over `--client_queues`
// ClientQueues, each with its own poller thread.
//
// Phases: after a first Ping on every channel (waiting for the server up to
// --connect_timeout), `--warmup` runs unmeasured, then `--duration` is
// measured: every call that completes inside the window counts towards QPS
// and contributes its latency (from just before Call to the start of its
// callback, on the steady clock). Every sample is kept and the percentiles
// are exact nearest-rank ones. Errors are counted in every phase.
//
// With --server_pid the server's CPU time during the window is read from
// /proc and reported per call, which says how much work the server spends on
// a call even when the client, sharing the machine, limits the QPS; and the
// CPU the rest of the machine used meanwhile (other_cpu_cores), which tells
// a clean run from one disturbed by a neighbour.
//
// Exit status: 0, or 1 when any call failed (the JSON is printed anyway),
// or 2 for bad flags or an unreachable server.
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include "coffer/v1/admin.grpc.pb.h"
#include "common/grpc/async_client.h"
#include "common/grpc/client_queue.h"
#include "common/grpc/completion_tag.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "HOST:PORT of the server under test");
ABSL_FLAG(int, concurrency, 1, "Calls kept in flight at all times");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5), "Measured time");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1), "Unmeasured time before the measurement");
ABSL_FLAG(int, payload_bytes, 0, "Bytes of payload in each PingRequest (echoed back)");
ABSL_FLAG(int, channels, 0, "Channels (TCP connections); 0: min(concurrency, 4)");
ABSL_FLAG(int, client_queues, 0,
          "ClientQueues (poller threads); 0: min(channels, CPUs this process may run on)");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(10),
          "How long the first Ping on each channel waits for the server");
ABSL_FLAG(absl::Duration, call_timeout, absl::Seconds(10), "Deadline of every call");
ABSL_FLAG(int, server_pid, 0, "When set, report this process's CPU time per call");
ABSL_FLAG(double, rate, 0,
          "Paced load: calls per second in all, spread evenly over the --concurrency slots (a "
          "slot waits for its turn after each reply); 0: closed loop, a slot calls again at once");
ABSL_FLAG(bool, mutex_deadlock_detection, true,
          "Leave Abseil's Mutex deadlock detection as the library was built. Debian builds Abseil "
          "without NDEBUG, so it is on, and every absl::Mutex lock (gRPC takes dozens per call) "
          "updates a global lock graph; false turns it off for this process");

namespace coffer::bench {
namespace {

using Clock = std::chrono::steady_clock;
using v1::Admin;
using v1::PingRequest;
using v1::PingResponse;

// CPU time (user + system) of process `pid` (0: this one) so far, from
// /proc/<pid>/stat; nullopt when it cannot be read.
std::optional<double> CpuSeconds(int pid) {
  std::ifstream file(pid == 0 ? std::string("/proc/self/stat")
                              : absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(file, line)) return std::nullopt;
  // The command name, field 2, is in parentheses and may hold spaces.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  // Fields from 3 (state) on; utime and stime are fields 14 and 15.
  double ticks = 0;
  for (int index = 3; index <= 15 && fields >> field; ++index) {
    if (index >= 14) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// CPU time the whole machine spent busy so far (every CPU; steal counts as
// busy, since another guest had the CPU), from /proc/stat.
std::optional<double> MachineBusySeconds() {
  std::ifstream file("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  if (!(file >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) ||
      cpu != "cpu") {
    return std::nullopt;
  }
  return (user + nice + system + irq + softirq + steal) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

int AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) {
    return std::max(1u, std::thread::hardware_concurrency());
  }
  return std::max(1, CPU_COUNT(&set));
}

// Nearest-rank percentile of sorted `samples`: the smallest value with at
// least a fraction `q` of the samples at or below it.
int64_t Percentile(const std::vector<int64_t>& samples, double q) {
  if (samples.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(samples.size())));
  return samples[std::clamp<size_t>(rank, 1, samples.size()) - 1];
}

class LoadGenerator {
 public:
  struct Options {
    std::string target;
    int concurrency;
    int channels;
    int client_queues;
    int payload_bytes;
    absl::Duration call_timeout;
    // Calls per second in all; 0: closed loop.
    double rate = 0;
  };

  explicit LoadGenerator(const Options& options) : options_(options) {
    call_options_.timeout = options.call_timeout;
    for (int i = 0; i < options.client_queues; ++i) {
      queues_.push_back(std::make_unique<grpc_util::ClientQueue>(absl::StrCat("bench-cq-", i)));
      stats_.push_back(std::make_unique<QueueStats>());
    }
    for (int i = 0; i < options.channels; ++i) {
      grpc::ChannelArguments args;
      // A channel of its own subchannels, and an argument no other channel
      // has: each channel is its own connection, not one shared by all.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetInt("coffer.bench.channel_index", i);
      auto channel =
          grpc::CreateCustomChannel(options.target, grpc::InsecureChannelCredentials(), args);
      int queue = i % options.client_queues;
      clients_.push_back({std::make_unique<grpc_util::AsyncClient<Admin>>(
                              std::move(channel), queues_[queue].get(), options.call_timeout),
                          queue});
    }
    for (int i = 0; i < options.concurrency; ++i) {
      slots_.push_back(std::make_unique<Slot>(this, &clients_[i % options.channels]));
      slots_.back()->request.set_payload(std::string(options.payload_bytes, 'x'));
    }
    if (options.rate > 0) {
      slot_period_ = std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(options.concurrency / options.rate));
    }
  }

  // Waits until every channel has answered one Ping.
  absl::Status Connect(absl::Duration timeout) {
    grpc_util::CallOptions options;
    options.timeout = timeout;
    options.wait_for_ready = true;
    for (auto& client : clients_) {
      absl::StatusOr<PingResponse> reply =
          client.client->CallBlocking(&Admin::Stub::PrepareAsyncPing, PingRequest(), options);
      if (!reply.ok()) return reply.status();
    }
    return absl::OkStatus();
  }

  // Starts every slot's first call (paced: staggered over one period);
  // they keep going until Stop.
  void Start() {
    in_flight_.store(static_cast<int>(slots_.size()));
    const Clock::time_point now = Clock::now();
    const auto count = static_cast<int64_t>(slots_.size());
    for (int64_t i = 0; i < count; ++i) {
      Slot& slot = *slots_[i];
      slot.due = now + slot_period_ * i / count;
      WaitUntilDue(slot);
    }
  }

  void BeginMeasurement() {
    measure_start_ = Clock::now();
    phase_.store(Phase::kMeasure, std::memory_order_release);
  }

  // Ends the window; returns when every slot's last call has come back.
  void Stop() {
    phase_.store(Phase::kStop, std::memory_order_release);
    measure_end_ = Clock::now();
    stopped_.WaitForNotification();
  }

  double window_seconds() const {
    return std::chrono::duration<double>(measure_end_ - measure_start_).count();
  }

  // After Stop: every latency in nanoseconds, sorted; errors; first error.
  std::vector<int64_t> SortedSamples() const {
    std::vector<int64_t> all;
    for (const auto& stats : stats_) {
      all.insert(all.end(), stats->samples.begin(), stats->samples.end());
    }
    std::sort(all.begin(), all.end());
    return all;
  }
  uint64_t errors() const {
    uint64_t errors = 0;
    for (const auto& stats : stats_) errors += stats->errors;
    return errors;
  }
  std::string first_error() const {
    for (const auto& stats : stats_) {
      if (!stats->first_error.empty()) return stats->first_error;
    }
    return "";
  }

 private:
  enum class Phase { kWarmup, kMeasure, kStop };

  struct Client {
    std::unique_ptr<grpc_util::AsyncClient<Admin>> client;
    int queue;
  };

  // One call kept in flight (or, paced, waiting for its turn). After Start
  // it is touched only by the poller of its client's queue.
  struct Slot {
    Slot(LoadGenerator* generator, Client* client) : generator(generator), client(client) {}

    // The alarm of a paced slot has rung.
    void OnAlarm(bool /*ok*/) { generator->OnDue(*this); }
    std::string_view Describe() const { return "load generator slot"; }

    LoadGenerator* const generator;
    Client* const client;
    PingRequest request;
    Clock::time_point started;
    // Paced: when this slot's next call is due, and the alarm that wakes it.
    Clock::time_point due;
    std::optional<grpc::Alarm> alarm;
    grpc_util::MemberTag<Slot, &Slot::OnAlarm> alarm_tag{this};
  };

  // Written only by one queue's poller thread; read after Stop.
  struct QueueStats {
    std::vector<int64_t> samples;
    uint64_t errors = 0;
    std::string first_error;
  };

  void Issue(Slot& slot) {
    slot.started = Clock::now();
    slot.client->client->Call(
        &Admin::Stub::PrepareAsyncPing, slot.request,
        [this, &slot](absl::StatusOr<PingResponse> reply) { OnReply(slot, reply); }, call_options_);
  }

  // On the poller of the slot's queue.
  void OnReply(Slot& slot, const absl::StatusOr<PingResponse>& reply) {
    Clock::time_point now = Clock::now();
    Phase phase = phase_.load(std::memory_order_acquire);
    QueueStats& stats = *stats_[slot.client->queue];
    absl::Status status = reply.status();
    if (status.ok() && reply->payload().size() != slot.request.payload().size()) {
      status =
          absl::DataLossError(absl::StrCat("payload of ", reply->payload().size(),
                                           " bytes echoed as ", slot.request.payload().size()));
    }
    if (!status.ok()) {
      ++stats.errors;
      if (stats.first_error.empty()) stats.first_error = status.ToString();
    } else if (phase == Phase::kMeasure) {
      stats.samples.push_back(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - slot.started).count());
    }
    if (phase == Phase::kStop) {
      SlotStopped();
      return;
    }
    if (slot_period_ == Clock::duration::zero()) {
      Issue(slot);
      return;
    }
    // Paced: the next turn is one period after the last; a slot that fell
    // behind calls at once and does not try to catch up.
    slot.due = std::max(slot.due + slot_period_, now);
    WaitUntilDue(slot);
  }

  // Calls now if the slot's turn has come, else sets its alarm for it.
  void WaitUntilDue(Slot& slot) {
    const Clock::duration wait = slot.due - Clock::now();
    if (wait <= Clock::duration::zero()) {
      Issue(slot);
      return;
    }
    slot.alarm.emplace();
    slot.alarm->Set(queues_[slot.client->queue]->cq(), std::chrono::system_clock::now() + wait,
                    &slot.alarm_tag);
  }

  // On the poller of the slot's queue, when a paced slot's turn has come.
  void OnDue(Slot& slot) {
    if (phase_.load(std::memory_order_acquire) == Phase::kStop) {
      SlotStopped();
      return;
    }
    Issue(slot);
  }

  void SlotStopped() {
    if (in_flight_.fetch_sub(1, std::memory_order_acq_rel) == 1) stopped_.Notify();
  }

  const Options options_;
  grpc_util::CallOptions call_options_;
  // Declared before the clients: destroyed after them.
  std::vector<std::unique_ptr<grpc_util::ClientQueue>> queues_;
  std::vector<std::unique_ptr<QueueStats>> stats_;
  std::vector<Client> clients_;
  // After the queues: destroyed before them, and only once Stop has seen
  // every slot's last call and alarm come back.
  std::vector<std::unique_ptr<Slot>> slots_;
  Clock::duration slot_period_ = Clock::duration::zero();

  std::atomic<Phase> phase_{Phase::kWarmup};
  std::atomic<int> in_flight_{0};
  absl::Notification stopped_;
  Clock::time_point measure_start_;
  Clock::time_point measure_end_;
};

int Run() {
  LoadGenerator::Options options;
  options.target = absl::GetFlag(FLAGS_target);
  options.concurrency = absl::GetFlag(FLAGS_concurrency);
  options.payload_bytes = absl::GetFlag(FLAGS_payload_bytes);
  options.call_timeout = absl::GetFlag(FLAGS_call_timeout);
  options.rate = absl::GetFlag(FLAGS_rate);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  const absl::Duration warmup = absl::GetFlag(FLAGS_warmup);
  const int server_pid = absl::GetFlag(FLAGS_server_pid);
  if (options.concurrency < 1) {
    std::fprintf(stderr, "--concurrency: must be at least 1\n");
    return 2;
  }
  if (duration <= absl::ZeroDuration() || warmup < absl::ZeroDuration()) {
    std::fprintf(stderr, "--duration must be positive and --warmup not negative\n");
    return 2;
  }
  if (options.rate < 0) {
    std::fprintf(stderr, "--rate: must not be negative\n");
    return 2;
  }
  if (options.payload_bytes < 0) {
    std::fprintf(stderr, "--payload_bytes: must not be negative\n");
    return 2;
  }
  options.channels = absl::GetFlag(FLAGS_channels);
  if (options.channels <= 0) options.channels = std::min(options.concurrency, 4);
  options.channels = std::min(options.channels, options.concurrency);
  options.client_queues = absl::GetFlag(FLAGS_client_queues);
  if (options.client_queues <= 0) options.client_queues = std::min(options.channels, AllowedCpus());
  options.client_queues = std::min(options.client_queues, options.channels);

  LoadGenerator generator(options);
  if (absl::Status connected = generator.Connect(absl::GetFlag(FLAGS_connect_timeout));
      !connected.ok()) {
    std::fprintf(stderr, "load_generator: %s does not answer Ping: %s\n", options.target.c_str(),
                 connected.ToString().c_str());
    return 2;
  }
  generator.Start();
  absl::SleepFor(warmup);
  std::optional<double> server_cpu_before = server_pid > 0 ? CpuSeconds(server_pid) : std::nullopt;
  std::optional<double> client_cpu_before = CpuSeconds(0);
  std::optional<double> machine_before = MachineBusySeconds();
  generator.BeginMeasurement();
  absl::SleepFor(duration);
  std::optional<double> server_cpu_after = server_pid > 0 ? CpuSeconds(server_pid) : std::nullopt;
  std::optional<double> client_cpu_after = CpuSeconds(0);
  std::optional<double> machine_after = MachineBusySeconds();
  generator.Stop();

  const std::vector<int64_t> samples = generator.SortedSamples();
  const double seconds = generator.window_seconds();
  const double calls = static_cast<double>(samples.size());
  double sum_ns = 0;
  for (int64_t sample : samples) sum_ns += static_cast<double>(sample);
  auto us = [](int64_t ns) { return static_cast<double>(ns) / 1000.0; };

  std::string json = absl::StrFormat(
      "{\"qps\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"calls\":%d,\"errors\":%d,"
      "\"p90_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,\"mean_us\":%.1f,"
      "\"concurrency\":%d,\"channels\":%d,\"client_queues\":%d,\"payload_bytes\":%d,"
      "\"seconds\":%.3f,\"rate\":%.0f",
      calls / seconds, us(Percentile(samples, 0.50)), us(Percentile(samples, 0.99)), samples.size(),
      generator.errors(), us(Percentile(samples, 0.90)), us(Percentile(samples, 0.999)),
      samples.empty() ? 0.0 : us(samples.back()), samples.empty() ? 0.0 : sum_ns / calls / 1000.0,
      options.concurrency, options.channels, options.client_queues, options.payload_bytes, seconds,
      options.rate);
  // CPU time per call in microseconds, and in cores busy over the window.
  auto add_cpu = [&](const char* who, std::optional<double> before, std::optional<double> after) {
    if (!before || !after || samples.empty()) return;
    double cpu = *after - *before;
    absl::StrAppendFormat(&json, ",\"%s_cpu_us_per_call\":%.2f,\"%s_cpu_cores\":%.2f", who,
                          cpu / calls * 1e6, who, cpu / seconds);
  };
  add_cpu("server", server_cpu_before, server_cpu_after);
  add_cpu("client", client_cpu_before, client_cpu_after);
  // What the rest of the machine did meanwhile: other processes (a build, a
  // neighbour) steal CPU from the measurement and make it noisy.
  if (machine_before && machine_after && server_cpu_before && server_cpu_after &&
      client_cpu_before && client_cpu_after) {
    double machine = *machine_after - *machine_before;
    double ours =
        (*server_cpu_after - *server_cpu_before) + (*client_cpu_after - *client_cpu_before);
    absl::StrAppendFormat(&json, ",\"machine_cpu_cores\":%.2f,\"other_cpu_cores\":%.2f",
                          machine / seconds, std::max(0.0, machine - ours) / seconds);
  }
  json += "}";
  std::printf("%s\n", json.c_str());
  std::fflush(stdout);

  if (generator.errors() > 0) {
    std::fprintf(stderr, "load_generator: %d calls failed; first: %s\n",
                 static_cast<int>(generator.errors()), generator.first_error().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace coffer::bench

int main(int argc, char** argv) {
  // Plain absl flags, without coffer's COFFER_* environment fallbacks: a
  // benchmark's every input is on its command line.
  absl::SetProgramUsageMessage(
      "load_generator: closed-loop or paced load on coffer.v1.Admin/Ping; prints one line of JSON");
  absl::ParseCommandLine(argc, argv);
  if (!absl::GetFlag(FLAGS_mutex_deadlock_detection)) {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  }
  return coffer::bench::Run();
}
