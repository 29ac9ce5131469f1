#include "tools/cofferctl/inputs.h"

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

#include "tools/cofferctl/command.h"

namespace coffer::cofferctl {

std::vector<std::string> SplitIds(absl::string_view text) {
  std::vector<std::string> ids;
  std::set<std::string> seen;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = line.substr(0, line.find('#'));
    for (absl::string_view id :
         absl::StrSplit(line, absl::ByAnyChar(" \t\r,"), absl::SkipEmpty())) {
      if (seen.insert(std::string(id)).second) ids.emplace_back(id);
    }
  }
  return ids;
}

absl::StatusOr<std::vector<std::string>> ReadIds(const std::vector<std::string>& args,
                                                 const std::string& file, std::istream& in) {
  std::string text;
  if (!file.empty()) {
    if (!args.empty()) return UsageError("give ids as arguments or with --file, not both");
    std::ifstream stream(file);
    if (!stream) return absl::NotFoundError(absl::StrCat("cannot read ", file));
    std::stringstream buffer;
    buffer << stream.rdbuf();
    text = buffer.str();
  } else if (args.size() == 1 && args[0] == "-") {
    std::stringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
  } else {
    for (const std::string& arg : args) absl::StrAppend(&text, arg, "\n");
  }
  std::vector<std::string> ids = SplitIds(text);
  if (ids.empty()) return UsageError("no ids given (arguments, --file FILE, or - for stdin)");
  return ids;
}

}  // namespace coffer::cofferctl
