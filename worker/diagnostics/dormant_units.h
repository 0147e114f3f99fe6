#pragma once
// Dormant MLP units (ReDo, Sokar et al. 2023; REFERENCES.md 1 and 2). For one layer with
// per-unit mean |h_i| over the sampled tokens:
//   s_i = mean|h_i| / ((1/units) sum_k mean|h_k|)      unit i is dormant if s_i <= threshold
// A layer whose every unit has mean |h| = 0 has no defined score; we call all its units
// dormant (score 0), the limit of the definition as activity vanishes.

#include <cstdint>
#include <span>
#include <vector>

namespace plascale {

// Per-unit statistics of an activation matrix h [tokens, units] (row-major): mean |h| over
// tokens (accumulated in double) and the number of tokens where h is exactly zero. The
// reference for what the backends' capture() reports.
struct UnitActivity {
  std::vector<double> abs_mean;      // [units]
  std::vector<int64_t> zero_tokens;  // [units]
  int64_t tokens = 0;
};
UnitActivity unit_activity(std::span<const float> activations, int64_t tokens, int units);

std::vector<double> redo_scores(std::span<const double> abs_mean);

// Fraction of units with ReDo score <= threshold.
double dormant_fraction(std::span<const double> abs_mean, double threshold);

// Fraction of units whose activation is exactly zero on every one of `tokens` tokens.
double zero_unit_fraction(std::span<const int64_t> zero_tokens, int64_t tokens);

}  // namespace plascale
