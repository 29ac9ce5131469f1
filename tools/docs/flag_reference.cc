// Prints the flags every coffer service shares as a Markdown table, for the
// README's configuration reference: bazel run //tools/docs:flag_reference
#include <iostream>

#include "common/config/flags.h"

int main(int argc, char** argv) {
  coffer::config::ParseCommandLine(argc, argv, "prints the common flags as Markdown");
  std::cout << coffer::config::FlagReferenceMarkdown(coffer::config::FlagSet::kShared);
  return 0;
}
