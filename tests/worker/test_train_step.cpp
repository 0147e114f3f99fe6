#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "worker/backend.h"
#include "worker/rng.h"
#include "worker/train_step.h"

namespace plascale {
namespace {

TEST(TrainStep, MicroBatchesAreTheLargestDivisorThatFits) {
  EXPECT_EQ(micro_batch_sequences(16, 64), 16);     // 1024 tokens fit whole
  EXPECT_EQ(micro_batch_sequences(512, 64), 256);   // 16384 / 64 = 256 per call
  EXPECT_EQ(micro_batch_sequences(48, 512), 24);    // at most 32 fit; 24 divides 48
  EXPECT_EQ(micro_batch_sequences(7, 16384), 1);
  EXPECT_EQ(micro_batch_sequences(3, 100000), 1);   // one sequence even if it alone is too long
}

// 2048 sequences of 16 tokens = 2 micro-batches of 1024: the accumulated gradient is the
// whole batch's, so loss and gradient norm match one call over everything.
TEST(TrainStep, AccumulatedMicroBatchesEqualTheWholeBatch) {
  ModelConfig model;
  model.layers = 1;
  model.d_model = 16;
  model.heads = 2;
  model.context = 16;
  model.vocab = 32;
  model.mlp_hidden = 64;
  Batch batch;
  batch.sequences = 2048;
  batch.seq_len = 16;
  ASSERT_EQ(micro_batch_sequences(batch.sequences, batch.seq_len), 1024);
  Rng rng(derive_seed(1, "test-train-step"));
  for (int index = 0; index < batch.sequences * batch.seq_len; ++index) {
    batch.inputs.push_back(static_cast<int32_t>(rng.below(32)));
    batch.targets.push_back(static_cast<int32_t>(rng.below(32)));
  }
  BackendOptions options;
  options.threads = 1;
  auto whole = make_backend(model, options);
  auto micro = make_backend(model, options);
  whole->init_parameters(5);
  micro->init_parameters(5);

  whole->zero_gradients();
  const double whole_loss = whole->forward_backward(batch.view());
  const double whole_norm = whole->grad_norm();

  TrainingConfig training;
  training.grad_clip = 0;
  StepResult stepped = train_step(*micro, batch, training, 1e-3, 1);
  EXPECT_NEAR(stepped.loss, whole_loss, 1e-6 * whole_loss);
  EXPECT_NEAR(stepped.grad_norm, whole_norm, 1e-5 * whole_norm);
  EXPECT_NEAR(mean_loss(*whole, batch), whole_loss, 1e-6 * whole_loss);

  // The update was applied: parameters moved.
  std::vector<float> before(whole->layout().total), after(before.size());
  whole->read_buffer(BufferKind::parameters, 0, before);
  micro->read_buffer(BufferKind::parameters, 0, after);
  EXPECT_NE(before, after);
}

TEST(TrainStep, ClipsTheGlobalNormAndSkipsNonFiniteUpdates) {
  ModelConfig model;
  model.layers = 1;
  model.d_model = 16;
  model.heads = 2;
  model.context = 8;
  model.vocab = 32;
  model.mlp_hidden = 64;
  Batch batch;
  batch.sequences = 2;
  batch.seq_len = 8;
  for (int index = 0; index < 16; ++index) {
    batch.inputs.push_back(index % 32);
    batch.targets.push_back((index * 7) % 32);
  }
  BackendOptions options;
  options.threads = 1;
  auto backend = make_backend(model, options);
  backend->init_parameters(9);
  TrainingConfig training;
  training.grad_clip = 1e-3;
  StepResult stepped = train_step(*backend, batch, training, 0.0, 1);  // LR 0: only the gradients change
  EXPECT_GT(stepped.grad_norm, 1e-3);
  EXPECT_NEAR(backend->grad_norm(), 1e-3, 1e-8);  // clipped in place before AdamW

  std::vector<float> params(backend->layout().total);
  backend->read_buffer(BufferKind::parameters, 0, params);
  params[0] = NAN;  // a NaN embedding entry makes the loss NaN
  backend->write_buffer(BufferKind::parameters, 0, params);
  std::vector<float> moments_before(params.size()), moments_after(params.size());
  backend->read_buffer(BufferKind::adam_m, 0, moments_before);
  batch.inputs[0] = 0;
  StepResult bad = train_step(*backend, batch, training, 1e-3, 2);
  EXPECT_FALSE(std::isfinite(bad.loss));
  backend->read_buffer(BufferKind::adam_m, 0, moments_after);
  EXPECT_EQ(std::memcmp(moments_before.data(), moments_after.data(), moments_before.size() * sizeof(float)), 0)
      << "no AdamW update on a non-finite step";
}

}  // namespace
}  // namespace plascale
