// coffer-scheduler: runs the background task loops that refresh balances and prices.
#include <unistd.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include <spdlog/spdlog.h>

#include "coffer/v1/fetcher.grpc.pb.h"
#include "coffer/v1/storage.grpc.pb.h"
#include "common/config/flags.h"
#include "common/exec/termination_signal.h"
#include "common/grpc/async_client.h"
#include "common/grpc/auth/bearer_token.h"
#include "common/grpc/channel.h"
#include "common/grpc/client_queue.h"
#include "common/grpc/service_host.h"
#include "common/grpc/tls_flags.h"
#include "common/log/fmt_absl.h"
#include "common/log/logging.h"
#include "services/scheduler/engine/run_events.h"
#include "services/scheduler/engine/scheduler_store.h"
#include "services/scheduler/engine/task_engine.h"
#include "services/scheduler/lease/lease_keeper.h"
#include "services/scheduler/lease/lease_store.h"
#include "services/scheduler/lease/waitable_clock.h"
#include "services/scheduler/runs/grpc_run_backends.h"
#include "services/scheduler/schedule/jitter.h"
#include "services/scheduler/service/active_forwarder.h"
#include "services/scheduler/service/dependency_monitor.h"
#include "services/scheduler/service/scheduler_service.h"

ABSL_FLAG(std::string, storage, "127.0.0.1:50052", "HOST:PORT of coffer-storage");
ABSL_FLAG(std::string, fetcher, "127.0.0.1:50051", "HOST:PORT of coffer-fetcher");
ABSL_FLAG(std::string, token_file, "",
          "File holding the bearer token sent to storage and fetcher (an admin token: the "
          "scheduler writes to storage); empty: none");
ABSL_FLAG(std::string, replica_id, "",
          "This replica's lease holder id, unique per process ([A-Za-z0-9._:-]{1,128}; "
          "empty: <hostname>-<pid>)");
ABSL_FLAG(std::string, advertise_address, "",
          "HOST:PORT other replicas tell clients to reach this one at while it is active "
          "(empty: the --listen address with the bound port)");
ABSL_FLAG(absl::Duration, lease_ttl, absl::Seconds(15),
          "Lifetime of the scheduler lease asked for with every grant and renewal (1s to 10m); "
          "a standby takes over within about this long after the active replica dies");
ABSL_FLAG(int, max_concurrent_runs, 4, "Runs going at once across every task; more wait");
ABSL_FLAG(bool, default_tasks, true,
          "Create the default tasks (refresh balances every 5 minutes, prices every 10) when "
          "storage holds no task at all");
ABSL_FLAG(absl::Duration, storage_timeout, absl::Seconds(10), "Deadline of each call to storage");
ABSL_FLAG(absl::Duration, fetcher_timeout, absl::Seconds(60), "Deadline of each call to fetcher");
ABSL_FLAG(absl::Duration, dependency_check_interval, absl::Seconds(2),
          "Between two health checks of storage and fetcher (reported under their names)");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name checked in the certificates of storage and fetcher instead of the host of "
          "--storage/--fetcher (TLS, when --tls_ca is set)");
ABSL_FLAG(bool, forward_to_active, true,
          "While a standby, pass writes (task changes, triggers, cancels) on to the active "
          "replica at its advertised address and relay the answer, so clients may call either "
          "replica; false: answer UNAVAILABLE naming the active one");
ABSL_FLAG(std::string, replica_tls_server_name, "",
          "Name checked in the active replica's certificate when forwarding to it (TLS, when "
          "--tls_ca is set); empty: the host of its advertised address");
ABSL_FLAG(absl::Duration, dependency_check_timeout, absl::Seconds(1),
          "Deadline of each health check; no answer within it counts as not serving");

namespace {

using coffer::scheduler::kStorageDependency;

constexpr char kFetcherDependency[] = "fetcher";

constexpr char kUsage[] =
    "runs the background task loops that refresh balances and prices.\n"
    "Serves coffer.v1.Scheduler, coffer.v1.Admin, grpc.health.v1 and reflection.\n"
    "grpc.health.v1 Check with service \"storage\" or \"fetcher\" answers whether this\n"
    "scheduler sees that dependency SERVING (checked every 2s); service \"\" and\n"
    "\"coffer.v1.Scheduler\" answer for the scheduler itself. Of several replicas only\n"
    "the one holding the lease in storage runs tasks; none starts before storage is\n"
    "SERVING.\n"
    "Every flag also reads COFFER_<FLAG> from the environment.";

bool IsHolderIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

// As storage.proto's Lease.holder_id demands.
bool IsHolderId(const std::string& id) {
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), IsHolderIdChar);
}

// <hostname>-<pid>, with what a holder id may not hold replaced.
std::string DefaultReplicaId() {
  char host[256] = {};
  std::string name = "host";
  if (gethostname(host, sizeof(host) - 1) == 0 && host[0] != '\0') name = host;
  std::string id = absl::StrCat(name.substr(0, 100), "-", getpid());
  std::replace_if(
      id.begin(), id.end(), [](char c) { return !IsHolderIdChar(c); }, '-');
  return id;
}

