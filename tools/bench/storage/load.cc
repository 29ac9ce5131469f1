// load: drives coffer-storage through its gRPC API, on coffer's own async
// client (AsyncClient<v1::Storage> over ClientQueues), in one of three modes,
// and prints one line of JSON.
//
//   load --target=127.0.0.1:50052 --mode=write --writers=8 --duration=5s
//   load --target=127.0.0.1:50052 --mode=fill --rows=1000000
//   load --target=127.0.0.1:50052 --mode=read --read=history --concurrency=8
//
// write: registers --accounts accounts, then --writers writers each keep one
//   WriteSnapshot of --snapshot_items items in flight (closed loop: the next
//   as soon as the previous answered) for --warmup unmeasured and --duration
//   measured. Prints the item rows committed per second (as acknowledged in
//   the window: a write answers only after its commit) and the calls'
//   latency. Writers take consecutive windows of (account, asset) pairs in
//   turn, so they write different accounts, as refreshes of different
//   accounts would.
// fill: registers the accounts and writes whole refreshes (every pair once,
//   split into snapshots of at most --fill_snapshot_items) an hour apart,
//   --fill_in_flight at a time, from --fill_first_refresh on, until the
//   history holds at least --rows item rows. `run` stores all but the last
//   refresh with raw_insert --mode=history first (the service writes a few
//   thousand rows a second: 1M through the API would take minutes), then
//   writes the last one here, so latest_balances is exactly what the service
//   makes of it.
// read: after a fill with the same --accounts and --assets, --concurrency
//   callers each keep one read in flight:
//     latest           GetLatestBalances of every account, walking the pages
//                      (--page_size) and starting over after the last;
//     latest_filtered  GetLatestBalances of --filter_accounts random accounts,
//                      one page;
//     history          GetBalanceHistory of one random account (every asset),
//                      oldest first, walking its pages, then another account.
//   An empty answer counts as an error: the database was not filled.
//
// Latencies are from just before Call to the callback, every sample kept,
// percentiles exact (nearest rank). With --server_pid the JSON also carries
// the server's CPU over the window and the CPU the rest of the machine used
// (other_cpu_cores), which tells a clean run from a disturbed one.
//
// Exit status: 0, 1 when any call failed (the JSON is printed anyway), 2 for
// bad flags or an unreachable server.
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include <grpcpp/grpcpp.h>

#include "coffer/v1/admin.grpc.pb.h"
#include "coffer/v1/storage.grpc.pb.h"
#include "common/grpc/async_client.h"
#include "common/grpc/client_queue.h"
#include "tools/bench/storage/dataset.h"
#include "tools/bench/storage/measurement.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50052", "HOST:PORT of coffer-storage");
ABSL_FLAG(std::string, mode, "write", "write, fill or read");
ABSL_FLAG(int, accounts, 1000, "Accounts registered (write, fill) or read");
ABSL_FLAG(int, assets, 2, "Assets per account, 1 to 100");
ABSL_FLAG(int, writers, 1, "write: concurrent writers, each with one WriteSnapshot in flight");
ABSL_FLAG(int, snapshot_items, 1000, "write: items per snapshot");
ABSL_FLAG(int64_t, rows, 1000000, "fill: item rows to store (rounded up to whole refreshes)");
ABSL_FLAG(int, fill_snapshot_items, 10000, "fill: most items per snapshot");
ABSL_FLAG(int, fill_in_flight, 4, "fill: snapshots in flight");
ABSL_FLAG(int64_t, fill_first_refresh, 0,
          "fill: the first refresh to write; those before are already stored (raw_insert "
          "--mode=history)");
ABSL_FLAG(int64_t, history_end, 0,
          "fill: unix seconds an hour after the last refresh; 0: now (see Dataset::RefreshTime)");
ABSL_FLAG(std::string, read, "latest", "read: latest, latest_filtered or history");
ABSL_FLAG(int, concurrency, 1, "read: calls in flight");
ABSL_FLAG(int, page_size, 100, "read: page size");
ABSL_FLAG(int, filter_accounts, 50, "read latest_filtered: account ids per call");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5), "Measured time (write, read)");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1),
          "Unmeasured time before it, at least until every caller has ended a call (write, read)");
