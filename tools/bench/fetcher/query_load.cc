// query_load: reads the balances of the benchmark's addresses through
// coffer-fetcher's QueryBalances, on coffer's own async client
// (AsyncClient<v1::Fetcher> over ClientQueues), checks every answer against
// the balances `baseline.py setup` gave them, and prints one line of JSON.
//
//   query_load --target=127.0.0.1:50051 --addresses=20000 --asset=native
//   query_load --asset=eip155:31337/erc20:0x5FbD... --fetcher_pid=1234
//
// The addresses are split into calls of --queries_per_call queries (one
// asset each), --in_flight of them outstanding at a time; a pass runs from
// the first call to the last answer, and passes repeat until --min_seconds
// of them have gone by. One unmeasured warm-up call
// first opens the fetcher's connections to the node and learns the token's
// decimals, as a long-running fetcher would have. The fetcher caches chain
// heads, never balances, so the warm-up reading the same addresses makes the
// measured pass no cheaper.
//
// Every balance is compared with the one the dataset (baseline.py) defines:
// a missing, failed or different item is an error, and any error makes the
// exit status 1 (the JSON is printed anyway). With --fetcher_pid the JSON
// also carries the fetcher's CPU time per balance over the window, from
// /proc/<pid>/stat, and with --node_pid the node's. Exit status 2: bad
// flags or no fetcher.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include <grpcpp/grpcpp.h>

#include "coffer/v1/fetcher.grpc.pb.h"
#include "common/grpc/async_client.h"
#include "common/grpc/client_queue.h"
#include "tools/bench/storage/measurement.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "HOST:PORT of coffer-fetcher");
ABSL_FLAG(int, addresses, 20000, "Addresses to read, the dataset's first N");
ABSL_FLAG(
    std::string, asset, "native",
    "\"native\" (ether) or the token's CAIP-19 id (balances as baseline.py setup mints them)");
ABSL_FLAG(std::string, chain_id, "eip155:31337", "CAIP-2 id of the chain the fetcher reads");
ABSL_FLAG(int, queries_per_call, 1000, "Queries per QueryBalances call");
ABSL_FLAG(int, in_flight, 4, "Calls outstanding at a time");
ABSL_FLAG(int, channels, 2, "gRPC channels (TCP connections), one ClientQueue each");
ABSL_FLAG(absl::Duration, min_seconds, absl::Seconds(1),
          "Repeat whole passes over the addresses until this long");
ABSL_FLAG(bool, bypass_cache, false, "Set bypass_cache on every call (chain heads read afresh)");
ABSL_FLAG(int, fetcher_pid, 0, "When set, report this process's CPU over the window");
ABSL_FLAG(int, node_pid, 0, "When set, report the node's (anvil's) CPU over the window too");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(30), "How long to wait for the fetcher");
ABSL_FLAG(absl::Duration, call_timeout, absl::Seconds(120), "Deadline of every call");

