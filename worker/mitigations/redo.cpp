#include "worker/mitigations/redo.h"

#include "worker/diagnostics/dormant_units.h"
#include "worker/rng.h"

namespace plascale {

std::vector<int> dormant_units(std::span<const double> abs_mean, double threshold) {
  const std::vector<double> scores = redo_scores(abs_mean);
  std::vector<int> units;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (scores[i] <= threshold) units.push_back(static_cast<int>(i));
  }
  return units;
}

void redo_reset(ModelBackend& model, const RedoOptions& options, const ActivitySums& activity, uint64_t seed,
                int64_t step, std::vector<int64_t>& resets) {
  for (int layer = 0; layer < static_cast<int>(activity.mlp_abs.size()); ++layer) {
    std::vector<double> abs_mean;
    for (double sum : activity.mlp_abs[layer]) abs_mean.push_back(sum / static_cast<double>(activity.tokens));
    UnitReset reset;
    reset.kind = UnitKind::mlp_unit;
    reset.layer = layer;
    reset.units = dormant_units(abs_mean, options.threshold);
    if (reset.units.empty()) continue;
    reset.key = derive_seed(seed, "redo", {static_cast<uint64_t>(step), static_cast<uint64_t>(layer)});
    resets.at(layer) += static_cast<int64_t>(reset.units.size());
    model.reset_units(reset);
  }
}

}  // namespace plascale