ABSL_FLAG(int, min_calls, 2,
          "The measured window lasts until every caller has made this many calls inside it "
          "(write, read)");
ABSL_FLAG(absl::Duration, max_duration, absl::Seconds(120),
          "Longest measured window, whatever --min_calls (write, read)");
ABSL_FLAG(int, channels, 0, "Channels (TCP connections); 0: min(calls in flight, 4)");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(30),
          "How long to wait for the server to listen and open its database");
ABSL_FLAG(absl::Duration, call_timeout, absl::Seconds(60), "Deadline of every call");
ABSL_FLAG(int, server_pid, 0, "When set, report this process's CPU over the window");

namespace coffer::bench {
namespace {

using Clock = std::chrono::steady_clock;
using v1::Storage;

int AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) {
    return std::max(1u, std::thread::hardware_concurrency());
  }
  return std::max(1, CPU_COUNT(&set));
}

// Channels, each its own TCP connection, spread over ClientQueues (one
// poller thread each).
class Clients {
 public:
  Clients(const std::string& target, int channels, absl::Duration call_timeout) {
    const int queues = std::min(channels, AllowedCpus());
    for (int i = 0; i < queues; ++i) {
      queues_.push_back(std::make_unique<grpc_util::ClientQueue>(absl::StrCat("load-cq-", i)));
    }
    for (int i = 0; i < channels; ++i) {
      grpc::ChannelArguments args;
      // Own subchannels and a distinct argument: gRPC shares no connection.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetInt("coffer.bench.channel_index", i);
      clients_.push_back(std::make_unique<grpc_util::AsyncClient<Storage>>(
          grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args),
          queues_[i % queues].get(), call_timeout));
    }
    admin_ = std::make_unique<grpc_util::AsyncClient<v1::Admin>>(
        grpc::CreateChannel(target, grpc::InsecureChannelCredentials()), queues_[0].get(),
        call_timeout);
  }

  // Waits until every channel answers ListAccounts: the server listens
  // before its database is open and answers UNAVAILABLE until then.
  absl::Status Connect(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    v1::ListAccountsRequest request;
    request.mutable_page()->set_page_size(1);
    for (auto& client : clients_) {
      while (true) {
        grpc_util::CallOptions options;
        options.wait_for_ready = true;
        options.timeout = std::max(deadline - absl::Now(), absl::Milliseconds(1));
        absl::StatusOr<v1::ListAccountsResponse> reply =
            client->CallBlocking(&Storage::Stub::PrepareAsyncListAccounts, request, options);
        if (reply.ok()) break;
        if (reply.status().code() != absl::StatusCode::kUnavailable || absl::Now() >= deadline) {
          return reply.status();
        }
        absl::SleepFor(absl::Milliseconds(50));
      }
    }
    return absl::OkStatus();
  }

  grpc_util::AsyncClient<Storage>& For(int slot) { return *clients_[slot % clients_.size()]; }

  // The server's writer counters (storage_db_writer_*, storage_db_write_*)
  // by name; their growth over a run, divided by the rows it stored, says
  // what a row cost the writer in pages.
  absl::StatusOr<std::map<std::string, double>> WriterCounters() {
    v1::GetMetricsRequest request;
    request.set_name_prefix("storage_db_write");
    absl::StatusOr<v1::GetMetricsResponse> reply =
        admin_->CallBlocking(&v1::Admin::Stub::PrepareAsyncGetMetrics, request);
    if (!reply.ok()) return reply.status();
    std::map<std::string, double> counters;
    for (const v1::Metric& metric : reply->metrics()) {
      if (metric.kind() == v1::Metric::HISTOGRAM) {
        counters[metric.name() + "_count"] += static_cast<double>(metric.histogram().count());
        // Histograms report their sum in milliseconds of the recorded value.
        counters[metric.name() + "_sum"] += metric.histogram().sum_ms() / 1000;
      } else {
        counters[metric.name()] += metric.value();
      }
    }
    return counters;
  }

 private:
  // Declared first: destroyed after the clients.
  std::vector<std::unique_ptr<grpc_util::ClientQueue>> queues_;
  std::vector<std::unique_ptr<grpc_util::AsyncClient<Storage>>> clients_;
  std::unique_ptr<grpc_util::AsyncClient<v1::Admin>> admin_;
};

