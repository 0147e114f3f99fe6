// The CPU backend against a naive double-precision model (tests/worker/reference_model.h):
// loss, every gradient element by finite differences, AdamW, accumulation, capture,
// determinism.

#include "tests/worker/reference_model.h"
#include "tests/worker/tiny_backend.h"
#include "worker/cpu_backend.h"
#include "worker/gpt_init.h"
#include "worker/rng.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

namespace plascale {
namespace {

using testing::init_perturbed;
using testing::random_tokens;
using testing::tiny_model;
using testing::reference_forward;
using testing::Tokens;

std::vector<double> as_double(std::span<const float> values) { return {values.begin(), values.end()}; }

TEST(CpuBackend, LossAndLogitsMatchDoubleReference) {
  const ModelConfig model = tiny_model();
  CpuBackend backend(model, 2);
  init_perturbed(backend, 1, 0.3);
  const Tokens tokens = random_tokens(70, 8, model.vocab, 2);  // 560 tokens: two output-head chunks
  const auto reference = reference_forward(model, backend.layout(), as_double(backend.buffer(BufferKind::parameters)),
                                           tokens.inputs, tokens.targets, tokens.sequences, tokens.seq_len);
  EXPECT_NEAR(backend.evaluate_loss(tokens.batch()), reference.loss, 1e-5 * reference.loss);
  std::vector<float> logits(tokens.inputs.size() * model.vocab);
  backend.forward_logits(tokens.batch(), logits);
  for (size_t i = 0; i < logits.size(); ++i) EXPECT_NEAR(logits[i], reference.logits[i], 1e-5) << i;
}

// Every element of every tensor: the backend's fp32 gradient against central differences
// of the double-precision reference loss (step 1e-5, truncation error ~1e-10).
TEST(CpuBackend, GradientOfEveryParameterMatchesFiniteDifferences) {
  const ModelConfig model = tiny_model();
  CpuBackend backend(model, 2);
  init_perturbed(backend, 3, 0.3);
  const Tokens tokens = random_tokens(2, 7, model.vocab, 4);  // seq_len < context on purpose
  backend.zero_gradients();
  backend.forward_backward(tokens.batch());
  std::vector<double> params = as_double(backend.buffer(BufferKind::parameters));
  const std::span<const float> grads = backend.buffer(BufferKind::gradients);
  const double step = 1e-5;
  for (const TensorInfo& tensor : backend.layout().tensors) {
    std::vector<double> numeric(tensor.size);
    double largest = 0;
    for (int64_t i = 0; i < tensor.size; ++i) {
      double& value = params[tensor.offset + i];
      const double original = value;
      value = original + step;
      const double up = reference_forward(model, backend.layout(), params, tokens.inputs, tokens.targets,
                                          tokens.sequences, tokens.seq_len).loss;
      value = original - step;
      const double down = reference_forward(model, backend.layout(), params, tokens.inputs, tokens.targets,
                                            tokens.sequences, tokens.seq_len).loss;
      value = original;
      numeric[i] = (up - down) / (2 * step);
      largest = std::max(largest, std::fabs(numeric[i]));
    }
    // Rows of wpe past seq_len get no gradient; everything else must be exercised.
    ASSERT_GT(largest, 1e-4) << tensor.name << " has no gradient to check";
    for (int64_t i = 0; i < tensor.size; ++i) {
      EXPECT_NEAR(grads[tensor.offset + i], numeric[i], 2e-4 * largest + 1e-7)
          << tensor.name << "[" << i << "]";
    }
  }
}

TEST(CpuBackend, MicroBatchAccumulationEqualsFullBatch) {
  const ModelConfig model = tiny_model();
  CpuBackend backend(model, 2);
  init_perturbed(backend, 5, 0.2);
  // The full batch's 560 tokens take two output-head chunks, each half one.
  const Tokens tokens = random_tokens(70, 8, model.vocab, 6);
  backend.zero_gradients();
  const double full_loss = backend.forward_backward(tokens.batch());
  const std::vector<float> full(backend.buffer(BufferKind::gradients).begin(), backend.buffer(BufferKind::gradients).end());
  backend.zero_gradients();
  double halves_loss = 0;
  for (int half = 0; half < 2; ++half) {
    const int64_t begin = half * 35 * 8, count = 35 * 8;
    TokenBatch part{std::span(tokens.inputs).subspan(begin, count), std::span(tokens.targets).subspan(begin, count), 35, 8};
    halves_loss += 0.5 * backend.forward_backward(part, 0.5f);
  }
  EXPECT_NEAR(halves_loss, full_loss, 1e-6);
  const std::span<const float> accumulated = backend.buffer(BufferKind::gradients);
  for (size_t i = 0; i < full.size(); ++i) EXPECT_NEAR(accumulated[i], full[i], 1e-6 + 1e-5 * std::fabs(full[i])) << i;
}

TEST(CpuBackend, AdamWMatchesHandWrittenUpdateAndDecaysOnlyMatrices) {
  const ModelConfig model = tiny_model();
  CpuBackend backend(model, 2);
  init_perturbed(backend, 7, 0.1);
  const ParamLayout& layout = backend.layout();
  std::vector<double> p = as_double(backend.buffer(BufferKind::parameters));
  std::vector<double> m(layout.total, 0.0), v(layout.total, 0.0);
  AdamWStep update;
  update.lr = 0.01;
  update.beta1 = 0.8;
  update.beta2 = 0.9;
  update.eps = 1e-6;
  update.weight_decay = 0.5;
  Rng rng(derive_seed(8, "test-gradients"));
  for (int step = 1; step <= 3; ++step) {
    std::vector<float> grads(layout.total);
    for (float& g : grads) g = static_cast<float>(rng.normal());
    grads[layout.at("h.0.mlp.fc.bias").offset] = 0.0f;    // never decayed: must not move
    grads[layout.at("h.1.attn.qkv.weight").offset] = 0.0f;  // decayed: shrinks by (1 - lr wd)
    backend.write_buffer(BufferKind::gradients, 0, grads);
    update.step = step;
    backend.adamw_step(update);
    for (const TensorInfo& tensor : layout.tensors) {
      for (int64_t i = tensor.offset; i < tensor.offset + tensor.size; ++i) {
        m[i] = update.beta1 * m[i] + (1 - update.beta1) * grads[i];
        v[i] = update.beta2 * v[i] + (1 - update.beta2) * grads[i] * grads[i];
        const double m_hat = m[i] / (1 - std::pow(update.beta1, step));
        const double v_hat = v[i] / (1 - std::pow(update.beta2, step));
        if (tensor.weight_decay()) p[i] *= 1 - update.lr * update.weight_decay;
        p[i] -= update.lr * m_hat / (std::sqrt(v_hat) + update.eps);
      }
    }
  }
  const std::span<const float> params = backend.buffer(BufferKind::parameters);
  for (int64_t i = 0; i < layout.total; ++i) EXPECT_NEAR(params[i], p[i], 1e-6 + 1e-5 * std::fabs(p[i])) << i;
  const std::span<const float> moments = backend.buffer(BufferKind::adam_v);
  for (int64_t i = 0; i < layout.total; ++i) EXPECT_NEAR(moments[i], v[i], 1e-6 * (1 + v[i])) << i;
  EXPECT_FALSE(layout.at("h.0.mlp.fc.bias").weight_decay());
  EXPECT_FALSE(layout.at("h.0.ln1.weight").weight_decay());
  EXPECT_TRUE(layout.at("wte").weight_decay());
  backend.reset_optimizer();
  for (float value : backend.buffer(BufferKind::adam_m)) ASSERT_EQ(value, 0.0f);
}

TEST(CpuBackend, GradNormAndScaling) {
  const ModelConfig model = tiny_model();
  CpuBackend backend(model, 2);
  init_perturbed(backend, 9, 0.2);
  const Tokens tokens = random_tokens(2, 8, model.vocab, 10);
  backend.zero_gradients();
  backend.forward_backward(tokens.batch());
  double squares = 0;
  for (float g : backend.buffer(BufferKind::gradients)) squares += static_cast<double>(g) * g;
  const double norm = backend.grad_norm();
  EXPECT_NEAR(norm, std::sqrt(squares), 1e-9 * norm);
  backend.scale_gradients(0.25f);
  EXPECT_NEAR(backend.grad_norm(), 0.25 * norm, 1e-6 * norm);
  backend.zero_gradients();
  EXPECT_EQ(backend.grad_norm(), 0.0);
}

TEST(CpuBackend, CaptureMatchesReferenceActivations) {
  const ModelConfig model = tiny_model();
  CpuBackend backend(model, 2);
  init_perturbed(backend, 11, 0.3);
  // Unit 3 of layer 1 gets a pre-activation of about -1000 on every token: its GELU output
  // is exactly 0, so it must be counted as zero on every token.
  const ParamLayout& layout = backend.layout();
  std::span<float> params = backend.buffer(BufferKind::parameters);
  const int64_t fc_weight = layout.at("h.1.mlp.fc.weight").offset + 3 * model.d_model;
  std::fill_n(params.begin() + fc_weight, model.d_model, 0.0f);
  params[layout.at("h.1.mlp.fc.bias").offset + 3] = -1000.0f;

  const Tokens tokens = random_tokens(3, 8, model.vocab, 12);
  CaptureOptions options;
  options.residual_rows = 5;
  Capture capture;
  backend.capture(tokens.batch(), options, capture);
  const auto reference = reference_forward(model, layout, as_double(params), tokens.inputs, {}, 3, 8);
  const int64_t count = 24;
  ASSERT_EQ(capture.tokens, count);
  ASSERT_EQ(capture.residual_rows, 5);
  ASSERT_EQ(capture.layers.size(), 2u);
  for (int l = 0; l < model.layers; ++l) {
    const LayerCapture& c = capture.layers[l];
    for (int u = 0; u < model.mlp_hidden; ++u) {
      double mean_abs = 0;
      for (int64_t r = 0; r < count; ++r) mean_abs += std::fabs(reference.gelu[l][r * model.mlp_hidden + u]) / count;
      EXPECT_NEAR(c.mlp_abs_mean[u], mean_abs, 1e-5 * (1 + mean_abs)) << "layer " << l << " unit " << u;
      const bool dead = l == 1 && u == 3;
      EXPECT_EQ(c.mlp_zero_tokens[u], dead ? count : 0) << "layer " << l << " unit " << u;
    }
    for (int h = 0; h < model.heads; ++h) {
      for (int i = 0; i < 8; ++i) {
        double mean_entropy = 0;
        for (int b = 0; b < 3; ++b) mean_entropy += reference.entropy[l][(b * model.heads + h) * 8 + i] / 3;
        EXPECT_NEAR(c.attention_entropy[h * 8 + i], mean_entropy, 1e-5) << "layer " << l << " head " << h;
      }
    }
    EXPECT_EQ(c.attention_entropy[0], 0.0);  // the first query sees one key
    for (int r = 0; r < 5; ++r) {
      const int64_t token = r * count / 5;
      for (int c_ = 0; c_ < model.d_model; ++c_) {
        EXPECT_NEAR(c.residual[r * model.d_model + c_], reference.output[l][token * model.d_model + c_], 1e-5);
      }
    }
  }
}

TEST(CpuBackend, SameSeedAndThreadsGiveBitIdenticalTraining) {  // and 1 thread gives close numbers
  ModelConfig model = tiny_model();
  model.d_model = 32;
  model.heads = 4;
  model.context = 80;  // two query blocks in the fused attention
  model.mlp_hidden = 128;
  model.vocab = 50;
  const Tokens tokens = random_tokens(3, 80, model.vocab, 13);
  auto train = [&](int threads) {
    CpuBackend backend(model, threads);
    backend.init_parameters(14);
    std::vector<double> losses;
    for (int step = 1; step <= 3; ++step) {
      backend.zero_gradients();
      losses.push_back(backend.forward_backward(tokens.batch()));
      losses.push_back(backend.grad_norm());
      backend.adamw_step({.lr = 1e-2, .step = step});
    }
    const std::span<const float> params = backend.buffer(BufferKind::parameters);
    return std::make_pair(losses, std::vector<float>(params.begin(), params.end()));
  };
  const auto first = train(2);
  const auto second = train(2);
  ASSERT_EQ(first.first.size(), second.first.size());
  EXPECT_EQ(std::memcmp(first.first.data(), second.first.data(), first.first.size() * sizeof(double)), 0);
  ASSERT_EQ(first.second.size(), second.second.size());
  EXPECT_EQ(std::memcmp(first.second.data(), second.second.data(), first.second.size() * sizeof(float)), 0);
  EXPECT_LT(first.first[4], first.first[0]);  // and it learns: loss falls on the repeated batch
  // One thread may round differently (other sgemm partitions) but must agree closely.
  const auto single = train(1);
  for (size_t i = 0; i < single.first.size(); ++i) EXPECT_NEAR(single.first[i], first.first[i], 1e-5) << i;
}

TEST(CpuBackend, InitIsGpt2StyleAndIndependentOfThreads) {
  ModelConfig model = tiny_model();
  model.vocab = 3000;  // large enough for several init chunks
  CpuBackend one(model, 1), two(model, 2);
  one.init_parameters(15);
  two.init_parameters(15);
  const std::span<const float> a = one.buffer(BufferKind::parameters), b = two.buffer(BufferKind::parameters);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  const ParamLayout& layout = one.layout();
  auto stddev = [&](const std::string& name) {
    const TensorInfo& t = layout.at(name);
    double squares = 0;
    for (int64_t i = 0; i < t.size; ++i) squares += static_cast<double>(a[t.offset + i]) * a[t.offset + i];
    return std::sqrt(squares / t.size);
  };
  EXPECT_NEAR(stddev("wte"), 0.02, 0.001);
  EXPECT_NEAR(stddev("h.0.mlp.proj.weight"), 0.02 / std::sqrt(4.0), 0.003);
  EXPECT_EQ(a[layout.at("h.1.ln2.weight").offset], 1.0f);
  EXPECT_EQ(a[layout.at("h.1.ln2.bias").offset], 0.0f);
  EXPECT_EQ(a[layout.at("h.1.attn.qkv.bias").offset + 5], 0.0f);
  const TensorInfo& fc = layout.at("h.1.mlp.fc.weight");
  EXPECT_EQ(a[fc.offset + 7], init_value(layout, model.layers, 15, layout.tensor_of(fc.offset), 7));
}

TEST(CpuBackend, CopyFromReproducesTheModelAndParameterStats) {
  const ModelConfig model = tiny_model();
  CpuBackend source(model, 2), copy(model, 1);
  init_perturbed(source, 16, 0.2);
  const Tokens tokens = random_tokens(2, 8, model.vocab, 17);
  source.zero_gradients();
  source.forward_backward(tokens.batch());
  source.adamw_step({.lr = 1e-2, .step = 1});
  copy.init_parameters(99);
  copy.copy_from(source);
  EXPECT_EQ(copy.evaluate_loss(tokens.batch()), CpuBackend(source).evaluate_loss(tokens.batch()));
  const auto src_m = source.buffer(BufferKind::adam_m), copy_m = copy.buffer(BufferKind::adam_m);
  EXPECT_EQ(std::memcmp(src_m.data(), copy_m.data(), src_m.size() * sizeof(float)), 0);

  const ParameterStats stats = copy.parameter_stats();
  const std::span<const float> p = copy.buffer(BufferKind::parameters);
  double abs_sum = 0;
  int64_t counted = 0;
  for (size_t t = 0; t < copy.layout().tensors.size(); ++t) {
    const TensorInfo& tensor = copy.layout().tensors[t];
    double squares = 0;
    for (int64_t i = 0; i < tensor.size; ++i) {
      squares += static_cast<double>(p[tensor.offset + i]) * p[tensor.offset + i];
      if (tensor.nonembedding()) abs_sum += std::fabs(p[tensor.offset + i]);
    }
    if (tensor.nonembedding()) counted += tensor.size;
    EXPECT_NEAR(stats.tensor_l2[t], std::sqrt(squares), 1e-9) << tensor.name;
  }
  EXPECT_NEAR(stats.nonembedding_abs_mean, abs_sum / counted, 1e-12);
}

TEST(CpuBackend, RejectsTokensOutsideTheVocabularyAndBadShapes) {
  const ModelConfig model = tiny_model();
  CpuBackend backend(model, 1);
  backend.init_parameters(18);
  Tokens tokens = random_tokens(1, 4, model.vocab, 19);
  tokens.targets[2] = model.vocab;
  EXPECT_THROW(backend.forward_backward(tokens.batch()), std::out_of_range);
  tokens.targets[2] = 0;
  tokens.seq_len = 9;  // longer than the context
  EXPECT_THROW(backend.evaluate_loss(tokens.batch()), std::invalid_argument);
}

}  // namespace
}  // namespace plascale
