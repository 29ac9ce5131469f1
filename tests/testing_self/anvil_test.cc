// The anvil harness itself: the node comes up on its own port with the fixed
// chain and accounts, the helpers change chain state as they say, errors come
// back as statuses, and the destructor leaves no process behind.
#include "tests/testing/anvil.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "tests/testing/evm_hex.h"

namespace coffer::testing {
namespace {

constexpr char kAccount0[] = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";

class AnvilTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto reason = AnvilNode::SkipReason()) GTEST_SKIP() << *reason;
    absl::StatusOr<std::unique_ptr<AnvilNode>> node = AnvilNode::Start();
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = *std::move(node);
  }

  std::string Balance(const std::string& address) {
    absl::StatusOr<std::string> quantity =
        node_->Rpc("eth_getBalance", absl::StrCat(R"([")", address, R"(","latest"])"));
    EXPECT_TRUE(quantity.ok()) << quantity.status();
    if (!quantity.ok()) return "";
    // A JSON string: strip the quotes.
    absl::StatusOr<std::string> decimal =
        QuantityToDecimal(quantity->substr(1, quantity->size() - 2));
    EXPECT_TRUE(decimal.ok()) << decimal.status();
    return decimal.ok() ? *decimal : "";
  }

  std::unique_ptr<AnvilNode> node_;
};

TEST_F(AnvilTest, ServesTheFixedChainAndAccounts) {
  absl::StatusOr<std::string> chain_id = node_->Rpc("eth_chainId", "[]");
  ASSERT_TRUE(chain_id.ok()) << chain_id.status();
  EXPECT_EQ(*chain_id, R"("0x7a69")");

  absl::StatusOr<std::vector<std::string>> accounts = node_->Accounts();
  ASSERT_TRUE(accounts.ok()) << accounts.status();
  ASSERT_EQ(accounts->size(), 10u);
  EXPECT_EQ(absl::AsciiStrToLower((*accounts)[0]), kAccount0);
  EXPECT_EQ(node_->account(0), (*accounts)[0]);
  EXPECT_EQ(Balance(kAccount0), "10000000000000000000000");
  EXPECT_GT(node_->port(), 0);
  EXPECT_EQ(node_->url(), absl::StrCat("http://127.0.0.1:", node_->port()));
}

TEST_F(AnvilTest, SendEtherMovesBalanceInAMinedBlock) {
  const std::string to = TestAddress(1);
  absl::StatusOr<uint64_t> before = node_->BlockNumber();
  ASSERT_TRUE(before.ok()) << before.status();

  absl::StatusOr<AnvilNode::Receipt> receipt =
      node_->SendEther(node_->account(1), to, "1500000000000000000");
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  EXPECT_THAT(receipt->transaction_hash, ::testing::StartsWith("0x"));
  EXPECT_TRUE(receipt->contract_address.empty());
  EXPECT_EQ(*QuantityToDecimal(receipt->block_number), absl::StrCat(*before + 1));
  EXPECT_EQ(Balance(to), "1500000000000000000");
  EXPECT_EQ(*node_->BlockNumber(), *before + 1);
}

TEST_F(AnvilTest, SetBalanceAndMine) {
  const std::string address = TestAddress(2);
  // Above 2^64: amounts never pass through a machine integer.
  ASSERT_TRUE(node_->SetBalance(address, "123456789012345678901234567890").ok());
  EXPECT_EQ(Balance(address), "123456789012345678901234567890");

  absl::StatusOr<uint64_t> before = node_->BlockNumber();
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_TRUE(node_->Mine().ok());
  ASSERT_TRUE(node_->Mine().ok());
  EXPECT_EQ(*node_->BlockNumber(), *before + 2);
}

