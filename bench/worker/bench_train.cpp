// Training throughput of the CPU backend against PyTorch CPU (Debian's python3-torch)
// training the same model with the same threads, batch and context, measured in the same
// run (bench/worker/bench_train_torch.py), plus the machine's measured sgemm peak.
//
// A training step = zero gradients, forward + backward, global gradient norm, clip to 1.0,
// AdamW. Each side times every step separately and reports the median after warmup steps;
// rounds of the two sides alternate and the median round is reported.
// FLOP convention (llm.c): 6 * N + 6 * layers * context * d_model per token, N = all
// parameters (the tied embedding counted once; the output head's matmul is in 6N).

#include "bench/bench_common.h"
#include "worker/cpu_backend.h"
#include "worker/rng.h"

#include <CLI/CLI.hpp>
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace plascale {
namespace {

using bench::median;
using bench::seconds_since;
using bench::cpu_model;

struct BenchModel {
  std::string name;
  ModelConfig model;
  int sequences = 0;  // per step; tokens per step = sequences * context
};

// Median GFLOP/s of a square sgemm, the practical peak the model's matmuls can approach.
double sgemm_peak_gflops(int threads, int size, int repeats) {
  openblas_set_num_threads(threads);
  std::vector<float> a(static_cast<size_t>(size) * size), b(a.size()), c(a.size());
  Rng(derive_seed(1, "bench-sgemm")).fill_normal(a, 0.0, 1.0);
  Rng(derive_seed(2, "bench-sgemm")).fill_normal(b, 0.0, 1.0);
  std::vector<double> rates;
  for (int r = 0; r <= repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, size, size, size, 1.0f, a.data(), size, b.data(), size,
                0.0f, c.data(), size);
    if (r > 0) rates.push_back(2.0 * size * size * static_cast<double>(size) / seconds_since(start) / 1e9);
  }
  return median(rates);
}

double flops_per_token(const ModelConfig& m, int64_t params) {
  return 6.0 * static_cast<double>(params) + 6.0 * m.layers * m.context * static_cast<double>(m.d_model);
}

// Median seconds per training step of the CPU backend.
double plascale_step_seconds(const BenchModel& bench, int threads, int warmup, int steps) {
  const ModelConfig& m = bench.model;
  CpuBackend backend(m, threads);
  backend.init_parameters(derive_seed(3, "bench-init"));
  const int64_t tokens = static_cast<int64_t>(bench.sequences) * m.context;
  std::vector<int32_t> inputs(tokens), targets(tokens);
  Rng data(derive_seed(4, "bench-data"));
  std::vector<double> times;
  for (int step = 1; step <= warmup + steps; ++step) {
    for (int64_t i = 0; i < tokens; ++i) {
      inputs[i] = static_cast<int32_t>(data.below(m.vocab));
      targets[i] = static_cast<int32_t>(data.below(m.vocab));
    }
    const auto start = std::chrono::steady_clock::now();
    backend.zero_gradients();
    backend.forward_backward({inputs, targets, bench.sequences, m.context});
    const double norm = backend.grad_norm();
    if (norm > 1.0) backend.scale_gradients(static_cast<float>(1.0 / (norm + 1e-6)));
    backend.adamw_step({.lr = 1e-3, .step = step});
    if (step > warmup) times.push_back(seconds_since(start));
  }
  return median(times);
}

// Median seconds per step of the same training in PyTorch, from bench_train_torch.py.
double torch_step_seconds(const BenchModel& bench, int threads, int warmup, int steps) {
  const ModelConfig& m = bench.model;
  const std::string command = std::string(PLASCALE_PYTHON) + " " + PLASCALE_SOURCE_DIR +
                              "/bench/worker/bench_train_torch.py" + " --layers " + std::to_string(m.layers) +
                              " --d-model " + std::to_string(m.d_model) + " --heads " + std::to_string(m.heads) +
                              " --context " + std::to_string(m.context) + " --vocab " + std::to_string(m.vocab) +
                              " --mlp-hidden " + std::to_string(m.mlp_hidden) + " --sequences " +
                              std::to_string(bench.sequences) + " --threads " + std::to_string(threads) +
                              " --warmup " + std::to_string(warmup) + " --steps " + std::to_string(steps);
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("could not run " + command);
  double seconds = -1;
  char line[512];
  while (std::fgets(line, sizeof line, pipe)) std::sscanf(line, "median_step_seconds %lf", &seconds);
  if (pclose(pipe) != 0 || seconds <= 0) throw std::runtime_error("PyTorch peer failed: " + command);
  return seconds;
}

int run(int threads, int warmup, int steps, int rounds, const std::string& only) {
  std::vector<BenchModel> models = {
      {"tiny (2L, d64, 4h, T64, V256)", {"tiny", 2, 64, 4, 64, 256, 256}, 16},
      {"Zyphra 4.9M (4L, d320, 5h, T256, V50304)", {"4.9M", 4, 320, 5, 256, 50304, 1280}, 4},
  };
  std::printf("CPU: %s, %d threads\n", cpu_model().c_str(), threads);
  const double peak = sgemm_peak_gflops(threads, 2048, 5);
  std::printf("sgemm peak (2048^3, OpenBLAS, median of 5): %.1f GFLOP/s\n", peak);
  std::printf("FLOPs per token = 6 N + 6 L T d (llm.c), N = all parameters\n");
  std::printf("each side: median step time of %d steps after %d warmup, per round; %d rounds alternating "
              "plascale and PyTorch; the median round is reported\n", steps, warmup, rounds);
  std::printf("%-42s %8s %12s %9s %7s %12s %9s\n", "model", "tok/step", "plascale t/s", "GFLOP/s", "%peak",
              "torch t/s", "ratio");
  for (const BenchModel& bench : models) {
    if (!only.empty() && bench.model.size_name != only) continue;
    const int64_t tokens = static_cast<int64_t>(bench.sequences) * bench.model.context;
    const double flops = flops_per_token(bench.model, gpt_layout(bench.model).total) * tokens;
    // Alternating the two sides spreads the shared machine's load changes over both.
    std::vector<double> ours_rounds, theirs_rounds;
    for (int round = 0; round < rounds; ++round) {
      ours_rounds.push_back(plascale_step_seconds(bench, threads, warmup, steps));
      theirs_rounds.push_back(torch_step_seconds(bench, threads, warmup, steps));
    }
    const double ours = median(ours_rounds), theirs = median(theirs_rounds);
    std::printf("%-42s %8lld %12.0f %9.1f %6.1f%% %12.0f %8.2fx\n", bench.name.c_str(),
                static_cast<long long>(tokens), tokens / ours, flops / ours / 1e9, 100.0 * flops / ours / 1e9 / peak,
                tokens / theirs, theirs / ours);
    std::fflush(stdout);
  }
  std::printf("ratio = PyTorch step time / plascale step time (> 1: plascale is faster)\n");
  return 0;
}

}  // namespace
}  // namespace plascale

int main(int argc, char** argv) {
  CLI::App app{"Training throughput of the plascale CPU backend vs PyTorch CPU"};
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int warmup = 1, steps = 3, rounds = 3;
  std::string only;
  app.add_option("--threads", threads, "CPU threads for both sides")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "untimed steps first")->check(CLI::NonNegativeNumber);
  app.add_option("--steps", steps, "timed steps (the median is reported)")->check(CLI::PositiveNumber);
  app.add_option("--rounds", rounds, "alternating rounds of both sides")->check(CLI::PositiveNumber);
  app.add_option("--only", only, "run one model: tiny or 4.9M");
  CLI11_PARSE(app, argc, argv);
  return plascale::run(threads, warmup, steps, rounds, only);
}