namespace coffer::bench {
namespace {

using Clock = std::chrono::steady_clock;
using v1::Fetcher;

// The dataset, as tools/bench/fetcher/baseline.py defines it (address(),
// native_wei(), token_units()).
std::string Address(int64_t i) { return absl::StrFormat("0x%040x", 0xbe0c0ffee0000000ULL + i); }
std::string NativeWei(int64_t i) {
  return absl::StrCat(static_cast<uint64_t>(i + 1) * 1000000000000ULL + static_cast<uint64_t>(i));
}
bool TokenHolder(int64_t i, int64_t addresses) { return i % 1000 == 7 || i == addresses - 1; }
std::string TokenUnits(int64_t i, int64_t addresses) {
  return TokenHolder(i, addresses) ? absl::StrCat(1000000 + i) : "0";
}

struct Settings {
  int addresses;
  bool native;
  std::string asset_id;
  std::string chain_id;
  int queries_per_call;
  int in_flight;
  bool bypass_cache;
};

v1::QueryBalancesRequest Request(const Settings& settings, int64_t first, int64_t count) {
  v1::QueryBalancesRequest request;
  request.set_bypass_cache(settings.bypass_cache);
  for (int64_t i = first; i < first + count; ++i) {
    v1::BalanceQuery* query = request.add_queries();
    query->set_account_id(absl::StrCat(settings.chain_id, ":", Address(i)));
    query->add_asset_ids(settings.asset_id);
  }
  return request;
}

// Errors in `reply` for the addresses from `first`: one per missing, failed
// or wrong item. The first one's description goes to `first_error`.
int64_t CheckReply(const Settings& settings, int64_t first, int64_t count,
                   const absl::StatusOr<v1::QueryBalancesResponse>& reply,
                   std::string* first_error) {
  if (!reply.ok()) {
    *first_error = reply.status().ToString();
    return count;
  }
  if (reply->results_size() != count) {
    *first_error = absl::StrCat(reply->results_size(), " results for ", count, " queries");
    return count;
  }
  int64_t errors = 0;
  for (int64_t k = 0; k < count; ++k) {
    const int64_t i = first + k;
    const v1::BalanceItem& item = reply->results(static_cast<int>(k)).balance();
    const std::string expected = settings.native ? NativeWei(i) : TokenUnits(i, settings.addresses);
    std::string problem;
    if (!item.has_amount()) {
      problem = absl::StrCat("error ", item.error().message());
    } else if (item.amount().units() != expected) {
      problem = absl::StrCat("units ", item.amount().units(), ", expected ", expected);
    }
    if (!problem.empty()) {
      if (errors++ == 0 && first_error->empty()) {
        *first_error = absl::StrCat(Address(i), ": ", problem);
      }
    }
  }
  return errors;
}

class Clients {
 public:
  Clients(const std::string& target, int channels, absl::Duration call_timeout) {
    for (int i = 0; i < channels; ++i) {
      queues_.push_back(std::make_unique<grpc_util::ClientQueue>(absl::StrCat("query-cq-", i)));
      grpc::ChannelArguments args;
      // Own subchannels and a distinct argument: gRPC shares no connection.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetInt("coffer.bench.channel_index", i);
      args.SetMaxReceiveMessageSize(256 << 20);
      clients_.push_back(std::make_unique<grpc_util::AsyncClient<Fetcher>>(
          grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args),
          queues_.back().get(), call_timeout));
    }
  }

  // Waits until every channel answers ListUpstreams.
  absl::Status Connect(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    for (auto& client : clients_) {
      while (true) {
        grpc_util::CallOptions options;
        options.wait_for_ready = true;
        options.timeout = std::max(deadline - absl::Now(), absl::Milliseconds(1));
        absl::StatusOr<v1::ListUpstreamsResponse> reply = client->CallBlocking(
            &Fetcher::Stub::PrepareAsyncListUpstreams, v1::ListUpstreamsRequest(), options);
        if (reply.ok()) break;
        if (reply.status().code() != absl::StatusCode::kUnavailable || absl::Now() >= deadline) {
          return reply.status();
        }
        absl::SleepFor(absl::Milliseconds(50));
      }
    }
    return absl::OkStatus();
  }

  grpc_util::AsyncClient<Fetcher>& For(int slot) { return *clients_[slot % clients_.size()]; }

 private:
  // Declared first: destroyed after the clients.
  std::vector<std::unique_ptr<grpc_util::ClientQueue>> queues_;
  std::vector<std::unique_ptr<grpc_util::AsyncClient<Fetcher>>> clients_;
};

// The measured pass: calls of consecutive addresses, --in_flight at a time,
// each slot starting the next call as its previous one answers.
class Pass {
 public:
  Pass(const Settings& settings, Clients& clients) : settings_(settings), clients_(clients) {
    calls_ = (settings.addresses + settings.queries_per_call - 1) / settings.queries_per_call;
  }

  void Run() {
    const int slots = std::min<int64_t>(settings_.in_flight, calls_);
    in_flight_.store(slots);
    started_ = Clock::now();
    for (int slot = 0; slot < slots; ++slot) Next(slot);
    done_.WaitForNotification();
    ended_ = Clock::now();
  }

