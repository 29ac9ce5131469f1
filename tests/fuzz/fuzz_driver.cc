// A small fuzzing driver for machines without libFuzzer: it links with any
// target that defines LLVMFuzzerTestOneInput (the libFuzzer interface, so
// the same targets also build with -fsanitize=fuzzer where clang is
// available) and feeds it seeds, then mutations of them. As a cc_test it
// runs in every `bazel test`, plain and under --config=asan.
//
// Seeds: a generic set of JSON-RPC, JSON and hex fragments below, the
// target's own when it defines CofferFuzzSeeds(), and the files named on
// the command line (a directory: each file in it). Mutations: byte flips,
// insertions of bytes and of interesting tokens, deletions, duplications,
// truncations and splices of two inputs, from a fixed random seed, so a
// failure reproduces.
//
// How much: COFFER_FUZZ_ITERATIONS mutated inputs (default 500,000) or
// COFFER_FUZZ_SECONDS (default 2), whichever ends first - about two seconds
// of work per target, plain or under ASan; COFFER_FUZZ_SEED picks the mutations. libFuzzer's
// flags -runs=N, -max_total_time=S and -seed=N override them, so
//   bazel run //tests/fuzz:abi_fuzz -- -runs=0 /tmp/crash-input
// replays one input and nothing else.
//
// When an input fails (an abort from an invariant check, a sanitizer
// report, a crash), the input is printed as hex and, under `bazel test`,
// written to the test's undeclared outputs as crash-input.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Optional: a target's own seeds, NUL-terminated strings.
extern "C" __attribute__((weak)) const char* const* CofferFuzzSeeds(size_t* count);

namespace {

const char* const kGenericSeeds[] = {
    "",
    "{}",
    "[]",
    "null",
    R"([{"jsonrpc":"2.0","id":0,"result":"0x1bc16d674ec80000"}])",
    R"([{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"execution reverted"}}])",
    R"({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batch too large"}})",
    R"({"number":"0x10","hash":"0xabc","timestamp":"0x5f5e100"})",
    R"({"ethereum":{"usd":3012.45,"last_updated_at":1700000000},"bitcoin":{"usd":6.5e4}})",
    R"({"address":"bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq","chain_stats":{"funded_txo_sum":)"
    R"(150000000,"spent_txo_sum":0},"mempool_stats":{"funded_txo_sum":0,"spent_txo_sum":0}})",
    "0x0",
    "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
    "00000000000000000000000000000000000000000000000000000000000000200000000000000000000000"
    "000000000000000000000000000000000000000001",
};

const char* const kTokens[] = {"\"",
                               "{",
                               "}",
                               "[",
                               "]",
                               ",",
                               ":",
                               "0x",
                               "-",
                               "1e9",
                               "ff",
                               "null",
                               "true",
                               "\\u00",
                               "\"id\":",
                               "0",
                               "9999999999999999999999",
                               "\"result\":",
                               "\"error\":",
                               "0000000000000000000000000000000000000000000000000000000000000020",
                               "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"};

// The most a mutation may grow an input to.
constexpr size_t kMaxInput = 1 << 16;

std::string Mutate(const std::vector<std::string>& corpus, std::mt19937_64& random) {
  auto pick = [&random](size_t n) { return n == 0 ? 0 : static_cast<size_t>(random() % n); };
  std::string input = corpus[pick(corpus.size())];
  const int steps = 1 + static_cast<int>(pick(4));
  for (int step = 0; step < steps; ++step) {
    switch (pick(7)) {
      case 0:
        if (!input.empty()) input[pick(input.size())] ^= static_cast<char>(1u << pick(8));
        break;
      case 1:
        input.insert(input.begin() + static_cast<std::ptrdiff_t>(pick(input.size() + 1)),
                     static_cast<char>(pick(256)));
        break;
      case 2:
        input.insert(pick(input.size() + 1), kTokens[pick(std::size(kTokens))]);
        break;
      case 3:
        if (!input.empty()) {
          const size_t at = pick(input.size());
          input.erase(at, 1 + pick(std::min<size_t>(16, input.size() - at)));
        }
        break;
      case 4:
        if (!input.empty()) {
          const size_t at = pick(input.size());
          const size_t length = 1 + pick(std::min<size_t>(64, input.size() - at));
          input.insert(pick(input.size() + 1), input.substr(at, length));
        }
        break;
      case 5:
        input.resize(pick(input.size() + 1));
        break;
      default: {
        const std::string& other = corpus[pick(corpus.size())];
        input = input.substr(0, pick(input.size() + 1)) + other.substr(pick(other.size() + 1));
        break;
      }
    }
  }
  if (input.size() > kMaxInput) input.resize(kMaxInput);
  return input;
}

struct Options {
  long iterations = 500000;
  long seconds = 2;
  unsigned long long seed = 20261126;
  std::vector<std::string> paths;
};

long EnvOr(const char* name, long fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::atol(value) : fallback;
}