// Slots that each keep one call in flight, starting the next as soon as the
// previous one ended, until Stop or until the slot has nothing left to do.
// Each slot's calls end on a poller thread one at a time, so its statistics
// need no lock (the counters other threads poll are atomic); the rest is
// read after Stop.
//
// Measured are the calls that both started and ended inside the window:
// with group commit a whole batch of writes is acknowledged at once, so
// counting acknowledgements in a window of a few batches would mostly
// measure where its edges fell.
class ClosedLoop {
 public:
  // Starts slot `slot`'s next call, whose callback must call Finish(slot,
  // ...) once; or answers false when the slot has nothing left to do.
  using Issue = absl::AnyInvocable<bool(int slot)>;

  ClosedLoop(int slots, Issue issue) : slots_(slots), issue_(std::move(issue)) {}

  void Start() {
    in_flight_.store(static_cast<int>(slots_.size()));
    for (int slot = 0; slot < static_cast<int>(slots_.size()); ++slot) Next(slot);
  }

  void BeginMeasurement() {
    measure_start_ = Clock::now();
    phase_.store(Phase::kMeasure, std::memory_order_release);
  }

  // Waits until every slot has ended at least `calls` calls (measured ones
  // when `measured`), or until `deadline`; answers whether they had.
  bool WaitForCalls(int64_t calls, bool measured, absl::Time deadline) const {
    while (true) {
      bool all = true;
      for (const SlotStats& stats : slots_) {
        const std::atomic<int64_t>& count = measured ? stats.measured : stats.ended;
        if (count.load(std::memory_order_relaxed) < calls) all = false;
      }
      if (all) return true;
      if (absl::Now() >= deadline) return false;
      absl::SleepFor(absl::Milliseconds(5));
    }
  }

  // Ends the window; returns when every slot's last call has come back.
  void Stop() {
    measure_end_ = Clock::now();
    phase_.store(Phase::kStop, std::memory_order_release);
    stopped_.WaitForNotification();
  }

  // Returns when every slot had nothing left to do.
  void WaitUntilDone() {
    stopped_.WaitForNotification();
    measure_end_ = Clock::now();
  }

  // On the poller, once per call: records its outcome (rows: what it
  // stored or read) and starts the slot's next call.
  void Finish(int slot, Clock::time_point started, const absl::Status& status, int64_t rows) {
    const Clock::time_point now = Clock::now();
    const Phase phase = phase_.load(std::memory_order_acquire);
    SlotStats& stats = slots_[slot];
    if (!status.ok()) {
      ++stats.errors;
      if (stats.first_error.empty()) stats.first_error = status.ToString();
    }
    // measure_start_ was written before the phase turned kMeasure.
    const bool whole = phase == Phase::kMeasure && started >= measure_start_;
    if (whole) {
      if (status.ok()) {
        stats.samples.push_back(std::chrono::nanoseconds(now - started).count());
        stats.rows += rows;
      }
      stats.measured.fetch_add(1, std::memory_order_relaxed);
    }
    stats.ended.fetch_add(1, std::memory_order_relaxed);
    if (phase == Phase::kStop) {
      SlotStopped();
      return;
    }
    Next(slot);
  }

  double seconds() const {
    return std::chrono::duration<double>(measure_end_ - measure_start_).count();
  }
  std::vector<int64_t> SortedSamples() const {
    std::vector<int64_t> all;
    for (const SlotStats& stats : slots_) {
      all.insert(all.end(), stats.samples.begin(), stats.samples.end());
    }
    std::sort(all.begin(), all.end());
    return all;
  }
  // Rows of the measured calls.
  int64_t rows() const {
    int64_t rows = 0;
    for (const SlotStats& stats : slots_) rows += stats.rows;
    return rows;
  }
  int64_t errors() const {
    int64_t errors = 0;
    for (const SlotStats& stats : slots_) errors += stats.errors;
    return errors;
  }
  std::string first_error() const {
    for (const SlotStats& stats : slots_) {
      if (!stats.first_error.empty()) return stats.first_error;
    }
    return "";
  }

