#include "tests/testing/anvil.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "rapidjson/document.h"

#include "tests/testing/evm_hex.h"
#include "tests/testing/workspace.h"

extern char** environ;

namespace coffer::testing {
namespace {

constexpr int kStartAttempts = 5;
constexpr absl::Duration kReceiptTimeout = absl::Seconds(60);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// Debian's Abseil has its own string_view, which StrCat wants.
absl::string_view Sv(std::string_view text) { return absl::string_view(text.data(), text.size()); }

std::string StripHexPrefix(std::string_view hex) {
  if (hex.substr(0, 2) == "0x") hex.remove_prefix(2);
  return std::string(hex);
}

// A port nothing listens on right now. Another process may take it before
// anvil binds it; Start() retries on a new port when that happens.
absl::StatusOr<int> PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  if (port <= 0) return absl::InternalError("could not find a free loopback port");
  return port;
}

std::string LogPath() {
  static std::atomic<int> counter{0};
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/anvil-", getpid(), "-", counter.fetch_add(1),
                      ".log");
}

// Starts `argv` with its output in `log_path`. The child dies with this
// process (PR_SET_PDEATHSIG) so a crashing test leaves no node behind.
absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(125);  // the parent died before prctl
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (log >= 0) {
      dup2(log, STDOUT_FILENO);
      dup2(log, STDERR_FILENO);
      close(log);
    }
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, STDIN_FILENO);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(args[0], args.data(), environ);
    _exit(127);
  }
  return pid;
}

void KillAndReap(pid_t pid) {
  kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

bool Exited(pid_t pid) {
  int status = 0;
  return waitpid(pid, &status, WNOHANG) == pid;
}

absl::StatusOr<std::vector<std::string>> ParseStringArray(std::string_view json) {
  rapidjson::Document document;
  document.Parse(json.data(), json.size());
  if (document.HasParseError() || !document.IsArray()) {
    return absl::DataLossError(absl::StrCat("not an array of strings: ", Sv(json)));
  }
  std::vector<std::string> strings;
  for (const rapidjson::Value& value : document.GetArray()) {
    if (!value.IsString()) return absl::DataLossError(absl::StrCat("not a string in: ", Sv(json)));
    strings.emplace_back(value.GetString(), value.GetStringLength());
  }
  return strings;
}

std::string StringMember(const rapidjson::Value& object, const char* name) {
  auto member = object.FindMember(name);
  if (member == object.MemberEnd() || !member->value.IsString()) return "";
  return std::string(member->value.GetString(), member->value.GetStringLength());
}

}  // namespace

absl::StatusOr<std::string> AnvilNode::FindBinary() {
  std::string path;
  if (const char* configured = std::getenv("COFFER_ANVIL"); configured != nullptr && *configured) {
    path = configured;
  } else {
    path = absl::StrCat(WorkspaceRoot(),
                        "/tools/npm/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
  }
  if (access(path.c_str(), X_OK) != 0) {
    return absl::NotFoundError(
        absl::StrCat("anvil not found at ", path, " (run tools/bootstrap, or set COFFER_ANVIL)"));
  }
  return path;
}

std::optional<std::string> AnvilNode::SkipReason() {
  absl::StatusOr<std::string> binary = FindBinary();
  if (binary.ok() || PeersRequired()) return std::nullopt;
  return absl::StrCat(binary.status().message(),
                      "; skipping (set COFFER_REQUIRE_PEERS=1 to fail instead)");
}

absl::StatusOr<std::unique_ptr<AnvilNode>> AnvilNode::Start(Options options) {
  absl::StatusOr<std::string> binary = FindBinary();
  if (!binary.ok()) return binary.status();
  absl::Status last_error;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    absl::StatusOr<int> port = PickFreePort();
    if (!port.ok()) return port.status();
    std::vector<std::string> argv = {*binary,
                                     "--host",
                                     "127.0.0.1",
                                     "--port",
                                     absl::StrCat(*port),
                                     "--chain-id",
                                     absl::StrCat(kChainId),
                                     "--mnemonic",
                                     std::string(kMnemonic),
                                     "--accounts",
                                     absl::StrCat(options.accounts),
                                     "--balance",
                                     options.balance_ether};
    argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
    std::string log_path = LogPath();
    absl::StatusOr<pid_t> pid = Spawn(argv, log_path);
    if (!pid.ok()) return pid.status();
    // From here the node owns the process: every early return kills it.
    std::unique_ptr<AnvilNode> node(new AnvilNode(*pid, *port, log_path));

    // "Listening on" proves that this anvil holds the port: a node that
    // lost the port to another process would not print it, while that
    // process might still answer eth_chainId.
    const std::string listening = absl::StrCat("Listening on 127.0.0.1:", *port);
    const absl::Time deadline = absl::Now() + options.start_timeout;
    bool collided = false;
    while (true) {
      if (Exited(node->pid_)) {
        node->pid_ = -1;
        std::string log = node->Log();
        collided = absl::StrContains(log, "in use");
        last_error = absl::UnavailableError(absl::StrCat("anvil exited during startup:\n", log));
        break;
      }
      if (absl::StrContains(node->Log(), listening)) {
        absl::StatusOr<std::string> chain = node->client_.CallForString("eth_chainId", "[]");
        if (chain.ok()) {
          if (*chain != absl::StrCat("0x", absl::Hex(kChainId))) {
            return absl::InternalError(absl::StrCat("anvil answered chain id ", *chain));
          }
          absl::StatusOr<std::vector<std::string>> accounts = node->Accounts();
          if (!accounts.ok()) return accounts.status();
          node->accounts_ = *std::move(accounts);
          return node;
        }
      }
      if (absl::Now() > deadline) {
        return absl::DeadlineExceededError(absl::StrCat("anvil did not serve within ",
                                                        absl::FormatDuration(options.start_timeout),
                                                        ":\n", node->Log()));
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    if (!collided) return last_error;
  }
  return last_error;
}

AnvilNode::AnvilNode(pid_t pid, int port, std::string log_path)
    : pid_(pid),
      port_(port),
      log_path_(std::move(log_path)),
      client_(absl::StrCat("http://127.0.0.1:", port)) {}

AnvilNode::~AnvilNode() {
  if (pid_ > 0) KillAndReap(pid_);
}

std::string AnvilNode::Log() const { return ReadFile(log_path_); }

absl::StatusOr<std::string> AnvilNode::Rpc(std::string_view method,
                                           std::string_view params_json) const {
  return client_.Call(method, params_json);
}

absl::StatusOr<std::string> AnvilNode::EthCall(std::string_view to, std::string_view data_hex,
                                               std::string_view block) const {
  std::string to_field = to.empty() ? "" : absl::StrCat(R"("to":")", Sv(to), R"(",)");
  return client_.CallForString(
      "eth_call", absl::StrCat(R"([{)", to_field, R"("data":"0x)", StripHexPrefix(data_hex),
                               R"("},")", Sv(block), R"("])"));
}