  double seconds() const { return std::chrono::duration<double>(ended_ - started_).count(); }
  int64_t errors() const { return errors_; }
  int64_t calls() const { return calls_; }
  const std::string& first_error() const { return first_error_; }
  std::vector<double> latencies_ms() {
    std::sort(latencies_ms_.begin(), latencies_ms_.end());
    return latencies_ms_;
  }

 private:
  void Next(int slot) {
    const int64_t call = next_.fetch_add(1);
    if (call >= calls_) {
      if (in_flight_.fetch_sub(1) == 1) done_.Notify();
      return;
    }
    const int64_t first = call * settings_.queries_per_call;
    const int64_t count =
        std::min<int64_t>(settings_.queries_per_call, settings_.addresses - first);
    const Clock::time_point started = Clock::now();
    clients_.For(slot).Call(
        &Fetcher::Stub::PrepareAsyncQueryBalances, Request(settings_, first, count),
        [this, slot, first, count, started](absl::StatusOr<v1::QueryBalancesResponse> reply) {
          const double ms =
              std::chrono::duration<double, std::milli>(Clock::now() - started).count();
          {
            std::lock_guard<std::mutex> lock(mutex_);
            errors_ += CheckReply(settings_, first, count, reply, &first_error_);
            latencies_ms_.push_back(ms);
          }
          Next(slot);
        });
  }