 private:
  enum class Phase { kWarmup, kMeasure, kStop };

  struct SlotStats {
    std::vector<int64_t> samples;
    int64_t rows = 0;
    int64_t errors = 0;
    std::string first_error;
    // Calls ended, and of those the measured ones; polled by WaitForCalls.
    std::atomic<int64_t> ended{0};
    std::atomic<int64_t> measured{0};
  };

  void Next(int slot) {
    if (!issue_(slot)) SlotStopped();
  }

  void SlotStopped() {
    if (in_flight_.fetch_sub(1, std::memory_order_acq_rel) == 1) stopped_.Notify();
  }

  std::vector<SlotStats> slots_;
  Issue issue_;
  std::atomic<Phase> phase_{Phase::kWarmup};
  std::atomic<int> in_flight_{0};
  absl::Notification stopped_;
  Clock::time_point measure_start_;
  Clock::time_point measure_end_;
};

struct Settings {
  std::string target;
  int accounts;
  int assets;
  absl::Duration duration;
  absl::Duration warmup;
  absl::Duration max_duration;
  int min_calls;
  absl::Duration call_timeout;
  int server_pid;
};

absl::Status Register(Clients& clients, const Dataset& data) {
  for (const v1::AddAccountsRequest& request : data.Registration()) {
    absl::StatusOr<v1::AddAccountsResponse> reply =
        clients.For(0).CallBlocking(&Storage::Stub::PrepareAsyncAddAccounts, request);
    if (!reply.ok()) return reply.status();
    for (const v1::AccountResult& result : reply->results()) {
      if (result.outcome() == v1::AccountResult::FAILED) {
        return absl::InternalError(absl::StrCat("AddAccounts refused ", result.account_id(), ": ",
                                                result.error().message()));
      }
    }
  }
  return absl::OkStatus();
}

// The stored count a WriteSnapshot reply reports, or an error when items
// were skipped (accounts not registered: the benchmark would write nothing).
absl::StatusOr<int64_t> StoredRows(const absl::StatusOr<v1::WriteSnapshotResponse>& reply,
                                   int expected) {
  if (!reply.ok()) return reply.status();
  if (reply->already_written() || static_cast<int>(reply->snapshot().items()) != expected) {
    return absl::DataLossError(absl::StrCat("snapshot stored ", reply->snapshot().items(), " of ",
                                            expected, " items (", reply->snapshot().skipped_items(),
                                            " skipped, already_written ", reply->already_written(),
                                            ")"));
  }
  return static_cast<int64_t>(reply->snapshot().items());
}

// Prints `json` plus the loop's errors; the exit status.
int Report(std::string json, const ClosedLoop& loop) {
  absl::StrAppendFormat(&json, ",\"errors\":%d}", loop.errors());
  std::printf("%s\n", json.c_str());
  std::fflush(stdout);
  if (loop.errors() > 0) {
    std::fprintf(stderr, "load: %d calls failed; first: %s\n", static_cast<int>(loop.errors()),
                 loop.first_error().c_str());
    return 1;
  }
  return 0;
}

// Runs `loop` through the warmup, which lasts until every slot has ended a
// call, and the measured window, which lasts until every slot has ended
// --min_calls calls inside it (at most --max_duration). Answers false when
// the window hit --max_duration first.
bool Measure(ClosedLoop& loop, const Settings& settings, CpuWindow& cpu) {
  const absl::Time limit = absl::Now() + settings.warmup + settings.max_duration;
  loop.Start();
  absl::SleepFor(settings.warmup);
  loop.WaitForCalls(1, /*measured=*/false, limit);
  cpu.Start();
  loop.BeginMeasurement();
  const absl::Time window_limit = absl::Now() + settings.max_duration;
  absl::SleepFor(settings.duration);
  const bool complete = loop.WaitForCalls(settings.min_calls, /*measured=*/true, window_limit);
  cpu.Stop();
  loop.Stop();
  if (!complete) {
    std::fprintf(stderr,
                 "load: not every slot ended %d calls within --max_duration; figures are from "
                 "fewer\n",
                 settings.min_calls);
  }
  return complete;
}

