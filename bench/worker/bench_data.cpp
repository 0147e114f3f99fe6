// Data-path throughput against numpy (Debian's python3-numpy), measured in the same run
// (bench/worker/bench_data_numpy.py):
//   generate  tokens/s of the synthetic generator (one thread) against numpy walking the
//             same language's tables, vectorised over the sequences;
//   validate  GB/s of opening and fully validating an llm.c shard (header, size, every
//             token < vocab) against numpy on a memory map, page cache warm for both.
// Each side reports the median of its repeats. The point of the numbers: the data path
// must never be what a training step waits for.

#include "bench/bench_common.h"
#include "worker/data/synthetic.h"
#include "worker/data/token_file.h"
#include "worker/rng.h"

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace plascale {
namespace {

using bench::median;
using bench::seconds_since;
using bench::cpu_model;

namespace fs = std::filesystem;

template <typename T>
void write_array(const fs::path& path, const std::vector<T>& values) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(T)));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

// The language's tables, for the numpy peer.
void export_language(const SyntheticLanguage& language, int vocab, const fs::path& dir) {
  const auto alphabet = language.alphabet();
  const int class_states = language.states() / static_cast<int>(alphabet.size());
  std::vector<int32_t> alphabet_index(vocab, 0), successors;
  std::vector<uint8_t> token_class(vocab, 0);
  for (size_t i = 0; i < alphabet.size(); ++i) alphabet_index[alphabet[i]] = static_cast<int32_t>(i);
  for (int32_t token : alphabet) token_class[token] = static_cast<uint8_t>(language.token_class(token));
  for (int state = 0; state < language.states(); ++state) {
    const auto next = language.successors(state);
    successors.insert(successors.end(), next.begin(), next.end());
  }
  write_array(dir / "alphabet.i32", std::vector<int32_t>(alphabet.begin(), alphabet.end()));
  write_array(dir / "alphabet_index.i32", alphabet_index);
  write_array(dir / "token_class.u8", token_class);
  write_array(dir / "successors.i32", successors);
  write_array(dir / "thresholds.u32",
              std::vector<uint32_t>(language.rank_thresholds().begin(), language.rank_thresholds().end()));
  std::ofstream(dir / "meta.txt") << "branching " << language.branching() << "\nclass_states " << class_states
                                  << "\ndropped " << language.order() + SyntheticLanguage::kBurnIn << "\nclasses "
                                  << SyntheticLanguage::kClasses << "\n";
}

std::map<std::string, double> run_peer(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::map<std::string, double> results;
  std::array<char, 256> line{};
  while (std::fgets(line.data(), line.size(), pipe.get())) {
    char name[64];
    double value;
    if (std::sscanf(line.data(), "%63s %lf", name, &value) == 2) results[name] = value;
  }
  if (results.size() != 2) throw std::runtime_error("the numpy peer did not report: " + command);
  return results;
}

int run(int argc, char** argv) {
  CLI::App app{"plascale data-path benchmark: synthetic generation and shard validation vs numpy"};
  int vocab = 256, order = 2, branching = 8, sequences = 256, context = 256, repeats = 5;
  int64_t shard_tokens = 64 << 20;
  app.add_option("--vocab", vocab, "vocabulary (also the shard's token range)");
  app.add_option("--order", order, "synthetic.order");
  app.add_option("--branching", branching, "synthetic.branching");
  app.add_option("--sequences", sequences, "sequences generated per repeat");
  app.add_option("--context", context, "tokens per sequence minus one");
  app.add_option("--shard-tokens", shard_tokens, "tokens in the validated shard")->check(CLI::Range(1, (1 << 30)));
  app.add_option("--repeats", repeats, "repeats per side (median reported)")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  const fs::path dir = fs::temp_directory_path() / ("plascale-bench-data-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  SyntheticConfig config;
  config.seed = 1;
  config.order = order;
  config.branching = branching;
  const SyntheticLanguage language(config, vocab, 0);
  export_language(language, vocab, dir);

  std::vector<uint16_t> shard(static_cast<size_t>(shard_tokens));
  Rng shard_rng(derive_seed(2, "bench-shard"));
  for (uint16_t& token : shard) token = static_cast<uint16_t>(shard_rng.below(static_cast<uint64_t>(vocab)));
  const fs::path shard_path = dir / "shard.bin";
  write_llmc_shard(shard_path, shard);
  shard.clear();
  shard.shrink_to_fit();

  const int length = context + 1;
  std::vector<int32_t> tokens(static_cast<size_t>(sequences) * length);
  std::vector<double> generate_times, validate_times;
  for (int r = 0; r < repeats; ++r) {
    auto start = std::chrono::steady_clock::now();
    for (int s = 0; s < sequences; ++s) {
      Rng rng(derive_seed(3, "bench-generate", {static_cast<uint64_t>(r), static_cast<uint64_t>(s)}));
      language.generate(rng, std::span<int32_t>(tokens.data() + static_cast<size_t>(s) * length, length));
    }
    generate_times.push_back(seconds_since(start));
    start = std::chrono::steady_clock::now();
    const TokenFile file(shard_path, TokenFileFormat::llmc_shard, vocab);
    validate_times.push_back(seconds_since(start));
  }
  const std::string command = std::string(PLASCALE_PYTHON) + " " + PLASCALE_SOURCE_DIR +
                              "/bench/worker/bench_data_numpy.py " + dir.string() + " " + std::to_string(sequences) +
                              " " + std::to_string(length) + " " + std::to_string(repeats) + " " +
                              shard_path.string() + " " + std::to_string(vocab);
  const std::map<std::string, double> peer = run_peer(command);
  fs::remove_all(dir);

  const double generated = static_cast<double>(sequences) * length;
  const double ours_generate = generated / median(generate_times) / 1e6;
  const double numpy_generate = generated / peer.at("generate") / 1e6;
  const double bytes = 1024.0 + 2.0 * static_cast<double>(shard_tokens);
  const double ours_validate = bytes / median(validate_times) / 1e9;
  const double numpy_validate = bytes / peer.at("validate") / 1e9;
  std::printf("machine: %s, %u hardware threads; medians of %d repeats\n", cpu_model().c_str(),
              std::thread::hardware_concurrency(), repeats);
  std::printf("generate (vocab %d, order %d, branching %d, %d x %d tokens, 1 thread): plascale %.1f Mtok/s, "
              "numpy %.1f Mtok/s, ratio %.1fx\n",
              vocab, order, branching, sequences, length, ours_generate, numpy_generate, ours_generate / numpy_generate);
  std::printf("validate (llm.c shard, %lld tokens, %.0f MB, page cache warm): plascale %.2f GB/s, numpy %.2f GB/s, "
              "ratio %.2fx\n",
              static_cast<long long>(shard_tokens), bytes / 1e6, ours_validate, numpy_validate,
              ours_validate / numpy_validate);
  return 0;
}

}  // namespace
}  // namespace plascale

int main(int argc, char** argv) {
  try {
    return plascale::run(argc, argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_worker_data: %s\n", error.what());
    return 1;
  }
}
