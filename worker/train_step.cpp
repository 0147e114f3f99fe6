#include "worker/train_step.h"

#include <algorithm>
#include <cmath>

#include "worker/rng.h"

namespace plascale {

namespace {

int64_t sequences_that_fit(int seq_len) { return std::max<int64_t>(1, kMicroBatchTokens / std::max(seq_len, 1)); }

}  // namespace

int micro_batch_sequences(int sequences, int seq_len) {
  const int64_t fit = sequences_that_fit(seq_len);
  int best = 1;
  for (int candidate = 1; candidate <= sequences; ++candidate) {
    if (sequences % candidate == 0 && candidate <= fit) best = candidate;
  }
  return best;
}

TokenBatch batch_rows(const Batch& batch, int first, int count) {
  const size_t offset = static_cast<size_t>(first) * batch.seq_len;
  const size_t size = static_cast<size_t>(count) * batch.seq_len;
  TokenBatch view;
  view.inputs = std::span<const int32_t>(batch.inputs).subspan(offset, size);
  if (!batch.targets.empty()) view.targets = std::span<const int32_t>(batch.targets).subspan(offset, size);
  view.sequences = count;
  view.seq_len = batch.seq_len;
  return view;
}

StepResult train_step(ModelBackend& model, const Batch& batch, const TrainingConfig& training, double lr,
                      int64_t optimizer_step, const StepExtras& extras) {
  const int micro = micro_batch_sequences(batch.sequences, batch.seq_len);
  const int micro_batches = batch.sequences / micro;
  const float grad_scale = 1.0f / static_cast<float>(micro_batches);
  model.zero_gradients();
  StepResult result;
  TrainPassOptions pass;
  pass.activity = extras.activity;
  for (int index = 0; index < micro_batches; ++index) {
    if (extras.noise.std > 0) {
      pass.noise = {extras.noise.std, derive_seed(extras.noise.key, "micro-batch", {static_cast<uint64_t>(index)})};
    }
    result.loss += model.forward_backward(batch_rows(batch, index * micro, micro), grad_scale, pass);
  }
  result.loss /= micro_batches;
  if (extras.l2_init_strength > 0) result.penalty = model.add_anchor_penalty(extras.l2_init_strength);
  result.grad_norm = model.grad_norm();
  if (!std::isfinite(result.loss) || !std::isfinite(result.grad_norm)) return result;
  if (training.grad_clip > 0 && result.grad_norm > training.grad_clip) {
    model.scale_gradients(static_cast<float>(training.grad_clip / result.grad_norm));
  }
  AdamWStep update;
  update.lr = lr;
  update.beta1 = training.beta1;
  update.beta2 = training.beta2;
  update.eps = training.eps;
  update.weight_decay = training.weight_decay;
  update.step = optimizer_step;
  update.decay_norm_gains = extras.decay_norm_gains;
  model.adamw_step(update);
  return result;
}

double mean_loss(ModelBackend& model, const Batch& batch) {
  const int chunk = static_cast<int>(std::min<int64_t>(sequences_that_fit(batch.seq_len), batch.sequences));
  double total = 0;
  int first = 0;
  while (first < batch.sequences) {
    const int count = std::min(chunk, batch.sequences - first);
    total += model.evaluate_loss(batch_rows(batch, first, count)) * count;
    first += count;
  }
  return total / batch.sequences;
}

}  // namespace plascale
