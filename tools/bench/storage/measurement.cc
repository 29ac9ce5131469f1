#include "tools/bench/storage/measurement.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace coffer::bench {

int64_t Percentile(const std::vector<int64_t>& sorted_samples, double q) {
  if (sorted_samples.empty()) return 0;
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted_samples.size())));
  return sorted_samples[std::clamp<size_t>(rank, 1, sorted_samples.size()) - 1];
}

std::optional<double> ProcessCpuSeconds(int pid) {
  std::ifstream file(pid == 0 ? std::string("/proc/self/stat")
                              : absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(file, line)) return std::nullopt;
  // Field 2, the command name, is in parentheses and may hold spaces.
  const size_t close = line.rfind(')');
  if (close == std::string::npos || close + 2 > line.size()) return std::nullopt;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  // Fields from 3 (state) on; utime and stime are 14 and 15.
  double ticks = 0;
  for (int index = 3; index <= 15 && fields >> field; ++index) {
    if (index >= 14) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

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

CpuWindow::Reading CpuWindow::Read() const {
  Reading reading;
  reading.own = ProcessCpuSeconds(0);
  if (server_pid_ > 0) reading.server = ProcessCpuSeconds(server_pid_);
  reading.machine = MachineBusySeconds();
  return reading;
}

void CpuWindow::Start() { start_ = Read(); }

void CpuWindow::Stop() { stop_ = Read(); }

std::optional<double> CpuWindow::server_seconds() const {
  if (!start_.server || !stop_.server) return std::nullopt;
  return *stop_.server - *start_.server;
}

std::string CpuWindow::JsonFields(double seconds, const char* own_name) const {
  if (seconds <= 0) return "";
  std::string json;
  std::optional<double> own;
  if (start_.own && stop_.own) {
    own = *stop_.own - *start_.own;
    absl::StrAppendFormat(&json, ",\"%s_cpu_cores\":%.2f", own_name, *own / seconds);
  }
  const std::optional<double> server = server_seconds();
  if (server) absl::StrAppendFormat(&json, ",\"server_cpu_cores\":%.2f", *server / seconds);
  if (start_.machine && stop_.machine && own && (server || server_pid_ == 0)) {
    const double others = *stop_.machine - *start_.machine - *own - server.value_or(0);
    absl::StrAppendFormat(&json, ",\"other_cpu_cores\":%.2f", std::max(0.0, others) / seconds);
  }
  return json;
}

}  // namespace coffer::bench