absl::StatusOr<std::vector<std::string>> AnvilNode::Accounts() const {
  absl::StatusOr<std::string> json = client_.Call("eth_accounts", "[]");
  if (!json.ok()) return json.status();
  return ParseStringArray(*json);
}

absl::StatusOr<AnvilNode::Receipt> AnvilNode::Transact(std::string_view from, std::string_view to,
                                                       std::string_view data_hex,
                                                       std::string_view value_wei_decimal) {
  absl::StatusOr<std::string> value = DecimalToQuantity(value_wei_decimal);
  if (!value.ok()) return value.status();
  std::string to_field = to.empty() ? "" : absl::StrCat(R"("to":")", Sv(to), R"(",)");
  std::string data = StripHexPrefix(data_hex);
  std::string data_field = data.empty() ? "" : absl::StrCat(R"("data":"0x)", data, R"(",)");
  absl::StatusOr<std::string> hash = client_.CallForString(
      "eth_sendTransaction", absl::StrCat(R"([{"from":")", Sv(from), R"(",)", to_field, data_field,
                                          R"("value":")", *value, R"("}])"));
  if (!hash.ok()) return hash.status();

  const absl::Time deadline = absl::Now() + kReceiptTimeout;
  while (true) {
    absl::StatusOr<std::string> json =
        client_.Call("eth_getTransactionReceipt", absl::StrCat(R"([")", *hash, R"("])"));
    if (!json.ok()) return json.status();
    rapidjson::Document receipt;
    receipt.Parse(json->data(), json->size());
    if (receipt.HasParseError()) return absl::DataLossError(absl::StrCat("receipt: ", *json));
    if (receipt.IsObject()) {
      if (StringMember(receipt, "status") != "0x1") {
        return absl::FailedPreconditionError(absl::StrCat("transaction reverted: ", *json));
      }
      return Receipt{*hash, StringMember(receipt, "blockNumber"),
                     StringMember(receipt, "contractAddress")};
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("transaction ", *hash, " not mined"));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
}

absl::StatusOr<AnvilNode::Receipt> AnvilNode::SendEther(std::string_view from, std::string_view to,
                                                        std::string_view wei_decimal) {
  return Transact(from, to, "", wei_decimal);
}

absl::StatusOr<std::string> AnvilNode::Deploy(std::string_view creation_bytecode_hex,
                                              std::string_view constructor_args_hex,
                                              std::string_view from) {
  absl::StatusOr<Receipt> receipt = Transact(
      from, "",
      absl::StrCat(StripHexPrefix(creation_bytecode_hex), StripHexPrefix(constructor_args_hex)));
  if (!receipt.ok()) return receipt.status();
  if (receipt->contract_address.empty()) {
    return absl::DataLossError("deployment receipt without a contract address");
  }
  return receipt->contract_address;
}

absl::Status AnvilNode::Mint(std::string_view token, std::string_view to,
                             std::string_view amount_decimal) {
  absl::StatusOr<std::string> amount = DecimalWord(amount_decimal);
  if (!amount.ok()) return amount.status();
  // mint(address,uint256)
  absl::StatusOr<Receipt> receipt =
      Transact(account(0), token, absl::StrCat("0x40c10f19", AddressWord(to), *amount));
  return receipt.status();
}

absl::StatusOr<uint64_t> AnvilNode::BlockNumber() const {
  absl::StatusOr<std::string> quantity = client_.CallForString("eth_blockNumber", "[]");
  if (!quantity.ok()) return quantity.status();
  absl::StatusOr<std::string> decimal = QuantityToDecimal(*quantity);
  if (!decimal.ok()) return decimal.status();
  uint64_t number = 0;
  if (!absl::SimpleAtoi(*decimal, &number)) {
    return absl::DataLossError(absl::StrCat("block number ", *quantity));
  }
  return number;
}

absl::Status AnvilNode::SetBalance(std::string_view address, std::string_view wei_decimal) {
  absl::StatusOr<std::string> wei = DecimalToQuantity(wei_decimal);
  if (!wei.ok()) return wei.status();
  return client_
      .Call("anvil_setBalance", absl::StrCat(R"([")", Sv(address), R"(",")", *wei, R"("])"))
      .status();
}

absl::Status AnvilNode::Mine() { return client_.Call("evm_mine", "[]").status(); }

}  // namespace coffer::testing
