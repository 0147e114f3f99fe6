#include "worker/diagnostics/dormant_units.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace plascale {

UnitActivity unit_activity(std::span<const float> activations, int64_t tokens, int units) {
  if (static_cast<int64_t>(activations.size()) != tokens * units) {
    throw std::invalid_argument("unit_activity: " + std::to_string(activations.size()) + " values for " +
                                std::to_string(tokens) + " tokens x " + std::to_string(units) + " units");
  }
  UnitActivity activity;
  activity.tokens = tokens;
  activity.abs_mean.assign(units, 0.0);
  activity.zero_tokens.assign(units, 0);
  for (int64_t t = 0; t < tokens; ++t) {
    const float* row = activations.data() + t * units;
    for (int i = 0; i < units; ++i) {
      activity.abs_mean[i] += std::fabs(row[i]);
      activity.zero_tokens[i] += row[i] == 0.0f;
    }
  }
  if (tokens > 0) {
    for (double& mean : activity.abs_mean) mean /= static_cast<double>(tokens);
  }
  return activity;
}

std::vector<double> redo_scores(std::span<const double> abs_mean) {
  double layer_mean = 0;
  for (double value : abs_mean) layer_mean += value;
  if (!abs_mean.empty()) layer_mean /= static_cast<double>(abs_mean.size());
  std::vector<double> scores(abs_mean.size(), 0.0);
  if (layer_mean > 0) {
    for (size_t i = 0; i < abs_mean.size(); ++i) scores[i] = abs_mean[i] / layer_mean;
  }
  return scores;
}

double dormant_fraction(std::span<const double> abs_mean, double threshold) {
  if (abs_mean.empty()) return 0.0;
  int64_t dormant = 0;
  for (double score : redo_scores(abs_mean)) dormant += score <= threshold;
  return static_cast<double>(dormant) / static_cast<double>(abs_mean.size());
}

double zero_unit_fraction(std::span<const int64_t> zero_tokens, int64_t tokens) {
  if (zero_tokens.empty() || tokens <= 0) return 0.0;
  int64_t always_zero = 0;
  for (int64_t count : zero_tokens) always_zero += count == tokens;
  return static_cast<double>(always_zero) / static_cast<double>(zero_tokens.size());
}

}  // namespace plascale
