// How cofferctl's integration tests run the real binary and read what it
// printed: one way to run it (a run that could not happen fails the test
// rather than crashing it), one way to put a fixture's address flags in
// front of a command line, and one way to parse a `--output json` document
// so that a parse failure shows the text that did not parse.
//
//   CommandOutput Ctl(const std::vector<std::string>& args) {
//     return RunCofferctl(Prepend({"--storage=" + storage_address_}, args));
//   }
//   ...
//   auto listed = ParseSuccessfulOutput<v1::ListAccountsResponse>(
//       Ctl({"--output=json", "accounts", "ls"}));
#ifndef COFFER_TESTS_TOOLS_COFFERCTL_COFFERCTL_RUNNER_H_
#define COFFER_TESTS_TOOLS_COFFERCTL_COFFERCTL_RUNNER_H_

#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include <google/protobuf/message.h>

#include "tests/integration/service_process.h"

namespace coffer::testing {

// Runs the cofferctl binary (data of this library) with `args`, `stdin_text`
// on its standard input, its stderr apart from its stdout. A run that could
// not happen fails the test (non-fatally) and answers exit code -1 with no
// output, so the test's own checks fail on it too.
CommandOutput RunCofferctl(const std::vector<std::string>& args,
                           std::optional<std::string> stdin_text = std::nullopt);

// RunCofferctl with stderr joined into stdout_text (stderr_text is empty):
// for checks on everything the binary printed, e.g. that a JSON document is
// all of it, or that a usage error names the flag wherever it was written.
CommandOutput RunCofferctlMerged(const std::vector<std::string>& args);

// `flags` followed by `args`: a fixture's address flags in front of a test's
// command line.
std::vector<std::string> Prepend(std::vector<std::string> flags,
                                 const std::vector<std::string>& args);

// --fetcher, --storage and --scheduler naming these processes' addresses.
std::vector<std::string> AddressFlags(const ServiceProcess& fetcher, const ServiceProcess& storage,
                                      const ServiceProcess& scheduler);

// The non-empty lines of `text` (a table, or newline-delimited JSON).
std::vector<std::string> Lines(const std::string& text);

// Parses `text` as the proto JSON of `message`; on failure the result says
// why and shows the text. For ASSERT_TRUE where nothing after a failed parse
// is worth checking, EXPECT_TRUE otherwise.
::testing::AssertionResult JsonToMessage(const std::string& text,
                                         google::protobuf::Message* message);

// `text` parsed as the proto JSON of Message; a parse failure fails the test
// (non-fatally) with the text, and answers what was parsed until then.
template <typename Message>
Message ParseJson(const std::string& text) {
  Message message;
  EXPECT_TRUE(JsonToMessage(text, &message));
  return message;
}

// The stdout of a `--output json` run parsed as Message; the run must have
// succeeded: an exit code other than 0 fails the test (non-fatally) with the
// run's stderr.
template <typename Message>
Message ParseSuccessfulOutput(const CommandOutput& output) {
  EXPECT_EQ(output.exit_code, 0) << output.stderr_text;
  return ParseJson<Message>(output.stdout_text);
}

// RunCofferctl with `args` and then --output=json; its stdout parsed as
// Message by ParseSuccessfulOutput.
template <typename Message>
Message RunCofferctlJson(std::vector<std::string> args) {
  args.push_back("--output=json");
  return ParseSuccessfulOutput<Message>(RunCofferctl(args));
}

}  // namespace coffer::testing

#endif  // COFFER_TESTS_TOOLS_COFFERCTL_COFFERCTL_RUNNER_H_
