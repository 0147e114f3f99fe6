#pragma once
// Continual Backprop (Dohare et al., Nature 2024; REFERENCES.md 2), generate-and-test on
// one group of units per block: the MLP hidden units and, optionally, the attention heads.
// After every optimizer step, for each unit i of a group:
//   age_i += 1
//   u_i <- decay u_i + (1 - decay) * mean|outgoing weights of i| * mean over the batch |output of i|
//   f_i <- decay f_i + (1 - decay) * mean over the batch of the output of i   (per output dim)
// Units with age > maturity are eligible; replacement_rate * eligible is added to an
// accumulated count, and its whole part of the eligible units with the lowest
// bias-corrected utility u_i / (1 - decay^age_i) (ties: lower index first) are replaced:
// the backend redraws their incoming weights, zeroes incoming biases, outgoing weights and
// the moments of all of those, and with bias correction first adds outgoing weights x
// f_i / (1 - decay^age_i) to the next bias. Their u, f and age restart at 0.
// A head's output is its head_dim columns of the attention output (before attn.proj); its
// "mean |output|" is the mean over those columns.

#include <cstdint>
#include <span>
#include <vector>

#include "worker/backend.h"
#include "worker/mitigations/options.h"

namespace plascale {

// The state of one group of units in one block (checkpointed).
struct UnitGroupState {
  std::vector<double> utility;      // [units]
  std::vector<double> mean_output;  // [units * width] running mean of each output dim
  std::vector<int64_t> age;         // [units] steps since the unit was (re)initialised
  double accumulated = 0;           // fractional replacements carried to the next step
  int64_t replaced = 0;             // units replaced so far (a trajectory counter)
};

// The replacement decision of one step: which units, and their bias-corrected mean
// outputs (units.size() * width) for the bias correction.
struct Replacement {
  std::vector<int> units;
  std::vector<float> mean_output;
};

// Updates one group's state from one step's measurements and chooses the units to
// replace (and resets their state). abs_mean[units], mean[units * width],
// outgoing[units] = mean |outgoing weight|. The engine's one implementation of the rule
// above; the backend does the edit.
Replacement continual_backprop_update(const ContinualBackpropOptions& options, UnitGroupState& state,
                                      std::span<const double> abs_mean, std::span<const double> mean,
                                      std::span<const double> outgoing);

class ContinualBackprop {
 public:
  ContinualBackprop(const ContinualBackpropOptions& options, const ModelConfig& model);

  // After optimizer step `step` (1-based), with that step's activity sums. Redraws use
  // derive_seed(seed, "continual-backprop", {step, layer, kind}).
  void after_step(ModelBackend& model, const ActivitySums& activity, uint64_t seed, int64_t step);

  // Per layer, units replaced so far: MLP units and heads.
  std::vector<double> replaced(UnitKind kind) const;

  const std::vector<UnitGroupState>& groups(UnitKind kind) const;
  std::vector<UnitGroupState>& groups(UnitKind kind);
  const ContinualBackpropOptions& options() const { return options_; }

 private:
  ContinualBackpropOptions options_;
  ModelConfig model_;
  std::vector<UnitGroupState> mlp_;    // one per block when options.mlp_units
  std::vector<UnitGroupState> heads_;  // one per block when options.heads
};

}  // namespace plascale
