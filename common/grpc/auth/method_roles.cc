#include "common/grpc/auth/method_roles.h"

#include <utility>

namespace coffer::grpc_util::auth {
namespace {

constexpr Role kRead = Role::kRead;
constexpr Role kAdmin = Role::kAdmin;

// Reads of what people look at (balances, portfolio, history, prices,
// listings, status) need read. Everything that changes state needs admin,
// and so does the plumbing only the scheduler uses (storage's task
// definitions, run records and leases), which an observer has no business
// reading or probing.
constexpr std::pair<std::string_view, Role> kTable[] = {
    // coffer.v1.Storage
    {"/coffer.v1.Storage/AddAccounts", kAdmin},
    {"/coffer.v1.Storage/RemoveAccounts", kAdmin},
    {"/coffer.v1.Storage/ListAccounts", kRead},
    {"/coffer.v1.Storage/WriteSnapshot", kAdmin},
    {"/coffer.v1.Storage/WriteSnapshotPart", kAdmin},
    {"/coffer.v1.Storage/ListSnapshots", kRead},
    {"/coffer.v1.Storage/GetSnapshot", kRead},
    {"/coffer.v1.Storage/GetLatestBalances", kRead},
    {"/coffer.v1.Storage/GetBalanceHistory", kRead},
    {"/coffer.v1.Storage/GetPortfolio", kRead},
    {"/coffer.v1.Storage/WritePrices", kAdmin},
    {"/coffer.v1.Storage/GetLatestPrices", kRead},
    {"/coffer.v1.Storage/GetPriceHistory", kRead},
    {"/coffer.v1.Storage/CreateTaskDefinition", kAdmin},
    {"/coffer.v1.Storage/GetTaskDefinition", kAdmin},
    {"/coffer.v1.Storage/ListTaskDefinitions", kAdmin},
    {"/coffer.v1.Storage/UpdateTaskDefinition", kAdmin},
    {"/coffer.v1.Storage/DeleteTaskDefinition", kAdmin},
    {"/coffer.v1.Storage/StartRun", kAdmin},
    {"/coffer.v1.Storage/FinishRun", kAdmin},
    {"/coffer.v1.Storage/GetRunRecord", kAdmin},
    {"/coffer.v1.Storage/ListRunRecords", kAdmin},
    {"/coffer.v1.Storage/AbandonRuns", kAdmin},
    {"/coffer.v1.Storage/AcquireLease", kAdmin},
    {"/coffer.v1.Storage/RenewLease", kAdmin},
    {"/coffer.v1.Storage/ReleaseLease", kAdmin},
    {"/coffer.v1.Storage/GetLease", kAdmin},
    {"/coffer.v1.Storage/Backup", kAdmin},
    {"/coffer.v1.Storage/Rekey", kAdmin},
    {"/coffer.v1.Storage/Prune", kAdmin},
    // coffer.v1.Fetcher: reads only, though each one spends upstream quota.
    {"/coffer.v1.Fetcher/QueryBalances", kRead},
    {"/coffer.v1.Fetcher/StreamBalances", kRead},
    {"/coffer.v1.Fetcher/QueryPrices", kRead},
    {"/coffer.v1.Fetcher/ResolveBlocks", kRead},
    {"/coffer.v1.Fetcher/ListUpstreams", kRead},
    // coffer.v1.Scheduler: what people use to see and drive tasks.
    {"/coffer.v1.Scheduler/CreateTask", kAdmin},
    {"/coffer.v1.Scheduler/GetTask", kRead},
    {"/coffer.v1.Scheduler/ListTasks", kRead},
    {"/coffer.v1.Scheduler/UpdateTask", kAdmin},
    {"/coffer.v1.Scheduler/DeleteTask", kAdmin},
    {"/coffer.v1.Scheduler/PauseTask", kAdmin},
    {"/coffer.v1.Scheduler/ResumeTask", kAdmin},
    {"/coffer.v1.Scheduler/TriggerTask", kAdmin},
    {"/coffer.v1.Scheduler/CancelRun", kAdmin},
    {"/coffer.v1.Scheduler/GetRun", kRead},
    {"/coffer.v1.Scheduler/ListRuns", kRead},
    {"/coffer.v1.Scheduler/WatchRuns", kRead},
    {"/coffer.v1.Scheduler/GetReplicaStatus", kRead},
    // coffer.v1.Admin, served by every service.
    {"/coffer.v1.Admin/GetMetrics", kRead},
    {"/coffer.v1.Admin/GetStatus", kRead},
    {"/coffer.v1.Admin/SetLogLevel", kAdmin},
    {"/coffer.v1.Admin/Ping", kRead},
};

// "grpc.health.v1.Health" of "/grpc.health.v1.Health/Check".
std::string_view ServiceOf(std::string_view full_method) {
  if (full_method.empty() || full_method.front() != '/') return {};
  full_method.remove_prefix(1);
  size_t slash = full_method.find('/');
  return slash == std::string_view::npos ? std::string_view() : full_method.substr(0, slash);
}

}  // namespace

std::optional<Role> RequiredRole(std::string_view full_method) {
  std::string_view service = ServiceOf(full_method);
  for (std::string_view open : kOpenServices) {
    if (service == open) return std::nullopt;
  }
  return ClassifiedRole(full_method).value_or(Role::kAdmin);
}

std::optional<Role> ClassifiedRole(std::string_view full_method) {
  // A scan: this runs once per registered method when the server starts.
  for (const auto& [method, role] : kTable) {
    if (method == full_method) return role;
  }
  return std::nullopt;
}

std::vector<std::string> ClassifiedMethods() {
  std::vector<std::string> methods;
  for (const auto& [method, role] : kTable) methods.emplace_back(method);
  return methods;
}

}  // namespace coffer::grpc_util::auth
