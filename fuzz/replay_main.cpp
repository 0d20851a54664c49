// The fuzz targets without libFuzzer (any compiler): replays a seed corpus through a target's
// LLVMFuzzerTestOneInput, then, for --seconds=N, feeds it mutations of the seeds (random, not
// coverage-guided). ctest runs it on fuzz/corpus/<target>; `make test-sanitize` does so under
// ASan and UBSan. A broken property aborts, as it does under libFuzzer; the input that crashed is
// written to --crash-file (default ./replay-crash-input).
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "fuzz/fuzz_check.hpp"

namespace {

namespace fs = std::filesystem;

constexpr size_t max_size = 64 * 1024;

std::string read_file(const fs::path& path) {
  std::ifstream in{path, std::ios::binary};
  return {std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
}

// The input being run, and where a crash writes it (so that it can be replayed and kept as a seed).
const std::string* current = nullptr;
const char* crash_file = "replay-crash-input";

extern "C" void save_current_input(int signal) {
  if (current != nullptr) {
    auto fd = ::open(crash_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      auto written = ::write(fd, current->data(), current->size());
      (void)written;
      ::close(fd);
    }
    static constexpr char note[] = "fuzz replay: the input that crashed is in the crash file\n";
    auto written = ::write(2, note, sizeof note - 1);
    (void)written;
  }
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

void run(const std::string& input) {
  current = &input;
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  current = nullptr;
}

// One random edit, of the kinds that find parser bugs: bit flips, bytes that matter to the
// formats, insertions, deletions, repeats and splices with another seed.
class mutator {
public:
  mutator(const std::vector<std::string>& seeds, unsigned seed) : seeds_(seeds), rng_(seed) {}

  std::string next() {
    auto x = seeds_[below(seeds_.size())];
    for (auto edits = 1 + below(4); edits > 0; --edits) edit(x);
    if (x.size() > max_size) x.resize(max_size);
    return x;
  }

private:
  size_t below(size_t n) {
    return n == 0 ? 0 : std::uniform_int_distribution<size_t>{0, n - 1}(rng_);
  }

  char some_byte() {
    static constexpr char notable[] = {'\0', '\xff', '\x80', '\xed', '{', '}', '[',
                                       ']',  '"',    '\\',   ',',    ':', '(', ')',
                                       '%',  '&',    '\r',   '\n',   ' ', '0'};
    return below(2) == 0 ? notable[below(sizeof notable)] : static_cast<char>(below(256));
  }

  void edit(std::string& x) {
    auto pos = below(x.size() + 1);
    switch (below(6)) {
      case 0:
        if (!x.empty()) x[below(x.size())] ^= static_cast<char>(1u << below(8));
        break;
      case 1:
        if (!x.empty()) x[below(x.size())] = some_byte();
        break;
      case 2:
        x.insert(pos, 1 + below(4), some_byte());
        break;
      case 3:
        x.erase(pos, 1 + below(16));
        break;
      case 4: { // repeat a stretch: deep nesting, long lists
        auto len = 1 + below(std::min<size_t>(x.size() - std::min(pos, x.size()) + 1, 32));
        auto piece = x.substr(pos, len);
        for (auto times = below(64); times > 0 && x.size() < max_size; --times)
          x.insert(pos, piece);
        break;
      }
      default: { // splice: the head of this input, the tail of another
        auto& other = seeds_[below(seeds_.size())];
        x = x.substr(0, pos) + other.substr(below(other.size() + 1));
        break;
      }
    }
  }

  const std::vector<std::string>& seeds_;
  std::mt19937 rng_;
};

} // namespace

int main(int argc, char** argv) {
  double seconds = 0;
  unsigned seed = 1;
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--seconds=", 0) == 0) {
      seconds = std::atof(arg.c_str() + 10);
    } else if (arg.rfind("--crash-file=", 0) == 0) {
      crash_file = argv[i] + 13;
    } else if (arg.rfind("--seed=", 0) == 0) {
      seed = static_cast<unsigned>(std::strtoul(arg.c_str() + 7, nullptr, 10));
    } else if (fs::is_directory(arg)) {
      std::vector<fs::path> files;
      for (auto& entry : fs::directory_iterator{arg})
        if (entry.is_regular_file()) files.push_back(entry.path());
      std::sort(files.begin(), files.end());
      for (auto& file : files) inputs.push_back(read_file(file));
    } else if (fs::is_regular_file(arg)) {
      inputs.push_back(read_file(arg));
    } else {
      std::fprintf(stderr,
                   "usage: %s [--seconds=N] [--seed=S] [--crash-file=PATH] CORPUS_DIR|FILE...\n"
                   "  (no such file or directory: %s)\n",
                   argv[0], arg.c_str());
      return 2;
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "%s: no inputs\n", argv[0]);
    return 2;
  }
  for (int signal : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL})
    std::signal(signal, save_current_input);
  for (auto& input : inputs) run(input);
  size_t mutated = 0;
  if (seconds > 0) {
    mutator mutate{inputs, seed};
    auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      for (int i = 0; i < 16; ++i, ++mutated) run(mutate.next());
    }
  }
  std::printf("%zu seeds replayed, %zu mutations run, no property broken\n", inputs.size(),
              mutated);
  return 0;
}