// JSON fields for what the writer did per stored row between two reads of
// its counters (empty when the server did not answer them): pages written
// to the WAL and read from the file, and the average batch (writes per
// transaction).
std::string WriterCostFields(const absl::StatusOr<std::map<std::string, double>>& before,
                             const absl::StatusOr<std::map<std::string, double>>& after,
                             int64_t rows) {
  if (!before.ok() || !after.ok() || rows <= 0) return "";
  auto grown = [&](const std::string& name) {
    auto b = before->find(name);
    auto a = after->find(name);
    if (a == after->end()) return 0.0;
    return a->second - (b == before->end() ? 0.0 : b->second);
  };
  const double transactions = grown("storage_db_write_batch_size_count");
  return absl::StrFormat(
      ",\"writer_pages_written_per_row\":%.3f,\"writer_pages_read_per_row\":%.3f,"
      "\"writes_per_transaction\":%.2f",
      grown("storage_db_writer_pages_written") / static_cast<double>(rows),
      grown("storage_db_writer_pages_read") / static_cast<double>(rows),
      transactions > 0 ? grown("storage_db_write_batch_size_sum") / transactions : 0.0);
}

int RunWrite(const Settings& settings, Clients& clients, const Dataset& data) {
  const int writers = absl::GetFlag(FLAGS_writers);
  const int items = absl::GetFlag(FLAGS_snapshot_items);
  if (writers < 1 || items < 1 || items > data.pairs()) {
    std::fprintf(stderr, "load: --writers >= 1 and 1 <= --snapshot_items <= accounts x assets\n");
    return 2;
  }
  if (absl::Status status = Register(clients, data); !status.ok()) {
    std::fprintf(stderr, "load: registering accounts: %s\n", status.ToString().c_str());
    return 2;
  }
  // One request per window of pairs, built before the clock runs; each call
  // copies one and gives it its key and time.
  const absl::Time base = absl::Now() - absl::Hours(24 * 365);
  std::vector<v1::WriteSnapshotRequest> windows;
  for (int64_t w = 0; w < std::max<int64_t>(1, data.pairs() / items); ++w) {
    windows.push_back(data.Snapshot(w * items, items, w, base));
  }
  struct Writer {
    v1::WriteSnapshotRequest request;
    Clock::time_point started;
  };
  std::vector<Writer> slots(writers);
  std::atomic<int64_t> sequence{0};
  // Every row stored, warmup and tail included, for the pages per row.
  std::atomic<int64_t> stored_rows{0};
  const absl::StatusOr<std::map<std::string, double>> counters_before = clients.WriterCounters();
  // Keys unique across runs, should a server be reused.
  const std::string run_tag = absl::StrCat(absl::ToUnixNanos(absl::Now()));
  std::unique_ptr<ClosedLoop> loop;
  loop = std::make_unique<ClosedLoop>(writers, [&](int slot) {
    Writer& writer = slots[slot];
    const int64_t n = sequence.fetch_add(1);
    writer.request = windows[n % windows.size()];
    writer.request.set_idempotency_key(absl::StrCat("bench-write-", run_tag, "-", n));
    writer.request.mutable_taken_at()->set_seconds(absl::ToUnixSeconds(base) + n);
    writer.started = Clock::now();
    clients.For(slot).Call(&Storage::Stub::PrepareAsyncWriteSnapshot, writer.request,
                           [&loop, &writer, &stored_rows, slot,
                            items](absl::StatusOr<v1::WriteSnapshotResponse> reply) {
                             absl::StatusOr<int64_t> rows = StoredRows(reply, items);
                             stored_rows.fetch_add(rows.value_or(0));
                             loop->Finish(slot, writer.started, rows.status(), rows.value_or(0));
                           });
    return true;
  });
  CpuWindow cpu(settings.server_pid);
  const bool complete = Measure(*loop, settings, cpu);

  const std::vector<int64_t> samples = loop->SortedSamples();
  const double seconds = loop->seconds();
  // Closed loop with no pause between calls (Little's law): each writer
  // stores its rows per call once per call latency, so the rate is writers
  // x rows per call / mean latency, over whole calls only.
  double latency_seconds = 0;
  for (int64_t sample : samples) latency_seconds += static_cast<double>(sample) / 1e9;
  const double rows_per_s =
      latency_seconds > 0 ? writers * static_cast<double>(loop->rows()) / latency_seconds : 0;
  auto ms = [](int64_t nanos) { return static_cast<double>(nanos) / 1e6; };
  std::string json = absl::StrFormat(
      "{\"writers\":%d,\"rows_per_s\":%.1f,\"snapshots\":%d,\"snapshot_items\":%d,"
      "\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,\"seconds\":%.3f,\"complete\":%s",
      writers, rows_per_s, samples.size(), items, ms(Percentile(samples, 0.5)),
      ms(Percentile(samples, 0.99)), samples.empty() ? 0.0 : ms(samples.back()), seconds,
      complete ? "true" : "false");
  json += cpu.JsonFields(seconds);
  if (std::optional<double> server = cpu.server_seconds(); server && rows_per_s > 0) {
    absl::StrAppendFormat(&json, ",\"server_cpu_us_per_row\":%.2f",
                          *server / seconds / rows_per_s * 1e6);
  }
  json += WriterCostFields(counters_before, clients.WriterCounters(), stored_rows.load());
  return Report(std::move(json), *loop);
}

