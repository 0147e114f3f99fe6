#pragma once
// Onset of plasticity loss for one run (REFERENCES.md section 1): where the probe AUC
// sequence, smoothed by a centred window-3 moving average, is lowest.
//
// Edges: the moving average is defined only where the whole window exists, at probes
// 1 .. n-2; probes 0 and n-1 are never an onset themselves. A minimum at the last defined
// position n-2 (the window holding the last probe) means the AUC has not risen yet: the
// run is right-censored, and all that is known is onset > tokens of the last probe.

#include <cstdint>
#include <span>

namespace plascale::fitting {

enum class OnsetStatus {
  degraded,        // interior minimum: onset found
  censored,        // not degraded by the last probe: onset > last_probe_tokens
  too_few_probes,  // fewer than 3 probes: no moving average exists
};

const char* onset_status_name(OnsetStatus status);

struct OnsetOptions {
  int smooth_half_width = 3;  // probes either side of the minimum used by the smooth model
  int bootstrap = 200;        // resamples of those probes for the smooth onset's interval
  uint64_t seed = 0;
  double level = 0.95;
};

struct Onset {
  OnsetStatus status = OnsetStatus::too_few_probes;
  int probe_index = -1;            // probe at the moving-average minimum (degraded only)
  double tokens = 0.0;             // reference rule: tokens of that probe; NaN unless degraded
  double last_probe_tokens = 0.0;  // censoring point
  // A quadratic in tokens fitted to the probes within smooth_half_width of the minimum; its
  // vertex is the smooth onset, with a bootstrap percentile interval (the whole window when
  // too many resamples have no minimum in it). NaN when the fitted parabola has no minimum
  // inside those probes (not convex, or vertex outside).
  double smooth_tokens = 0.0;
  double smooth_low = 0.0;
  double smooth_high = 0.0;
};

// tokens must be increasing; auc[i] is the probe AUC after tokens[i] training tokens.
Onset find_onset(std::span<const double> tokens, std::span<const double> auc, const OnsetOptions& options);

}  // namespace plascale::fitting