TEST_F(AnvilTest, ErrorsAreStatuses) {
  absl::StatusOr<std::string> unknown = node_->Rpc("coffer_noSuchMethod", "[]");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kUnknown) << unknown.status();

  // Creation code that reverts at once (PUSH1 0, PUSH1 0, REVERT).
  absl::StatusOr<std::string> reverted = node_->EthCall("", "0x60006000fd");
  EXPECT_EQ(reverted.status().code(), absl::StatusCode::kUnknown) << reverted.status();

  // A deployment that reverts is mined, and reported as such.
  absl::StatusOr<std::string> deployed = node_->Deploy("60006000fd", "", node_->account(0));
  EXPECT_EQ(deployed.status().code(), absl::StatusCode::kFailedPrecondition) << deployed.status();

  EXPECT_EQ(node_->SetBalance(TestAddress(3), "-1").code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AnvilTest, DeploysContractsAndCallsThem) {
  // Creation code returning runtime code that returns 42 for any call:
  // runtime 602a60005260206000f3 (PUSH1 42, PUSH1 0, MSTORE, PUSH1 32,
  // PUSH1 0, RETURN), copied out by the 12-byte constructor before it.
  const std::string creation = "600a600c600039600a6000f3602a60005260206000f3";
  absl::StatusOr<std::string> address = node_->Deploy(creation, "", node_->account(0));
  ASSERT_TRUE(address.ok()) << address.status();
  absl::StatusOr<std::string> result = node_->EthCall(*address, "0x");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "0x" + UintWord(42));

  // The same runtime sent as creation code with no `to` runs as a
  // constructor: what it returns is the call's result (deployless calls).
  absl::StatusOr<std::string> deployless = node_->EthCall("", "0x602a60005260206000f3");
  ASSERT_TRUE(deployless.ok()) << deployless.status();
  EXPECT_EQ(*deployless, "0x" + UintWord(42));
}

TEST_F(AnvilTest, NodesRunSideBySideOnTheirOwnPorts) {
  absl::StatusOr<std::unique_ptr<AnvilNode>> other = AnvilNode::Start();
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE((*other)->port(), node_->port());
  ASSERT_TRUE(node_->Mine().ok());
  // Separate chains: mining on one leaves the other alone.
  EXPECT_EQ(*node_->BlockNumber(), 1u);
  EXPECT_EQ(*(*other)->BlockNumber(), 0u);
}

TEST_F(AnvilTest, DestructorKillsAndReapsTheNode) {
  const pid_t pid = node_->pid();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, 0), 0);
  const std::string url = node_->url();
  node_.reset();
  // Reaped, not a zombie: the pid no longer exists at all.
  errno = 0;
  EXPECT_EQ(kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  EXPECT_EQ(JsonRpcClient(url, absl::Seconds(5)).Call("eth_chainId", "[]").status().code(),
            absl::StatusCode::kUnavailable);
}

// Dead or a zombie waiting for a reaper that is not us.
bool Gone(pid_t pid) {
  std::ifstream stat(absl::StrCat("/proc/", pid, "/stat"));
  std::string line;
  if (!std::getline(stat, line)) return true;
  size_t paren = line.rfind(')');
  return paren != std::string::npos && line.size() > paren + 2 && line[paren + 2] == 'Z';
}

TEST_F(AnvilTest, NodeDiesWithATestThatCrashes) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  pid_t test = fork();
  ASSERT_GE(test, 0);
  if (test == 0) {
    // A test process that dies without running any destructor.
    close(pipe_fds[0]);
    absl::StatusOr<std::unique_ptr<AnvilNode>> node = AnvilNode::Start();
    pid_t anvil = node.ok() ? (*node)->pid() : -1;
    (void)!write(pipe_fds[1], &anvil, sizeof(anvil));
    _exit(0);
  }
  close(pipe_fds[1]);
  pid_t anvil = -1;
  ASSERT_EQ(read(pipe_fds[0], &anvil, sizeof(anvil)), static_cast<ssize_t>(sizeof(anvil)));
  close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(test, &status, 0), test);
  ASSERT_GT(anvil, 0) << "the crashing test could not start its node";
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!Gone(anvil) && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_TRUE(Gone(anvil)) << "anvil " << anvil << " outlived its test";
}

}  // namespace
}  // namespace coffer::testing