int RunFill(const Settings& settings, Clients& clients, const Dataset& data) {
  const int64_t rows = absl::GetFlag(FLAGS_rows);
  const int chunk = absl::GetFlag(FLAGS_fill_snapshot_items);
  const int in_flight = absl::GetFlag(FLAGS_fill_in_flight);
  if (rows < 1 || chunk < 1 || in_flight < 1) {
    std::fprintf(stderr, "load: --rows, --fill_snapshot_items and --fill_in_flight must be >= 1\n");
    return 2;
  }
  if (absl::Status status = Register(clients, data); !status.ok()) {
    std::fprintf(stderr, "load: registering accounts: %s\n", status.ToString().c_str());
    return 2;
  }
  const int64_t refreshes = (rows + data.pairs() - 1) / data.pairs();
  const int64_t first_refresh =
      std::clamp<int64_t>(absl::GetFlag(FLAGS_fill_first_refresh), 0, refreshes);
  const int64_t chunks = (data.pairs() + chunk - 1) / chunk;
  const int64_t snapshots = (refreshes - first_refresh) * chunks;
  const int64_t end_seconds = absl::GetFlag(FLAGS_history_end);
  const absl::Time end = end_seconds > 0 ? absl::FromUnixSeconds(end_seconds) : absl::Now();
  struct Filler {
    v1::WriteSnapshotRequest request;
    int items = 0;
    Clock::time_point started;
  };
  std::vector<Filler> slots(in_flight);
  std::atomic<int64_t> next{0};
  const std::string run_tag = absl::StrCat(absl::ToUnixNanos(absl::Now()));
  std::unique_ptr<ClosedLoop> loop;
  loop = std::make_unique<ClosedLoop>(in_flight, [&](int slot) {
    const int64_t n = next.fetch_add(1);
    if (n >= snapshots) return false;
    const int64_t refresh = first_refresh + n / chunks;
    const int64_t first_pair = (n % chunks) * chunk;
    Filler& filler = slots[slot];
    filler.items = static_cast<int>(std::min<int64_t>(chunk, data.pairs() - first_pair));
    filler.request = data.Snapshot(first_pair, filler.items, refresh,
                                   Dataset::RefreshTime(end, refreshes, refresh));
    filler.request.set_idempotency_key(absl::StrCat("bench-fill-", run_tag, "-", n));
    filler.started = Clock::now();
    clients.For(slot).Call(&Storage::Stub::PrepareAsyncWriteSnapshot, filler.request,
                           [&loop, &filler, slot](absl::StatusOr<v1::WriteSnapshotResponse> reply) {
                             absl::StatusOr<int64_t> stored = StoredRows(reply, filler.items);
                             loop->Finish(slot, filler.started, stored.status(),
                                          stored.value_or(0));
                           });
    return true;
  });
  CpuWindow cpu(settings.server_pid);
  cpu.Start();
  loop->BeginMeasurement();
  loop->Start();
  loop->WaitUntilDone();
  cpu.Stop();
  const double seconds = loop->seconds();
  std::string json = absl::StrFormat(
      "{\"rows\":%d,\"snapshots\":%d,\"accounts\":%d,\"assets\":%d,\"seconds\":%.3f,"
      "\"rows_per_s\":%.1f",
      loop->rows(), snapshots, data.accounts(), data.assets(), seconds,
      static_cast<double>(loop->rows()) / seconds);
  json += cpu.JsonFields(seconds);
  return Report(std::move(json), *loop);
}