// The listen address with port 0 replaced by the port bound.
std::string BoundAddress(const std::string& listen, int port) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return absl::StrCat(listen, ":", port);
  return absl::StrCat(listen.substr(0, colon), ":", port);
}

absl::Status CheckFlags(const std::string& replica_id) {
  if (!IsHolderId(replica_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--replica_id: \"", replica_id, "\" is not 1 to 128 of [A-Za-z0-9._:-]"));
  }
  const absl::Duration ttl = absl::GetFlag(FLAGS_lease_ttl);
  if (ttl < absl::Seconds(1) || ttl > absl::Minutes(10)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--lease_ttl: ", absl::FormatDuration(ttl), " is not within 1s to 10m"));
  }
  if (absl::GetFlag(FLAGS_max_concurrent_runs) < 1) {
    return absl::InvalidArgumentError("--max_concurrent_runs: must be at least 1");
  }
  if (absl::GetFlag(FLAGS_storage_timeout) <= absl::ZeroDuration() ||
      absl::GetFlag(FLAGS_fetcher_timeout) <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--storage_timeout, --fetcher_timeout: must be positive");
  }
  const absl::Duration check_interval = absl::GetFlag(FLAGS_dependency_check_interval);
  const absl::Duration check_timeout = absl::GetFlag(FLAGS_dependency_check_timeout);
  if (check_interval <= absl::ZeroDuration() || check_timeout <= absl::ZeroDuration() ||
      check_timeout > check_interval) {
    return absl::InvalidArgumentError(
        absl::StrCat("--dependency_check_interval (", absl::FormatDuration(check_interval),
                     "), --dependency_check_timeout (", absl::FormatDuration(check_timeout),
                     "): both must be positive, the timeout at most the interval"));
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  namespace grpc_util = coffer::grpc_util;
  namespace scheduler = coffer::scheduler;
  using grpc::health::v1::Health;

  coffer::exec::BlockTerminationSignals();
  coffer::config::ParseCommandLine(argc, argv, kUsage);
  coffer::log::Init(coffer::log::OptionsFromFlags("scheduler"));

  std::string replica_id = absl::GetFlag(FLAGS_replica_id);
  if (replica_id.empty()) replica_id = DefaultReplicaId();
  if (absl::Status flags = CheckFlags(replica_id); !flags.ok()) {
    spdlog::critical("scheduler: {}", flags);
    return 1;
  }
  const std::string storage_target = absl::GetFlag(FLAGS_storage);
  const std::string fetcher_target = absl::GetFlag(FLAGS_fetcher);
  const absl::Duration storage_timeout = absl::GetFlag(FLAGS_storage_timeout);
  const absl::Duration fetcher_timeout = absl::GetFlag(FLAGS_fetcher_timeout);
  const absl::Duration lease_ttl = absl::GetFlag(FLAGS_lease_ttl);

  // The scheduler's own certificate and CA (--tls_*) also secure its calls:
  // with a CA it verifies storage and fetcher against it and presents its
  // certificate (mTLS). Without one there is nothing to verify them by, and
  // the calls stay plaintext (the startup line says so).
  grpc_util::TlsFiles client_files = grpc_util::TlsFilesFromFlags();
  if (client_files.ca_file.empty()) client_files = {};
  absl::StatusOr<grpc_util::ChannelSecurity> security =
      grpc_util::MakeChannelSecurity(client_files, absl::GetFlag(FLAGS_tls_server_name));
  if (!security.ok()) {
    spdlog::critical("scheduler: calls to storage and fetcher: {}", security.status());
    return 1;
  }

  // Clients first: everything below calls through them, and they go last.
  grpc_util::ClientQueue storage_queue("storage-client");
  grpc_util::ClientQueue fetcher_queue("fetcher-client");
  std::shared_ptr<grpc::Channel> storage_channel =
      grpc_util::MakeChannel(storage_target, *security);
  std::shared_ptr<grpc::Channel> fetcher_channel =
      grpc_util::MakeChannel(fetcher_target, *security);
  grpc_util::AsyncClient<coffer::v1::Storage> storage(storage_channel, &storage_queue,
                                                      storage_timeout);
  grpc_util::AsyncClient<coffer::v1::Fetcher> fetcher(fetcher_channel, &fetcher_queue,
                                                      fetcher_timeout);
  if (const std::string path = absl::GetFlag(FLAGS_token_file); !path.empty()) {
    absl::StatusOr<std::string> token = grpc_util::auth::ReadBearerToken(path);
    if (!token.ok()) {
      spdlog::critical("scheduler: --token_file: {}", token.status());
      return 1;
    }
    storage.SetDefaultMetadata({grpc_util::auth::BearerMetadata(*token)});
    fetcher.SetDefaultMetadata({grpc_util::auth::BearerMetadata(*token)});
  }
  // Writes a standby passes on to the active replica (active_forwarder.h),
  // over the same credentials (one set of watched files), checking the
  // active's certificate for its own name.
  grpc_util::ClientQueue replica_queue("replica-client");
  std::optional<scheduler::ActiveForwarder> forwarder;
  if (absl::GetFlag(FLAGS_forward_to_active)) {
    grpc_util::ChannelSecurity replica_security = *security;
    replica_security.server_name = absl::GetFlag(FLAGS_replica_tls_server_name);
    forwarder.emplace(replica_id, &replica_queue, std::move(replica_security));
  }
  grpc_util::AsyncClient<Health> storage_health(storage_channel, &storage_queue);
  grpc_util::AsyncClient<Health> fetcher_health(fetcher_channel, &fetcher_queue);

  scheduler::WallClock wall_clock;
  scheduler::SteadyClock steady_clock;
  scheduler::GrpcSchedulerStore store(&storage, storage_timeout);
  scheduler::GrpcRunStorage run_storage(&storage, storage_timeout);
  scheduler::GrpcRunFetcher run_fetcher(&fetcher, fetcher_timeout);
  // A lease call must answer well within the lease: the keeper steps down
  // by its local deadline anyway, but a shorter wait retries sooner.
  scheduler::GrpcLeaseStore lease_store(&storage, std::min(storage_timeout, lease_ttl / 3));
  scheduler::RunEvents events;
  scheduler::RandomJitterSource jitter;
  scheduler::TaskEngine engine(
      {
          .holder_id = replica_id,
          .max_concurrent_runs = absl::GetFlag(FLAGS_max_concurrent_runs),
          .create_default_tasks = absl::GetFlag(FLAGS_default_tasks),
      },
      &store, {.storage = &run_storage, .fetcher = &run_fetcher}, &wall_clock, &jitter, &events);

  grpc_util::ServiceHost host({
      .name = "coffer-scheduler",
      .grpc_services = {"coffer.v1.Scheduler"},
      .default_listen = "127.0.0.1:50053",
  });
  // Known (NOT_SERVING) before the first check rather than unknown.
  host.health().SetServing(kStorageDependency, false);
  host.health().SetServing(kFetcherDependency, false);

  // Built once the port is bound (its holder address may name it); started
  // the first time storage reports SERVING, so no run starts before.
  std::unique_ptr<scheduler::LeaseKeeper> keeper;
  bool keeper_started = false;  // the monitor's thread only
  scheduler::DependencyMonitor monitor(
      {
          {.name = kStorageDependency, .target = storage_target, .health = &storage_health},
          {.name = kFetcherDependency, .target = fetcher_target, .health = &fetcher_health},
      },
      {.interval = absl::GetFlag(FLAGS_dependency_check_interval),
       .timeout = absl::GetFlag(FLAGS_dependency_check_timeout)},
      &steady_clock, [] { return absl::Now(); },
      [&](const std::string& name, bool serving) {
        host.health().SetServing(name, serving);
        if (name != kStorageDependency || !serving || keeper_started) return;
        keeper_started = true;
        if (absl::Status started = keeper->Start(); !started.ok()) {
          spdlog::critical("scheduler: the lease keeper did not start: {}", started);
        }
      });

  scheduler::SchedulerService api(replica_id, &engine, &events, &monitor, &wall_clock);
  if (forwarder.has_value()) api.SetForwarder(&*forwarder);
  api.Register(host.server());
  std::string advertised = absl::GetFlag(FLAGS_advertise_address);
  host.admin().SetDetailsProvider([&replica_id, &advertised, storage_target, fetcher_target] {
    return std::map<std::string, std::string>{{"replica_id", replica_id},
                                              {"advertise_address", advertised},
                                              {"storage", storage_target},
                                              {"fetcher", fetcher_target}};
  });

  return host.Run(
      [&]() -> absl::Status {
        if (advertised.empty()) {
          advertised = BoundAddress(host.server().listen_address(), host.server().port());
        }
        engine.Start();
        keeper = std::make_unique<scheduler::LeaseKeeper>(
            scheduler::LeaseKeeperOptions{
                .holder_id = replica_id, .holder_address = advertised, .ttl = lease_ttl},
            &lease_store, &steady_clock,
            scheduler::LeaseKeeper::Callbacks{
                .on_acquired = [&](const coffer::v1::Fence& fence) { engine.Activate(fence); },
                .on_lost =
                    [&](const absl::Status& reason) {
                      engine.Deactivate(reason);
                      api.OnLeaseLost(reason);
                    },
            });
        api.AttachLease(keeper.get(), advertised);
        monitor.Start();
        spdlog::info("scheduler: replica {} at {}; storage {}, fetcher {}, called over {}",
                     replica_id, advertised, storage_target, fetcher_target,
                     security->tls() ? "TLS" : "plaintext");
        return absl::OkStatus();
      },
      [&] {
        // No listener after this, so the keeper cannot start behind it;
        // then the lease goes back to storage (a standby takes over at once)
        // and every run is cancelled before the engine's thread is joined.
        monitor.Stop();
        if (keeper) keeper->Stop();
        engine.Stop();
        api.Stop();
        storage_queue.Shutdown();
        fetcher_queue.Shutdown();
      });
}
