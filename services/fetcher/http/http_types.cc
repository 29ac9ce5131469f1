#include "services/fetcher/http/http_types.h"

#include <string>
#include <string_view>

namespace coffer::fetcher {

const std::string* HttpResponse::FindHeader(std::string_view lowercase_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lowercase_name) return &value;
  }
  return nullptr;
}

std::string HostForLog(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return "<bad url>";
  std::string_view rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  // Drop credentials ("user:password@host").
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  if (rest.empty()) return "<bad url>";
  return std::string(rest);
}

}  // namespace coffer::fetcher
