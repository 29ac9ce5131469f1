#include "services/fetcher/config/header_values.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace coffer::fetcher {
namespace {

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

absl::Status ErrnoStatus(int error, absl::string_view message) {
  const std::string text = absl::StrCat(message, ": ", std::strerror(error));
  switch (error) {
    case ENOENT:
      return absl::NotFoundError(text);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(text);
    default:
      return absl::FailedPreconditionError(text);
  }
}

// At most kMaxHeaderValueBytes + 1 bytes of `path`, enough to tell "too long".
absl::StatusOr<std::string> ReadValueFile(const std::string& path, absl::string_view what) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) {
    return ErrnoStatus(errno, absl::StrCat(what, ": cannot open value file ", path));
  }
  std::string contents(kMaxHeaderValueBytes + 1, '\0');
  const size_t read = std::fread(contents.data(), 1, contents.size(), file.get());
  if (std::ferror(file.get())) {
    return ErrnoStatus(errno, absl::StrCat(what, ": cannot read value file ", path));
  }
  contents.resize(read);
  if (absl::EndsWith(contents, "\r\n")) {
    contents.resize(contents.size() - 2);
  } else if (absl::EndsWith(contents, "\n")) {
    contents.pop_back();
  }
  return contents;
}

absl::Status CheckValue(absl::string_view value, absl::string_view what) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": value is empty"));
  if (value.size() > kMaxHeaderValueBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": value is longer than ", kMaxHeaderValueBytes, " bytes"));
  }
  for (char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t') || byte == 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": value holds a line break or control character"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<HttpHeader>> ResolveHeaders(
    const google::protobuf::RepeatedPtrField<config::HeaderConfig>& headers) {
  std::vector<HttpHeader> resolved;
  resolved.reserve(headers.size());
  for (const config::HeaderConfig& header : headers) {
    const std::string what = absl::StrCat("header ", header.name());
    std::string value;
    switch (header.source_case()) {
      case config::HeaderConfig::kValueFile: {
        absl::StatusOr<std::string> contents = ReadValueFile(header.value_file(), what);
        if (!contents.ok()) return contents.status();
        value = *std::move(contents);
        break;
      }
      case config::HeaderConfig::kValueEnv: {
        const char* env = std::getenv(header.value_env().c_str());
        if (env == nullptr) {
          return absl::NotFoundError(
              absl::StrCat(what, ": environment variable ", header.value_env(), " is not set"));
        }
        value = env;
        break;
      }
      case config::HeaderConfig::SOURCE_NOT_SET:
        return absl::InvalidArgumentError(absl::StrCat(what, ": no value_file or value_env"));
    }
    if (absl::Status status = CheckValue(value, what); !status.ok()) return status;
    resolved.push_back({header.name(), std::move(value)});
  }
  return resolved;
}

}  // namespace coffer::fetcher
