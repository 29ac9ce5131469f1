#include "common/config/textproto.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/text_format.h"

namespace coffer::config {
namespace {

// Turns the parser's zero-based positions into "source:line:col: message".
class PositionedErrors : public google::protobuf::io::ErrorCollector {
 public:
  explicit PositionedErrors(absl::string_view source_name) : source_name_(source_name) {}

  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    // The parser reports line -1 for errors that belong to the whole message,
    // such as a missing required field.
    if (line < 0) {
      errors_.push_back(absl::StrCat(source_name_, ": ", message));
    } else {
      errors_.push_back(absl::StrCat(source_name_, ":", line + 1, ":", column + 1, ": ", message));
    }
  }

  const std::vector<std::string>& errors() const { return errors_; }

 private:
  absl::string_view source_name_;
  std::vector<std::string> errors_;
};

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

absl::Status ErrnoError(int error_number, const std::string& path) {
  if (error_number == ENOENT) {
    return absl::NotFoundError(absl::StrCat("config file not found: ", path));
  }
  return absl::Status(
      absl::ErrnoToStatusCode(error_number),
      absl::StrCat("cannot read config file ", path, ": ", std::strerror(error_number)));
}

}  // namespace

absl::Status ParseTextProto(absl::string_view text, absl::string_view source_name,
                            google::protobuf::Message* out) {
  if (text.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": too large to parse"));
  }
  PositionedErrors errors(source_name);
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  // Both are the defaults; stated because strictness is this function's point.
  parser.AllowUnknownField(false);
  parser.AllowPartialMessage(false);
  google::protobuf::io::ArrayInputStream input(text.data(), static_cast<int>(text.size()));
  if (parser.Parse(&input, out)) return absl::OkStatus();
  if (errors.errors().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ": cannot parse as ", out->GetDescriptor()->full_name()));
  }
  return absl::InvalidArgumentError(absl::StrJoin(errors.errors(), "; "));
}

absl::Status LoadTextProto(const std::string& path, google::protobuf::Message* out) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (file == nullptr) return ErrnoError(errno, path);
  std::string text;
  char buffer[1 << 14];
  while (true) {
    const size_t read = std::fread(buffer, 1, sizeof(buffer), file.get());
    text.append(buffer, read);
    if (read < sizeof(buffer)) break;
  }
  // A directory opens fine on Linux and fails on the first read (EISDIR).
  if (std::ferror(file.get())) return ErrnoError(errno, path);
  return ParseTextProto(text, path, out);
}

}  // namespace coffer::config
