#pragma once
// The mitigation strategies of one run, applied by the trainer around each optimizer step
// of the main model (never to the probe copy, never to evaluations). docs/mitigations.md
// explains each strategy and the order:
//   before the step: attention-noise std for this step, activity sums requested
//   the step:        training pass with noise, + L2-Init gradient, clip, AdamW with the
//                    weight-decay override (decay_norm_gains)
//   after the step:  shrink_perturb, continual_backprop, redo, norm_limit (last, so no
//                    tensor is over its bound after any step)
// Every random draw is keyed by derive_seed(run seed, strategy, {step, ...}); the state
// that is not a function of the step (CBP utilities, ages, running means, accumulated
// fractions, counters) goes into the checkpoint, so resume is bit-identical.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/checkpoint.h"
#include "storage/trajectory.h"
#include "sweeps/run_spec.h"
#include "worker/backend.h"
#include "worker/mitigations/continual_backprop.h"
#include "worker/mitigations/options.h"
#include "worker/train_step.h"

namespace plascale {

// Tensor indices of the shrink_perturb groups (all, attention, mlp, layernorm, embeddings).
std::vector<int> tensors_in_groups(const ParamLayout& layout, const std::vector<std::string>& groups);

class Mitigations {
 public:
  // Throws InputError for a strategy or parameter the engine cannot apply.
  explicit Mitigations(const RunSpec& spec);

  const MitigationOptions& options() const { return options_; }

  // The main run's training settings (the weight_decay override applied).
  TrainingConfig training(const TrainingConfig& base) const;

  // True when on_initialised() needs the initial parameters on resume too (L2-Init's
  // theta_0 is recomputed from the init seed rather than checkpointed).
  bool needs_initial_parameters() const { return options_.l2_init.has_value(); }
  // Called with the model at its initial parameters: L2-Init keeps them as theta_0.
  void on_initialised(ModelBackend& model);

  // What the step about to be taken needs; `step` is its 0-based index, `tokens` the
  // training tokens before it.
  StepExtras before_step(int64_t step, int64_t tokens);
  // After a successful optimizer step; `step` = steps taken so far (1-based).
  void after_step(ModelBackend& model, const StepResult& stepped, int64_t step);

  // Counters for the trajectory row (docs/storage.md, "mitigation counters").
  void add_counters(TrajectoryRow& row) const;

  void save(Checkpoint& checkpoint) const;
  // Throws InputError naming `file` and the array when the state is missing or misshapen.
  void restore(const Checkpoint& checkpoint, const std::string& file);

 private:
  RunSpec spec_;
  MitigationOptions options_;
  std::optional<ContinualBackprop> continual_backprop_;
  ActivitySums activity_;
  bool activity_requested_ = false;
  // Counters, cumulative since the start of the run.
  std::vector<int64_t> redo_resets_;  // per layer
  int64_t shrink_perturb_steps_ = 0;
  int64_t gain_clamps_ = 0;           // LayerNorm gain elements clamped
  int64_t weight_clamps_ = 0;         // matrices (or rows) scaled to max_weight_norm
  // Of the last step.
  double l2_init_penalty_ = 0;
  double noise_std_ = 0;
};

}  // namespace plascale
