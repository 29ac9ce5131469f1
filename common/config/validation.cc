#include "common/config/validation.h"

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace coffer::config {

FieldPath FieldPath::Field(absl::string_view name) const {
  if (path_.empty()) return FieldPath(name);
  return FieldPath(absl::StrCat(path_, ".", name));
}

FieldPath FieldPath::Index(int64_t index) const {
  return FieldPath(absl::StrCat(path_, "[", index, "]"));
}

FieldPath FieldPath::Key(absl::string_view key) const {
  return FieldPath(absl::StrCat(path_, "[\"", absl::CHexEscape(key), "\"]"));
}

bool FieldErrors::Check(bool condition, const FieldPath& path, absl::string_view message) {
  if (!condition) Add(path, message);
  return condition;
}

void FieldErrors::Add(const FieldPath& path, absl::string_view message) {
  if (path.empty()) {
    errors_.emplace_back(message);
  } else {
    errors_.push_back(absl::StrCat(path.str(), ": ", message));
  }
}

bool FieldErrors::CheckOk(const FieldPath& path, const absl::Status& status) {
  if (!status.ok()) Add(path, status.message());
  return status.ok();
}

absl::Status FieldErrors::ToStatus() const {
  if (errors_.empty()) return absl::OkStatus();
  std::string message = absl::StrJoin(errors_, "; ");
  if (!source_.empty()) message = absl::StrCat(source_, ": ", message);
  return absl::InvalidArgumentError(message);
}

}  // namespace coffer::config
