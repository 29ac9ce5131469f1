#include "tests/testing/test_contracts.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

#include "tests/testing/evm_hex.h"

namespace coffer::testing {

std::string ContractArtifact(const std::string& name) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  std::ifstream in(
      absl::StrCat(srcdir != nullptr ? srcdir : ".", "/coffer/tools/contracts/out/", name, ".bin"));
  std::stringstream contents;
  contents << in.rdbuf();
  return std::string(absl::StripAsciiWhitespace(contents.str()));
}

std::string ShortStringTail(const std::string& text) {
  std::string hex;
  for (unsigned char c : text) hex += absl::StrCat(absl::Hex(c, absl::kZeroPad2));
  return absl::StrCat(UintWord(text.size()), hex, std::string(64 - hex.size(), '0'));
}

absl::StatusOr<std::string> DeployContract(AnvilNode& node, const std::string& name,
                                           const std::string& args_hex) {
  const std::string bytecode = ContractArtifact(name);
  if (bytecode.empty()) {
    return absl::NotFoundError(absl::StrCat(name, ".bin is missing from the test's runfiles"));
  }
  return node.Deploy(bytecode, args_hex, node.account(0));
}

absl::StatusOr<std::string> DeployTestToken(AnvilNode& node, uint8_t decimals) {
  const std::string args = absl::StrCat(UintWord(0x60), UintWord(0xa0), UintWord(decimals),
                                        ShortStringTail("Coffer Test"), ShortStringTail("CTST"));
  return DeployContract(node, "TestToken", args);
}

}  // namespace coffer::testing