Options ParseOptions(int argc, char** argv) {
  Options options;
  options.iterations = EnvOr("COFFER_FUZZ_ITERATIONS", options.iterations);
  options.seconds = EnvOr("COFFER_FUZZ_SECONDS", options.seconds);
  options.seed =
      static_cast<unsigned long long>(EnvOr("COFFER_FUZZ_SEED", static_cast<long>(options.seed)));
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&arg](const char* flag) -> const char* {
      const size_t length = std::strlen(flag);
      return arg.compare(0, length, flag) == 0 ? arg.c_str() + length : nullptr;
    };
    if (const char* runs = value("-runs=")) {
      options.iterations = std::atol(runs);
    } else if (const char* seconds = value("-max_total_time=")) {
      options.seconds = std::atol(seconds);
    } else if (const char* seed = value("-seed=")) {
      options.seed = std::strtoull(seed, nullptr, 10);
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "fuzz_driver: ignoring unknown flag %s\n", arg.c_str());
    } else {
      options.paths.push_back(arg);
    }
  }
  return options;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

// The named files, and the files in the named directories, in name order.
std::vector<std::string> ReadSeedFiles(const std::vector<std::string>& paths) {
  std::vector<std::string> seeds;
  for (const std::string& path : paths) {
    std::error_code error;
    if (std::filesystem::is_directory(path, error)) {
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::directory_iterator(path, error)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& file : files) seeds.push_back(ReadFile(file));
    } else if (std::filesystem::is_regular_file(path, error)) {
      seeds.push_back(ReadFile(path));
    } else {
      std::fprintf(stderr, "fuzz_driver: no such seed file or directory: %s\n", path.c_str());
      std::exit(2);
    }
  }
  return seeds;
}

// The input being run, for the failure report. Set before and cleared after
// each run; read only by the handlers below.
const std::string* volatile g_current = nullptr;

void WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t written = write(fd, data, size);
    if (written <= 0) return;
    data += written;
    size -= static_cast<size_t>(written);
  }
}

// Async-signal-safe: write(2) and open(2) only.
void ReportCurrent() {
  const std::string* current = g_current;
  if (current == nullptr) return;
  static const char kHeader[] = "\nfuzz_driver: failing input (hex): ";
  WriteAll(2, kHeader, sizeof(kHeader) - 1);
  static const char kDigits[] = "0123456789abcdef";
  for (unsigned char c : *current) {
    const char pair[2] = {kDigits[c >> 4], kDigits[c & 0xf]};
    WriteAll(2, pair, 2);
  }
  WriteAll(2, "\n", 1);
  static char path[4096];
  if (const char* dir = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
      dir != nullptr && std::strlen(dir) + 32 < sizeof(path)) {
    std::strcpy(path, dir);
    std::strcat(path, "/crash-input");
    const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      WriteAll(fd, current->data(), current->size());
      close(fd);
      static const char kSaved[] = "fuzz_driver: saved to the test's outputs as crash-input\n";
      WriteAll(2, kSaved, sizeof(kSaved) - 1);
    }
  }
}

void OnFatalSignal(int signal_number) {
  ReportCurrent();
  // Die of the same signal, with the default action, so the test fails as
  // it would have.
  ::signal(signal_number, SIG_DFL);
  ::raise(signal_number);
}

void InstallReporters() {
  // ASan and UBSan end with abort() under abort_on_error=1, and invariant
  // checks abort: SIGABRT always. Crash signals only where nothing else
  // handles them, so a sanitizer's own report (with its stack) still comes.
  ::signal(SIGABRT, OnFatalSignal);
  for (int signal_number : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) {
    struct sigaction current;
    if (sigaction(signal_number, nullptr, &current) == 0 && !(current.sa_flags & SA_SIGINFO) &&
        current.sa_handler == SIG_DFL) {
      ::signal(signal_number, OnFatalSignal);
    }
  }
}

void Run(const std::string& input) {
  g_current = &input;
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  g_current = nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = ParseOptions(argc, argv);
  InstallReporters();
  std::vector<std::string> corpus(std::begin(kGenericSeeds), std::end(kGenericSeeds));
  if (CofferFuzzSeeds != nullptr) {
    size_t count = 0;
    const char* const* seeds = CofferFuzzSeeds(&count);
    for (size_t i = 0; i < count; ++i) corpus.emplace_back(seeds[i]);
  }
  for (std::string& seed : ReadSeedFiles(options.paths)) corpus.push_back(std::move(seed));
  for (const std::string& seed : corpus) Run(seed);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(std::max(0L, options.seconds));
  std::mt19937_64 random(options.seed);
  long runs = 0;
  const size_t seeds = corpus.size();
  for (; runs < options.iterations && std::chrono::steady_clock::now() < deadline; ++runs) {
    const std::string input = Mutate(corpus, random);
    Run(input);
    // Inputs that are not plain seeds feed later mutations now and then.
    if (runs % 97 == 0 && corpus.size() < 4096) corpus.push_back(input);
  }
  std::printf("fuzz_driver: %zu seeds and %ld mutated inputs (seed %llu), no failure\n", seeds,
              runs, options.seed);
  return 0;
}
