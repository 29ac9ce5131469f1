#include "common/grpc/auth/bearer_token.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace coffer::grpc_util::auth {

absl::StatusOr<std::string> ReadBearerToken(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int error = errno;
    std::string message = absl::StrCat("cannot read token file ", path, ": ", std::strerror(error));
    return error == ENOENT ? absl::NotFoundError(message) : absl::PermissionDeniedError(message);
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    for (char c : line) {
      if (absl::ascii_isspace(static_cast<unsigned char>(c)) || absl::ascii_iscntrl(c)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "token file ", path, ": the token has whitespace or control characters inside"));
      }
    }
    return std::string(line);
  }
  return absl::InvalidArgumentError(absl::StrCat("token file ", path, ": no token in it"));
}

std::pair<std::string, std::string> BearerMetadata(std::string_view token) {
  return {"authorization", absl::StrCat("Bearer ", absl::string_view(token.data(), token.size()))};
}

}  // namespace coffer::grpc_util::auth
