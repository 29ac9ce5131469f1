// The contracts of tools/contracts on a test node: their checked-in
// creation code (a test's data: //tools/contracts:artifacts) and the
// deployments tests need, with the constructor arguments ABI-encoded.
//
//   absl::StatusOr<std::string> token = DeployTestToken(*node, 6);
//   absl::StatusOr<std::string> multicall = DeployContract(*node, "Multicall3");
#ifndef COFFER_TESTS_TESTING_TEST_CONTRACTS_H_
#define COFFER_TESTS_TESTING_TEST_CONTRACTS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

#include "tests/testing/anvil.h"

namespace coffer::testing {

// tools/contracts/out/<name>.bin from the runfiles: creation code, hex
// without "0x"; empty when missing.
std::string ContractArtifact(const std::string& name);

// A string argument of at most 32 bytes, as the tail of an ABI encoding.
std::string ShortStringTail(const std::string& text);

// Deploys `name` (no constructor arguments, or `args_hex`) from account 0.
absl::StatusOr<std::string> DeployContract(AnvilNode& node, const std::string& name,
                                           const std::string& args_hex = "");

// Deploys TestToken("Coffer Test", "CTST", decimals): anyone may mint.
absl::StatusOr<std::string> DeployTestToken(AnvilNode& node, uint8_t decimals);

}  // namespace coffer::testing

#endif  // COFFER_TESTS_TESTING_TEST_CONTRACTS_H_
