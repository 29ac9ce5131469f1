#include "services/storage/repos/paging.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

#include "common/status/status_macros.h"

namespace coffer::storage {
namespace {

constexpr char kSeparator = '\0';

// A check on the token's own text, so a token cut short or edited by hand
// is refused instead of decoding to some other valid position. Not a
// secret: tokens are opaque for convenience, not for security. FNV-1a, 64
// bits, as 16 hex digits.
std::string Check(absl::string_view plain) {
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : plain) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return absl::StrCat(absl::Hex(hash, absl::kZeroPad16));
}

}  // namespace

absl::StatusOr<int32_t> PageSize(const v1::PageRequest& page, int32_t default_size,
                                 int32_t max_size) {
  const int32_t size = page.page_size();
  if (size < 0) {
    return absl::InvalidArgumentError(absl::StrCat("page.page_size: ", size, " is negative"));
  }
  if (size == 0) return default_size;
  return size > max_size ? max_size : size;
}

std::string EncodePageToken(absl::string_view kind, absl::string_view fingerprint,
                            absl::Span<const std::string> cursor) {
  const std::string separator(1, kSeparator);
  std::string plain = absl::StrCat(kind, separator, fingerprint);
  for (const std::string& part : cursor) absl::StrAppend(&plain, separator, part);
  absl::StrAppend(&plain, separator, Check(plain));
  return absl::WebSafeBase64Escape(plain);
}

absl::StatusOr<std::vector<std::string>> DecodePageToken(absl::string_view token,
                                                         absl::string_view kind,
                                                         absl::string_view fingerprint,
                                                         size_t cursor_parts,
                                                         absl::string_view method) {
  if (token.empty()) return std::vector<std::string>();
  std::string plain;
  std::vector<std::string> parts;
  if (absl::WebSafeBase64Unescape(token, &plain)) {
    // Parts may be empty but never hold a NUL (ids are validated text), so
    // a token of another shape has another number of parts.
    const size_t last = plain.rfind(kSeparator);
    if (last != std::string::npos && plain.substr(last + 1) == Check(plain.substr(0, last))) {
      parts = absl::StrSplit(plain.substr(0, last), kSeparator);
    }
  }
  if (parts.size() != cursor_parts + 2 || parts[0] != kind || parts[1] != fingerprint) {
    return absl::InvalidArgumentError(
        absl::StrCat("page.page_token: not a token of ", method, " with these filters"));
  }
  parts.erase(parts.begin(), parts.begin() + 2);
  return parts;
}

absl::StatusOr<bool> ReadPage(db::Statement& select, int32_t page_size,
                              absl::FunctionRef<absl::Status()> add_row) {
  absl::StatusOr<bool> more = [&]() -> absl::StatusOr<bool> {
    for (int32_t rows = 0;; ++rows) {
      ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) return false;
      if (rows == page_size) return true;
      RETURN_IF_ERROR(add_row());
    }
  }();
  select.Reset();
  return more;
}

}  // namespace coffer::storage
