// Renders the `cofferctl status` answer as an aligned table for people or
// one JSON document for scripts.
#ifndef COFFER_TOOLS_COFFERCTL_STATUS_TABLE_H_
#define COFFER_TOOLS_COFFERCTL_STATUS_TABLE_H_

#include <optional>
#include <string>
#include <vector>

#include "coffer/v1/admin.pb.h"

namespace coffer::cofferctl {

struct ServiceStatus {
  std::string name;
  std::string address;
  // SERVING, NOT_SERVING, UNREACHABLE, ...
  std::string health;
  std::optional<v1::GetStatusResponse> status;
  std::string error;
};

std::string StatusTable(const std::vector<ServiceStatus>& services);
std::string StatusJson(const std::vector<ServiceStatus>& services);

}  // namespace coffer::cofferctl

#endif  // COFFER_TOOLS_COFFERCTL_STATUS_TABLE_H_
