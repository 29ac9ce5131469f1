// What the storage benchmark's programs measure besides their own clocks:
// exact percentiles of latency samples, and the CPU time of this process, of
// the server under test and of everything else on the machine over a
// window. The last tells a clean run from one a neighbour (a build) slowed
// down, which on a shared machine matters more than any single figure.
//
//   CpuWindow cpu(server_pid);   // 0: no server
//   cpu.Start();
//   ... measured work ...
//   cpu.Stop();
//   absl::StrAppend(&json, cpu.JsonFields(seconds));
#ifndef COFFER_TOOLS_BENCH_STORAGE_MEASUREMENT_H_
#define COFFER_TOOLS_BENCH_STORAGE_MEASUREMENT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace coffer::bench {

// Nearest-rank percentile of sorted `samples`: the smallest value with at
// least a fraction `q` of them at or below it; 0 when there are none.
int64_t Percentile(const std::vector<int64_t>& sorted_samples, double q);

// User + system CPU time of process `pid` (0: this one) so far, from /proc;
// nullopt when it cannot be read.
std::optional<double> ProcessCpuSeconds(int pid);

// CPU time the whole machine spent busy so far, every CPU (steal counts as
// busy), from /proc/stat.
std::optional<double> MachineBusySeconds();

// CPU used by this process, a server and the rest of the machine between
// Start and Stop.
class CpuWindow {
 public:
  explicit CpuWindow(int server_pid) : server_pid_(server_pid) {}
  void Start();
  void Stop();
  // ",\"client_cpu_cores\":…,\"server_cpu_cores\":…,\"other_cpu_cores\":…",
  // in cores busy over `seconds`; fields that could not be read are left out.
  std::string JsonFields(double seconds, const char* own_name = "client") const;
  // Server CPU seconds over the window; nullopt without a server.
  std::optional<double> server_seconds() const;

 private:
  struct Reading {
    std::optional<double> own;
    std::optional<double> server;
    std::optional<double> machine;
  };
  Reading Read() const;

  const int server_pid_;
  Reading start_;
  Reading stop_;
};

}  // namespace coffer::bench

#endif  // COFFER_TOOLS_BENCH_STORAGE_MEASUREMENT_H_
