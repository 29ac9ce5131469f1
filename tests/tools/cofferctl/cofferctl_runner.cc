#include "tests/tools/cofferctl/cofferctl_runner.h"

#include <utility>

#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include <google/protobuf/util/json_util.h>

#include "tests/integration/integration_test_base.h"

namespace coffer::testing {
namespace {

// Generous: the longest runs (10,000 accounts, `--wait` on a whole run)
// take well under this even under ASan; it only bounds a hung binary.
constexpr absl::Duration kRunTimeout = absl::Minutes(3);

CommandOutput Run(const std::vector<std::string>& args, std::optional<std::string> stdin_text,
                  bool split_stderr) {
  absl::StatusOr<CommandOutput> result =
      RunCommandWith({.binary = RunfilePath("tools/cofferctl/cofferctl"),
                      .args = args,
                      .stdin_text = std::move(stdin_text),
                      // The secure suite's certificate and token, by the
                      // variables cofferctl reads (its flags still win).
                      .env = IntegrationTestBase::ClientEnvironment(),
                      .timeout = kRunTimeout,
                      .split_stderr = split_stderr});
  EXPECT_TRUE(result.ok()) << result.status();
  return result.ok() ? *std::move(result) : CommandOutput{-1, "", ""};
}

}  // namespace

CommandOutput RunCofferctl(const std::vector<std::string>& args,
                           std::optional<std::string> stdin_text) {
  return Run(args, std::move(stdin_text), /*split_stderr=*/true);
}

CommandOutput RunCofferctlMerged(const std::vector<std::string>& args) {
  return Run(args, std::nullopt, /*split_stderr=*/false);
}

std::vector<std::string> Prepend(std::vector<std::string> flags,
                                 const std::vector<std::string>& args) {
  flags.insert(flags.end(), args.begin(), args.end());
  return flags;
}

std::vector<std::string> AddressFlags(const ServiceProcess& fetcher, const ServiceProcess& storage,
                                      const ServiceProcess& scheduler) {
  return {"--fetcher=" + fetcher.address(), "--storage=" + storage.address(),
          "--scheduler=" + scheduler.address()};
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

::testing::AssertionResult JsonToMessage(const std::string& text,
                                         google::protobuf::Message* message) {
  const auto status = google::protobuf::util::JsonStringToMessage(text, message);
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "not a " << message->GetTypeName() << " in proto JSON (" << status.ToString() << "):\n"
         << text;
}

}  // namespace coffer::testing
