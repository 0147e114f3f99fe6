#pragma once
// One optimizer step and one evaluation, shared by the main run and the probe copy so
// both train the same way: gradients accumulated over equal micro-batches, global-norm
// clipping, AdamW.

#include <cstdint>

#include "sweeps/run_spec.h"
#include "worker/backend.h"
#include "worker/data/schedule.h"

namespace plascale {

// Sequences per forward/backward call: the largest divisor of the batch's sequences whose
// tokens fit in kMicroBatchTokens (at least one sequence). Depends on the spec alone, so a
// run's numbers do not depend on the machine.
inline constexpr int64_t kMicroBatchTokens = 16384;
int micro_batch_sequences(int sequences, int seq_len);

struct StepResult {
  double loss = 0;       // mean training loss of the batch (the L2-Init penalty not included)
  double grad_norm = 0;  // global gradient norm before clipping
  double penalty = 0;    // the L2-Init penalty added to the objective (0 without it)
};

// What the mitigations (worker/mitigations/) add to a step of the main run; the defaults
// add nothing, and the probe copy always trains with the defaults.
struct StepExtras {
  // Attention-logit noise; micro-batch k uses key derive_seed(noise.key, "micro-batch", {k}).
  AttentionNoise noise;
  ActivitySums* activity = nullptr;  // per-unit activation sums of the batch are added here
  double l2_init_strength = 0;       // > 0: adds strength * ||theta - theta_0||^2 (backend anchor)
  bool decay_norm_gains = false;     // AdamWStep::decay_norm_gains
};

// Zeroes the gradients, accumulates the batch's mean-loss gradient over micro-batches,
// adds the L2-Init gradient, clips to training.grad_clip (0 = off), applies AdamW with `lr`
// and step count `optimizer_step` (1-based since the last optimizer reset). A non-finite
// loss or gradient norm skips the update and is returned for the caller to handle.
StepResult train_step(ModelBackend& model, const Batch& batch, const TrainingConfig& training, double lr,
                      int64_t optimizer_step, const StepExtras& extras = {});

// Mean loss over every sequence of the batch, evaluated in chunks of at most
// kMicroBatchTokens tokens.
double mean_loss(ModelBackend& model, const Batch& batch);

// Rows [first, first + count) of a batch as a backend view.
TokenBatch batch_rows(const Batch& batch, int first, int count);

}  // namespace plascale
