// Lists of ids from the command line: arguments, a file (--file), or
// standard input ("-" as the only argument), one per line or separated by
// spaces or commas; '#' starts a comment. Empty entries are dropped,
// duplicates kept in first-seen order once.
#ifndef COFFER_TOOLS_COFFERCTL_INPUTS_H_
#define COFFER_TOOLS_COFFERCTL_INPUTS_H_

#include <istream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace coffer::cofferctl {

// The ids in `text`, split as above.
std::vector<std::string> SplitIds(absl::string_view text);

// `args`, or the file's ids when `file` is set, or `in`'s when args is {"-"}.
// A usage error when none are given or both args and a file are.
absl::StatusOr<std::vector<std::string>> ReadIds(const std::vector<std::string>& args,
                                                 const std::string& file, std::istream& in);

}  // namespace coffer::cofferctl

#endif  // COFFER_TOOLS_COFFERCTL_INPUTS_H_