int RunRead(const Settings& settings, Clients& clients, const Dataset& data) {
  const std::string kind = absl::GetFlag(FLAGS_read);
  const int concurrency = absl::GetFlag(FLAGS_concurrency);
  const int page_size = absl::GetFlag(FLAGS_page_size);
  const int filter_accounts = absl::GetFlag(FLAGS_filter_accounts);
  if (kind != "latest" && kind != "latest_filtered" && kind != "history") {
    std::fprintf(stderr, "load: --read must be latest, latest_filtered or history\n");
    return 2;
  }
  if (concurrency < 1 || page_size < 1 || filter_accounts < 1) {
    std::fprintf(stderr, "load: --concurrency, --page_size, --filter_accounts must be >= 1\n");
    return 2;
  }
  struct Reader {
    std::mt19937_64 random;
    std::string page_token;
    int account = 0;
    v1::GetLatestBalancesRequest latest;
    v1::GetBalanceHistoryRequest history;
    Clock::time_point started;
  };
  std::vector<Reader> slots(concurrency);
  for (int i = 0; i < concurrency; ++i) slots[i].random.seed(0x5eed + i);
  std::unique_ptr<ClosedLoop> loop;
  // Next page, or the first page of a new walk (an empty token).
  auto follow = [](Reader& reader, const v1::PageResponse& page) {
    reader.page_token = page.next_page_token();
  };
  loop = std::make_unique<ClosedLoop>(concurrency, [&](int slot) {
    Reader& reader = slots[slot];
    auto& client = clients.For(slot);
    if (kind == "history") {
      if (reader.page_token.empty()) {
        reader.account = static_cast<int>(reader.random() % data.accounts());
      }
      reader.history.Clear();
      reader.history.set_account_id(data.account_id(reader.account));
      reader.history.mutable_page()->set_page_size(page_size);
      reader.history.mutable_page()->set_page_token(reader.page_token);
      reader.started = Clock::now();
      client.Call(&Storage::Stub::PrepareAsyncGetBalanceHistory, reader.history,
                  [&, slot](absl::StatusOr<v1::GetBalanceHistoryResponse> reply) {
                    Reader& r = slots[slot];
                    absl::Status status = reply.status();
                    if (status.ok() && reply->points_size() == 0) {
                      status = absl::NotFoundError("GetBalanceHistory answered no points");
                    }
                    if (status.ok()) {
                      follow(r, reply->page());
                    } else {
                      r.page_token.clear();
                    }
                    loop->Finish(slot, r.started, status, status.ok() ? reply->points_size() : 0);
                  });
      return true;
    }
    reader.latest.Clear();
    reader.latest.mutable_page()->set_page_size(page_size);
    if (kind == "latest") {
      reader.latest.mutable_page()->set_page_token(reader.page_token);
    } else {
      for (int i = 0; i < filter_accounts; ++i) {
        reader.latest.add_account_ids(data.account_id(
            static_cast<int>(reader.random() % static_cast<uint64_t>(data.accounts()))));
      }
    }
    reader.started = Clock::now();
    client.Call(&Storage::Stub::PrepareAsyncGetLatestBalances, reader.latest,
                [&, slot](absl::StatusOr<v1::GetLatestBalancesResponse> reply) {
                  Reader& r = slots[slot];
                  absl::Status status = reply.status();
                  if (status.ok() && reply->balances_size() == 0) {
                    status = absl::NotFoundError("GetLatestBalances answered no balances");
                  }
                  if (status.ok() && kind == "latest") follow(r, reply->page());
                  if (!status.ok()) r.page_token.clear();
                  loop->Finish(slot, r.started, status, status.ok() ? reply->balances_size() : 0);
                });
    return true;
  });
  CpuWindow cpu(settings.server_pid);
  const bool complete = Measure(*loop, settings, cpu);

  const std::vector<int64_t> samples = loop->SortedSamples();
  const double seconds = loop->seconds();
  const double calls = static_cast<double>(samples.size());
  auto us = [](int64_t nanos) { return static_cast<double>(nanos) / 1e3; };
  std::string json = absl::StrFormat(
      "{\"read\":\"%s\",\"concurrency\":%d,\"qps\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,"
      "\"p99_us\":%.1f,\"max_us\":%.1f,\"calls\":%d,\"rows_per_call\":%.1f,\"seconds\":%.3f,"
      "\"complete\":%s",
      kind, concurrency, calls / seconds, us(Percentile(samples, 0.5)),
      us(Percentile(samples, 0.9)), us(Percentile(samples, 0.99)),
      samples.empty() ? 0.0 : us(samples.back()), samples.size(),
      calls > 0 ? static_cast<double>(loop->rows()) / calls : 0.0, seconds,
      complete ? "true" : "false");
  json += cpu.JsonFields(seconds);
  return Report(std::move(json), *loop);
}

