#pragma once
// ReDo (Sokar et al. 2023; REFERENCES.md 2): after every period_steps optimizer steps,
// score each MLP hidden unit on that step's training batch,
//   s_i = mean|h_i| / ((1/units) sum_k mean|h_k|)      (worker/diagnostics/dormant_units.h)
// and re-initialise every unit with s_i <= threshold: incoming weights redrawn from the
// init distribution, incoming bias 0, outgoing weights 0, the moments of all of those 0.

#include <cstdint>
#include <span>
#include <vector>

#include "worker/backend.h"
#include "worker/mitigations/options.h"

namespace plascale {

// The units of one layer with ReDo score <= threshold, in increasing order.
std::vector<int> dormant_units(std::span<const double> abs_mean, double threshold);

// Resets the dormant units of every block from one step's activity sums; redraws use
// derive_seed(seed, "redo", {step, layer}). Adds the units reset per layer to `resets`.
void redo_reset(ModelBackend& model, const RedoOptions& options, const ActivitySums& activity, uint64_t seed,
                int64_t step, std::vector<int64_t>& resets);

}  // namespace plascale
