// Chinchilla Approach 3 on Epoch's 240 points: the 4,500-start grid fit and 1,000 bootstrap
// refits with plascale (Ceres L-BFGS, all cores), against scipy's L-BFGS-B on the same
// objective, grid and refits (chinchilla_scipy.py, run by this binary in the same run).
// Prints medians over repeats of the seconds and both objective values.
//
//   chinchilla_bench [--repeats R] [--replicates N] [--threads T]

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_common.h"
#include "fitting/chinchilla.h"
#include "fitting/parallel.h"
#include "fitting/statistics.h"

using namespace plascale::fitting;

namespace {

using plascale::bench::median;
using plascale::bench::seconds_since;

// The number after "key": in one JSON line printed by the Python peer.
double json_field(const std::string& line, const std::string& key) {
  size_t at = line.find("\"" + key + "\":");
  if (at == std::string::npos) throw std::runtime_error("scipy peer printed no " + key + ": " + line);
  return std::strtod(line.c_str() + at + key.size() + 3, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  int repeats = 3, replicates = 1000, threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--repeats")) repeats = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--replicates")) replicates = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
  }
  const std::string csv = std::string(PLASCALE_SOURCE_DIR) + "/../shared/data/chinchilla_svg_extracted.csv";
  const std::vector<ChinchillaPoint> points = epoch_chinchilla_points(csv);

  ChinchillaOptions options;
  options.threads = threads;
  // Repeats alternate between the two sides so that load from other jobs on the shared
  // machine falls on both alike; each side's medians are taken over its repeats.
  std::vector<double> grid_seconds, bootstrap_seconds, scipy_grid, scipy_bootstrap;
  ChinchillaFit fit;
  double scipy_objective = 0.0;
  const std::string command = fmt::format("{} {}/bench/fitting/chinchilla_scipy.py {} 1 {}", PLASCALE_PYTHON,
                                          PLASCALE_SOURCE_DIR, csv, replicates);
  for (int repeat = 0; repeat < repeats; ++repeat) {
    auto start = std::chrono::steady_clock::now();
    fit = fit_chinchilla(points, options);
    grid_seconds.push_back(seconds_since(start));
    start = std::chrono::steady_clock::now();
    std::vector<ChinchillaFit> refits(replicates);
    parallel_for(replicates, threads, [&](int r) {
      std::vector<ChinchillaPoint> sample;
      for (size_t i : resample_indices(points.size(), 1, r)) sample.push_back(points[i]);
      refits[r] = refit_chinchilla(sample, fit, options);
    });
    bootstrap_seconds.push_back(seconds_since(start));

    FILE* peer = popen(command.c_str(), "r");
    if (!peer) throw std::runtime_error("cannot run " + command);
    char buffer[4096];
    std::string line;
    while (std::fgets(buffer, sizeof buffer, peer)) line += buffer;
    if (pclose(peer) != 0 || line.empty()) throw std::runtime_error("the scipy peer failed: " + command);
    scipy_grid.push_back(json_field(line, "grid_seconds"));
    scipy_bootstrap.push_back(json_field(line, "bootstrap_seconds"));
    scipy_objective = json_field(line, "objective");
  }

  fmt::print("Chinchilla Approach 3, 240 points, 4500 grid starts + {} bootstrap refits; medians of {} repeats\n",
             replicates, repeats);
  fmt::print("  plascale (Ceres L-BFGS, threads = {}): grid {:.3f} s, refits {:.3f} s, objective {:.10g}\n",
             threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency()), median(grid_seconds),
             median(bootstrap_seconds), fit.objective);
  fmt::print("  A {:.1f} B {:.1f} E {:.4f} alpha {:.4f} beta {:.4f}\n", std::exp(fit.a), std::exp(fit.b), std::exp(fit.e),
             fit.alpha, fit.beta);
  fmt::print("  scipy (L-BFGS-B, analytic gradient, threads = 1): grid {:.3f} s, refits {:.3f} s, objective {:.10g}\n",
             median(scipy_grid), median(scipy_bootstrap), scipy_objective);
  double ours = median(grid_seconds) + median(bootstrap_seconds);
  double theirs = median(scipy_grid) + median(scipy_bootstrap);
  fmt::print("  speedup: grid {:.1f}x, refits {:.1f}x, total {:.1f}x; objective plascale - scipy = {:.3g}\n",
             median(scipy_grid) / median(grid_seconds), median(scipy_bootstrap) / median(bootstrap_seconds),
             theirs / ours, fit.objective - scipy_objective);
  return 0;
}
