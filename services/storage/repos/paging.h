// Paging shared by every listing repository: the page size a PageRequest
// asks for, and opaque page tokens bound to the method and its filters.
//
// A token is web-safe base64 of NUL-separated parts: the method's token
// kind, a fingerprint of the request's filters, then the cursor (the sort
// key of the last item of the previous page). A token from another method,
// from other filters or of another shape is INVALID_ARGUMENT, so a client
// that changes its filters between pages hears it instead of getting a page
// of something else.
#ifndef COFFER_SERVICES_STORAGE_REPOS_PAGING_H_
#define COFFER_SERVICES_STORAGE_REPOS_PAGING_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

#include "coffer/v1/common.pb.h"
#include "services/storage/db/statement.h"

namespace coffer::storage {

// The page size of `page`: 0 takes `default_size`, above `max_size` is
// lowered to it, negative is INVALID_ARGUMENT naming page.page_size.
[[nodiscard]] absl::StatusOr<int32_t> PageSize(const v1::PageRequest& page, int32_t default_size,
                                               int32_t max_size);

// `fingerprint` and the cursor parts must not hold NUL bytes (hex-encode
// digests).
std::string EncodePageToken(absl::string_view kind, absl::string_view fingerprint,
                            absl::Span<const std::string> cursor);

// The cursor of `token`: empty for an empty token (the first page), else
// exactly `cursor_parts` parts. INVALID_ARGUMENT naming page.page_token and
// `method` for anything that EncodePageToken(kind, fingerprint, ...) did not
// produce.
[[nodiscard]] absl::StatusOr<std::vector<std::string>> DecodePageToken(
    absl::string_view token, absl::string_view kind, absl::string_view fingerprint,
    size_t cursor_parts, absl::string_view method);

// Reads one page from `select`, bound to ask for page_size + 1 rows: calls
// `add_row` on each of the first `page_size` rows and answers whether a
// further row followed (so a next page exists). Resets `select` after.
[[nodiscard]] absl::StatusOr<bool> ReadPage(db::Statement& select, int32_t page_size,
                                            absl::FunctionRef<absl::Status()> add_row);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_PAGING_H_
