// A small fuzzing driver for machines without libFuzzer: it links with any
// target that defines LLVMFuzzerTestOneInput (the libFuzzer interface, so
// the same targets also build with -fsanitize=fuzzer where clang is
// available) and feeds it seeds, then mutations of them.
//
// Seeds: a generic set of JSON-RPC, JSON and hex fragments below, plus the
// target's own when it defines CofferFuzzSeeds(). Mutations: byte flips,
// insertions of bytes and of interesting tokens, deletions, duplications,
// truncations and splices of two inputs, from a fixed random seed, so a
// failure reproduces. Runs COFFER_FUZZ_ITERATIONS inputs (default 20,000)
// or for COFFER_FUZZ_SECONDS (default 3), whichever ends first; an input
// that crashes is printed (hex) before the sanitizer or abort ends the run.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Optional: a target's own seeds.
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
                               "\"result\":"};

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
  if (input.size() > 1 << 16) input.resize(1 << 16);
  return input;
}

long EnvOr(const char* name, long fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::atol(value) : fallback;
}

const std::string* g_current = nullptr;

void PrintCurrent() {
  if (g_current == nullptr) return;
  std::fprintf(stderr, "fuzz_driver: the input being run (%zu bytes, hex): ", g_current->size());
  for (unsigned char c : *g_current) std::fprintf(stderr, "%02x", c);
  std::fprintf(stderr, "\n");
}

void Run(const std::string& input) {
  g_current = &input;
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  g_current = nullptr;
}

}  // namespace

int main() {
  std::vector<std::string> corpus(std::begin(kGenericSeeds), std::end(kGenericSeeds));
  if (CofferFuzzSeeds != nullptr) {
    size_t count = 0;
    const char* const* seeds = CofferFuzzSeeds(&count);
    for (size_t i = 0; i < count; ++i) corpus.emplace_back(seeds[i]);
  }
  std::atexit(PrintCurrent);  // an abort() in the target skips this; a sanitizer report does not
  for (const std::string& seed : corpus) Run(seed);
  const long iterations = EnvOr("COFFER_FUZZ_ITERATIONS", 20000);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(EnvOr("COFFER_FUZZ_SECONDS", 3));
  std::mt19937_64 random(EnvOr("COFFER_FUZZ_SEED", 20261126));
  long runs = 0;
  for (; runs < iterations && std::chrono::steady_clock::now() < deadline; ++runs) {
    const std::string input = Mutate(corpus, random);
    Run(input);
    // Inputs that are not plain seeds feed later mutations now and then.
    if (runs % 97 == 0 && corpus.size() < 4096) corpus.push_back(input);
  }
  std::printf("fuzz_driver: %zu seeds and %ld mutated inputs, no failure\n", corpus.size(), runs);
  return 0;
}
