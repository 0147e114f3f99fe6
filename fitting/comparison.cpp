#include "fitting/comparison.h"

#include <cmath>
#include <limits>
#include <vector>

#include "fitting/statistics.h"

namespace plascale::fitting {

OnsetShift onset_shift(std::span<const OnsetPair> pairs, int bootstrap, uint64_t seed, double level) {
  OnsetShift shift;
  shift.pairs = static_cast<int>(pairs.size());
  std::vector<double> log_ratios;
  for (const OnsetPair& pair : pairs) {
    if (pair.mitigated_censored || pair.baseline_censored) {
      ++shift.censored_pairs;
      continue;
    }
    log_ratios.push_back(std::log(pair.mitigated_tokens / pair.baseline_tokens));
  }
  shift.used = static_cast<int>(log_ratios.size());
  const double nan = std::numeric_limits<double>::quiet_NaN();
  shift.factor = shift.low = shift.high = nan;
  if (log_ratios.empty()) return shift;
  auto mean = [](const std::vector<double>& values) {
    double sum = 0.0;
    for (double value : values) sum += value;
    return sum / static_cast<double>(values.size());
  };
  shift.factor = std::exp(mean(log_ratios));
  if (bootstrap <= 0 || log_ratios.size() < 2) return shift;
  std::vector<double> replicates;
  for (int r = 0; r < bootstrap; ++r) {
    std::vector<double> sample;
    for (size_t i : resample_indices(log_ratios.size(), seed, static_cast<uint64_t>(r))) sample.push_back(log_ratios[i]);
    replicates.push_back(std::exp(mean(sample)));
  }
  shift.bootstrap_replicates = bootstrap;
  double tail = 0.5 * (1.0 - level);
  shift.low = quantile(replicates, tail);
  shift.high = quantile(replicates, 1.0 - tail);
  return shift;
}

ExponentDifference exponent_difference(const OnsetLaw& mitigated, const OnsetLaw& baseline, double level) {
  ExponentDifference result;
  result.difference = mitigated.b - baseline.b;
  result.se = std::sqrt(mitigated.se_b * mitigated.se_b + baseline.se_b * baseline.se_b);
  double z = normal_quantile(0.5 + 0.5 * level);
  result.low = result.difference - z * result.se;
  result.high = result.difference + z * result.se;
  return result;
}

}  // namespace plascale::fitting