int Run() {
  Settings settings;
  settings.target = absl::GetFlag(FLAGS_target);
  settings.accounts = absl::GetFlag(FLAGS_accounts);
  settings.assets = absl::GetFlag(FLAGS_assets);
  settings.duration = absl::GetFlag(FLAGS_duration);
  settings.warmup = absl::GetFlag(FLAGS_warmup);
  settings.max_duration = absl::GetFlag(FLAGS_max_duration);
  settings.min_calls = absl::GetFlag(FLAGS_min_calls);
  settings.call_timeout = absl::GetFlag(FLAGS_call_timeout);
  settings.server_pid = absl::GetFlag(FLAGS_server_pid);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (settings.accounts < 1 || settings.assets < 1 || settings.assets > 100) {
    std::fprintf(stderr, "load: --accounts >= 1 and --assets 1 to 100\n");
    return 2;
  }
  if (settings.duration <= absl::ZeroDuration() || settings.warmup < absl::ZeroDuration()) {
    std::fprintf(stderr, "load: --duration must be positive and --warmup not negative\n");
    return 2;
  }
  int in_flight = 0;
  if (mode == "write") {
    in_flight = absl::GetFlag(FLAGS_writers);
  } else if (mode == "fill") {
    in_flight = absl::GetFlag(FLAGS_fill_in_flight);
  } else if (mode == "read") {
    in_flight = absl::GetFlag(FLAGS_concurrency);
  } else {
    std::fprintf(stderr, "load: --mode must be write, fill or read\n");
    return 2;
  }
  int channels = absl::GetFlag(FLAGS_channels);
  if (channels <= 0) channels = std::min(std::max(in_flight, 1), 4);

  const Dataset data(settings.accounts, settings.assets);
  Clients clients(settings.target, channels, settings.call_timeout);
  if (absl::Status status = clients.Connect(absl::GetFlag(FLAGS_connect_timeout)); !status.ok()) {
    std::fprintf(stderr, "load: %s does not answer: %s\n", settings.target.c_str(),
                 status.ToString().c_str());
    return 2;
  }
  if (mode == "write") return RunWrite(settings, clients, data);
  if (mode == "fill") return RunFill(settings, clients, data);
  return RunRead(settings, clients, data);
}

}  // namespace
}  // namespace coffer::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "load: writes snapshots to, fills, or reads balances from coffer-storage through its gRPC "
      "API; prints one line of JSON");
  absl::ParseCommandLine(argc, argv);
  return coffer::bench::Run();
}
