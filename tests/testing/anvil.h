// A real Ethereum node for tests: anvil (Foundry), started on a free loopback
// port with a fixed mnemonic and chain id 31337, and blocking helpers over its
// JSON-RPC API to fund accounts, deploy contracts and mint test tokens.
//
// Lifetime: Start() spawns anvil and returns once it listens on its port and
// answers eth_chainId; the destructor kills it (SIGKILL) and reaps it, so a
// failing ASSERT leaves no process behind. The child also gets
// PR_SET_PDEATHSIG, so it dies with the test even when the test crashes.
// Not thread-safe except Rpc()/EthCall(), which may run on many threads.
//
// The binary: $COFFER_ANVIL, else tools/npm/node_modules/@foundry-rs/
// anvil-linux-amd64/bin/anvil under the workspace (tools/bootstrap installs
// it; tests/testing/workspace.h finds the workspace). Tests skip when it is
// missing, unless COFFER_REQUIRE_PEERS is set (tools/test), when they fail:
//
//   void SetUp() override {
//     if (auto reason = AnvilNode::SkipReason()) GTEST_SKIP() << *reason;
//     absl::StatusOr<std::unique_ptr<AnvilNode>> node = AnvilNode::Start();
//     ASSERT_TRUE(node.ok()) << node.status();
//     node_ = *std::move(node);
//   }
//   ...
//   std::string token = *node_->Deploy(token_bin, args, node_->account(0));
//   ASSERT_TRUE(node_->Mint(token, holder, "1000").ok());
//   absl::StatusOr<std::string> result = node_->EthCall(token, call_data);
#ifndef COFFER_TESTS_TESTING_ANVIL_H_
#define COFFER_TESTS_TESTING_ANVIL_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include "tests/testing/json_rpc_client.h"

namespace coffer::testing {

class AnvilNode {
 public:
  // Foundry's well-known test mnemonic: account 0 is
  // 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266.
  static constexpr std::string_view kMnemonic =
      "test test test test test test test test test test test junk";
  static constexpr uint64_t kChainId = 31337;

  struct Options {
    // Funded dev accounts, each with `balance_ether` ether.
    int accounts = 10;
    std::string balance_ether = "10000";
    // Appended to anvil's command line, e.g. {"--no-mining"}.
    std::vector<std::string> extra_args;
    // For one attempt to come up; a port collision retries on a new port.
    absl::Duration start_timeout = absl::Seconds(60);
  };

  // A mined transaction.
  struct Receipt {
    std::string transaction_hash;
    std::string block_number;      // hex quantity
    std::string contract_address;  // empty unless the transaction created one
  };

  // The anvil binary: $COFFER_ANVIL if set, else the one tools/bootstrap
  // installs. NOT_FOUND when that file is not executable.
  [[nodiscard]] static absl::StatusOr<std::string> FindBinary();

  // Why a test should skip: set when the binary is missing and peers are not
  // required (tests/testing/workspace.h PeersRequired()); nullopt otherwise,
  // and then Start() failing is a test failure.
  static std::optional<std::string> SkipReason();

  // Starts a node and waits until it serves. UNAVAILABLE or
  // DEADLINE_EXCEEDED with anvil's log when it does not come up.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<AnvilNode>> Start(Options options);
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<AnvilNode>> Start() {
    return Start(Options());
  }

  ~AnvilNode();
  AnvilNode(const AnvilNode&) = delete;
  AnvilNode& operator=(const AnvilNode&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // "http://127.0.0.1:<port>".
  const std::string& url() const { return client_.url(); }
  // anvil's output so far (for failure messages).
  std::string Log() const;

  // One JSON-RPC call; errors as JsonRpcClient::Call (a JSON-RPC error
  // object, e.g. a revert, is UNKNOWN with the error in the message).
  [[nodiscard]] absl::StatusOr<std::string> Rpc(std::string_view method,
                                                std::string_view params_json) const;

  // eth_call of `data_hex` ("0x..."), at `block` ("latest" or a quantity).
  // An empty `to` sends no `to`: the data runs as creation code
  // (deployless calls). Answers the result hex, "0x..." .
  [[nodiscard]] absl::StatusOr<std::string> EthCall(std::string_view to, std::string_view data_hex,
                                                    std::string_view block = "latest") const;

  // The dev accounts (eth_accounts), checksummed as anvil returns them.
  [[nodiscard]] absl::StatusOr<std::vector<std::string>> Accounts() const;
  // Dev account `index` (0 <= index < Options::accounts) of kMnemonic.
  const std::string& account(int index) const { return accounts_.at(index); }

  // Sends a transaction from the unlocked dev account `from` and waits until
  // it is mined. An empty `to` creates a contract. FAILED_PRECONDITION when
  // it is mined but reverted.
  [[nodiscard]] absl::StatusOr<Receipt> Transact(std::string_view from, std::string_view to,
                                                 std::string_view data_hex,
                                                 std::string_view value_wei_decimal = "0");

  // Transfers `wei_decimal` from `from` to `to`; answers the receipt.
  [[nodiscard]] absl::StatusOr<Receipt> SendEther(std::string_view from, std::string_view to,
                                                  std::string_view wei_decimal);

  // Deploys `creation_bytecode_hex` with `constructor_args_hex` (ABI-encoded,
  // appended as is; "0x" prefixes optional on both) from `from`; answers the
  // contract's address.
  [[nodiscard]] absl::StatusOr<std::string> Deploy(std::string_view creation_bytecode_hex,
                                                   std::string_view constructor_args_hex,
                                                   std::string_view from);

  // Calls `mint(address,uint256)` (tools/contracts/test/TestToken.sol) on
  // `token`, from dev account 0.
  [[nodiscard]] absl::Status Mint(std::string_view token, std::string_view to,
                                  std::string_view amount_decimal);

  // The head block number.
  [[nodiscard]] absl::StatusOr<uint64_t> BlockNumber() const;

  // Sets `address`'s native balance (anvil_setBalance); no transaction.
  [[nodiscard]] absl::Status SetBalance(std::string_view address, std::string_view wei_decimal);

  // Mines one block (evm_mine).
  [[nodiscard]] absl::Status Mine();

 private:
  AnvilNode(pid_t pid, int port, std::string log_path);

  pid_t pid_;
  int port_;
  std::string log_path_;
  JsonRpcClient client_;
  std::vector<std::string> accounts_;
};

}  // namespace coffer::testing

#endif  // COFFER_TESTS_TESTING_ANVIL_H_
