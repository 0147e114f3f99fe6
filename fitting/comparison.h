#pragma once
// How far a mitigation moves the onset, against the baseline (`none`).

#include <cstdint>
#include <span>

#include "fitting/onset_law.h"

namespace plascale::fitting {

// One (size, seed) cell: the same model trained with and without the mitigation.
struct OnsetPair {
  double mitigated_tokens = 0.0;  // onset, or last probe tokens if censored
  bool mitigated_censored = false;
  double baseline_tokens = 0.0;
  bool baseline_censored = false;
};

struct OnsetShift {
  int pairs = 0;           // matched cells
  int used = 0;            // cells where both runs degraded
  int censored_pairs = 0;  // cells left out because either run is censored (ratio unknown)
  double factor = 0.0;     // geometric mean of mitigated / baseline onset over the used cells
  double low = 0.0, high = 0.0;  // bootstrap percentile interval (cells resampled)
  int bootstrap_replicates = 0;
};

// Needs at least one cell where both runs degraded; otherwise factor and interval are NaN.
OnsetShift onset_shift(std::span<const OnsetPair> pairs, int bootstrap, uint64_t seed, double level);

struct ExponentDifference {
  double difference = 0.0;  // b_mitigated - b_baseline
  double se = 0.0;          // sqrt(se_m^2 + se_b^2): independent runs, independent fits
  double low = 0.0, high = 0.0;  // normal interval at `level`
};

ExponentDifference exponent_difference(const OnsetLaw& mitigated, const OnsetLaw& baseline, double level);

}  // namespace plascale::fitting