  const Settings& settings_;
  Clients& clients_;
  int64_t calls_ = 0;
  std::atomic<int64_t> next_{0};
  std::atomic<int> in_flight_{0};
  absl::Notification done_;
  Clock::time_point started_;
  Clock::time_point ended_;
  std::mutex mutex_;
  int64_t errors_ = 0;
  std::string first_error_;
  std::vector<double> latencies_ms_;
};

int Run() {
  Settings settings;
  settings.addresses = absl::GetFlag(FLAGS_addresses);
  settings.chain_id = absl::GetFlag(FLAGS_chain_id);
  const std::string asset = absl::GetFlag(FLAGS_asset);
  settings.native = asset == "native";
  settings.asset_id = settings.native ? absl::StrCat(settings.chain_id, "/slip44:60") : asset;
  settings.queries_per_call = absl::GetFlag(FLAGS_queries_per_call);
  settings.in_flight = absl::GetFlag(FLAGS_in_flight);
  settings.bypass_cache = absl::GetFlag(FLAGS_bypass_cache);
  const int channels = absl::GetFlag(FLAGS_channels);
  if (settings.addresses < 1 || settings.queries_per_call < 1 || settings.in_flight < 1 ||
      channels < 1) {
    std::fprintf(stderr,
                 "query_load: --addresses, --queries_per_call, --in_flight and --channels must "
                 "be >= 1\n");
    return 2;
  }
  Clients clients(absl::GetFlag(FLAGS_target), channels, absl::GetFlag(FLAGS_call_timeout));
  if (absl::Status status = clients.Connect(absl::GetFlag(FLAGS_connect_timeout)); !status.ok()) {
    std::fprintf(stderr, "query_load: no fetcher at %s: %s\n", absl::GetFlag(FLAGS_target).c_str(),
                 status.ToString().c_str());
    return 2;
  }

  // Warm-up: connections to the node opened, token decimals learnt.
  const int64_t warmup = std::min(settings.queries_per_call, settings.addresses);
  std::string warmup_error;
  const int64_t warmup_errors =
      CheckReply(settings, 0, warmup,
                 clients.For(0).CallBlocking(&Fetcher::Stub::PrepareAsyncQueryBalances,
                                             Request(settings, 0, warmup)),
                 &warmup_error);
  if (warmup_errors > 0) {
    std::fprintf(stderr, "query_load: the warm-up call had %d errors; first: %s\n",
                 static_cast<int>(warmup_errors), warmup_error.c_str());
  }

  const int pid = absl::GetFlag(FLAGS_fetcher_pid);
  const int node_pid = absl::GetFlag(FLAGS_node_pid);
  const std::optional<double> node_start =
      node_pid > 0 ? ProcessCpuSeconds(node_pid) : std::nullopt;
  const std::optional<double> fetcher_start = pid > 0 ? ProcessCpuSeconds(pid) : std::nullopt;
  const std::optional<double> own_start = ProcessCpuSeconds(0);
  const std::optional<double> machine_start = MachineBusySeconds();
  // Whole passes over every address until --min_seconds have gone by: a
  // batched pass of 20,000 lasts ~0.1 s, too short to measure steadily
  // (baseline.py does the same).
  const double min_seconds = absl::ToDoubleSeconds(absl::GetFlag(FLAGS_min_seconds));
  int64_t passes = 0;
  double seconds = 0;
  int64_t calls = 0;
  int64_t errors = 0;
  std::string first_error;
  std::vector<double> latencies;
  do {
    Pass pass(settings, clients);
    pass.Run();
    ++passes;
    seconds += pass.seconds();
    calls += pass.calls();
    errors += pass.errors();
    if (first_error.empty()) first_error = pass.first_error();
    const std::vector<double> pass_latencies = pass.latencies_ms();
    latencies.insert(latencies.end(), pass_latencies.begin(), pass_latencies.end());
  } while (seconds < min_seconds);
  std::sort(latencies.begin(), latencies.end());
  const int64_t balances = passes * settings.addresses;
  const std::optional<double> fetcher_end = pid > 0 ? ProcessCpuSeconds(pid) : std::nullopt;
  const std::optional<double> own_end = ProcessCpuSeconds(0);
  const std::optional<double> machine_end = MachineBusySeconds();
  const std::optional<double> node_end = node_pid > 0 ? ProcessCpuSeconds(node_pid) : std::nullopt;

  const auto percentile = [&latencies](double q) {
    if (latencies.empty()) return 0.0;
    const size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(latencies.size())));
    return latencies[std::clamp<size_t>(rank, 1, latencies.size()) - 1];
  };
  std::string json = absl::StrFormat(
      "{\"balances\":%d,\"passes\":%d,\"calls\":%d,\"queries_per_call\":%d,\"in_flight\":%d,"
      "\"seconds\":%.3f,\"balances_per_s\":%.1f,\"call_p50_ms\":%.1f,\"call_max_ms\":%.1f",
      balances, passes, calls, settings.queries_per_call, settings.in_flight, seconds,
      balances / seconds, percentile(0.5), percentile(1.0));
  if (own_start && own_end) {
    absl::StrAppendFormat(&json, ",\"client_cpu_cores\":%.2f", (*own_end - *own_start) / seconds);
  }
  if (fetcher_start && fetcher_end) {
    const double fetcher = *fetcher_end - *fetcher_start;
    absl::StrAppendFormat(&json, ",\"fetcher_cpu_cores\":%.2f,\"fetcher_cpu_us_per_balance\":%.2f",
                          fetcher / seconds, fetcher * 1e6 / balances);
    if (own_start && own_end && machine_start && machine_end) {
      const double others = *machine_end - *machine_start - fetcher - (*own_end - *own_start);
      absl::StrAppendFormat(&json, ",\"node_and_other_cpu_cores\":%.2f",
                            std::max(0.0, others) / seconds);
    }
  }
  if (node_start && node_end) {
    const double node = *node_end - *node_start;
    absl::StrAppendFormat(&json, ",\"node_cpu_cores\":%.2f,\"node_cpu_us_per_balance\":%.2f",
                          node / seconds, node * 1e6 / balances);
  }
  absl::StrAppendFormat(&json, ",\"warmup_errors\":%d,\"errors\":%d}",
                        static_cast<int>(warmup_errors), static_cast<int>(errors));
  std::printf("%s\n", json.c_str());
  std::fflush(stdout);
  if (errors > 0 || warmup_errors > 0) {
    std::fprintf(stderr, "query_load: %d balances wrong or failed; first: %s\n",
                 static_cast<int>(errors),
                 first_error.empty() ? warmup_error.c_str() : first_error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace coffer::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return coffer::bench::Run();
}
