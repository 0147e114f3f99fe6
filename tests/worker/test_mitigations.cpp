// The mitigation strategies on the engine (worker/mitigations/, the backend's in-place
// edits): each does exactly what docs/mitigations.md says, on a tiny model.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "sweeps/errors.h"
#include "tests/worker/tiny_backend.h"
#include "worker/cpu_backend.h"
#include "worker/diagnostics/dormant_units.h"
#include "worker/gpt_init.h"
#include "worker/mitigations/continual_backprop.h"
#include "worker/mitigations/mitigations.h"
#include "worker/mitigations/options.h"
#include "worker/mitigations/redo.h"
#include "worker/rng.h"

namespace plascale {
namespace {

using testing::init_perturbed;
using testing::random_tokens;
using testing::tiny_model;
using testing::Tokens;

// One AdamW step so that both moments are non-zero everywhere.
void take_adam_step(CpuBackend& backend, const Tokens& tokens) {
  backend.zero_gradients();
  backend.forward_backward(tokens.batch());
  backend.adamw_step(AdamWStep{});
}

std::vector<float> copy_of(const CpuBackend& backend, BufferKind kind) {
  const auto values = backend.buffer(kind);
  return {values.begin(), values.end()};
}

int64_t offset_of(const CpuBackend& backend, int layer, const char* suffix) {
  return backend.layout().at(layer_tensor_name(layer, suffix)).offset;
}

double largest_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double largest = 0;
  for (size_t i = 0; i < a.size(); ++i) largest = std::max<double>(largest, std::fabs(a[i] - b[i]));
  return largest;
}

// ---- continual backprop ------------------------------------------------------------------

TEST(ContinualBackprop, ReplacesTheExpectedUnitsAndResetsTheirWeightsAndMoments) {
  const ModelConfig model = tiny_model();
  CpuBackend backend(model, 2);
  init_perturbed(backend, 1, 0.05);
  const Tokens tokens = random_tokens(4, 8, model.vocab, 2);
  take_adam_step(backend, tokens);

  ContinualBackpropOptions options;
  options.replacement_rate = 0.3;  // 12 eligible units: 3.6 per step, 3 now and 0.6 carried
  options.maturity = 0;
  options.bias_correction = false;
  ContinualBackprop cbp(options, model);
  ActivitySums activity;
  activity.reset(model);
  backend.zero_gradients();
  backend.forward_backward(tokens.batch(), 1.0f, {{}, &activity});
  EXPECT_EQ(activity.tokens, 32);

  // Expected: after one step u_hat = mean|outgoing| * mean|h| exactly; the 3 lowest go.
  std::vector<std::vector<int>> expected(model.layers);
  for (int layer = 0; layer < model.layers; ++layer) {
    std::vector<double> outgoing(model.mlp_hidden);
    backend.outgoing_weight_magnitude(UnitKind::mlp_unit, layer, outgoing);
    const int64_t proj = offset_of(backend, layer, "mlp.proj.weight");
    const auto params = backend.buffer(BufferKind::parameters);
    double first = 0;
    for (int k = 0; k < model.d_model; ++k) first += std::fabs(params[proj + k * model.mlp_hidden]);
    EXPECT_NEAR(outgoing[0], first / model.d_model, 1e-12);
    std::vector<int> order(model.mlp_hidden);
    std::iota(order.begin(), order.end(), 0);
    auto utility = [&](int u) { return outgoing[u] * activity.mlp_abs[layer][u] / 32.0; };
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return utility(a) < utility(b); });
    expected[layer].assign(order.begin(), order.begin() + 3);
    std::sort(expected[layer].begin(), expected[layer].end());
  }
  const std::vector<float> params_before = copy_of(backend, BufferKind::parameters);
  cbp.after_step(backend, activity, 7, 1);

  const std::vector<float> params = copy_of(backend, BufferKind::parameters);
  const std::vector<float> m = copy_of(backend, BufferKind::adam_m), v = copy_of(backend, BufferKind::adam_v);
  const int d = model.d_model, hidden = model.mlp_hidden;
  for (int layer = 0; layer < model.layers; ++layer) {
    EXPECT_EQ(cbp.groups(UnitKind::mlp_unit)[layer].replaced, 3);
    EXPECT_DOUBLE_EQ(cbp.groups(UnitKind::mlp_unit)[layer].accumulated, 0.3 * 12 - 3);
    const uint64_t key = derive_seed(7, "continual-backprop", {1, static_cast<uint64_t>(layer), 0});
    const int64_t fc = offset_of(backend, layer, "mlp.fc.weight"), fc_bias = offset_of(backend, layer, "mlp.fc.bias");
    const int64_t proj = offset_of(backend, layer, "mlp.proj.weight");
    for (int u = 0; u < hidden; ++u) {
      const bool replaced = std::count(expected[layer].begin(), expected[layer].end(), u) > 0;
      EXPECT_EQ(cbp.groups(UnitKind::mlp_unit)[layer].age[u], replaced ? 0 : 1) << u;
      for (int c = 0; c < d; ++c) {
        const int64_t in = fc + u * d + c;
        if (replaced) {
          EXPECT_EQ(params[in], init_normal(key, u * d + c, 0.02)) << "incoming weight redrawn";
          EXPECT_EQ(m[in], 0.0f);
          EXPECT_EQ(v[in], 0.0f);
        } else {
          EXPECT_EQ(params[in], params_before[in]);
          EXPECT_NE(m[in], 0.0f);
        }
      }
      EXPECT_EQ(params[fc_bias + u], replaced ? 0.0f : params_before[fc_bias + u]);
      for (int k = 0; k < d; ++k) {
        const int64_t out = proj + k * hidden + u;
        EXPECT_EQ(params[out], replaced ? 0.0f : params_before[out]);
        if (replaced) { EXPECT_EQ(m[out] + v[out], 0.0f); }
      }
    }
  }
}

TEST(ContinualBackprop, AccumulatesFractionsAndRespectsMaturity) {
  ContinualBackpropOptions options;
  options.replacement_rate = 0.1;
  options.maturity = 2;
  options.decay = 0.5;
  UnitGroupState state;
  state.utility.assign(5, 0.0);
  state.mean_output.assign(5, 0.0);
  state.age.assign(5, 0);
  const std::vector<double> abs_mean{0.5, 0.1, 0.3, 0.2, 0.4}, mean{0.5, -0.1, 0.3, 0.2, 0.4}, outgoing(5, 1.0);
  std::vector<size_t> replaced_per_step;
  for (int step = 1; step <= 7; ++step) {
    Replacement r = continual_backprop_update(options, state, abs_mean, mean, outgoing);
    replaced_per_step.push_back(r.units.size());
    if (step == 4) {
      // Ages 4 > 2 from step 3: 0.5 per step accumulated, the first whole unit at step 4.
      ASSERT_EQ(r.units, std::vector<int>{1});  // the lowest utility
      // u_hat and f_hat are bias corrected: f_1 = -0.1 (1 - 0.5^4) / (1 - 0.5^4).
      EXPECT_NEAR(r.mean_output[0], -0.1f, 1e-7);
      EXPECT_EQ(state.age[1], 0);
      EXPECT_EQ(state.utility[1], 0.0);
    }
  }
  // Unit 1 is eligible again at step 7 (age 3), 4 x 0.1 + 4 x 0.1 + 5 x 0.1 accumulated.
  EXPECT_EQ(replaced_per_step, (std::vector<size_t>{0, 0, 0, 1, 0, 0, 1}));
  EXPECT_EQ(state.replaced, 2);
  EXPECT_NEAR(state.accumulated, 0.3, 1e-12);
}

// A unit whose output is the same on every token contributes a constant to the next layer:
// bias correction folds exactly that into the next bias, so the network's output is
// unchanged; without it the output moves.
TEST(ContinualBackprop, BiasCorrectionKeepsTheOutputOfAConstantUnit) {
  const ModelConfig model = tiny_model();
  const Tokens tokens = random_tokens(4, 8, model.vocab, 3);
  std::vector<float> logits(tokens.inputs.size() * model.vocab);
  for (bool correction : {true, false}) {
    CpuBackend backend(model, 1);
    init_perturbed(backend, 4, 0.3);
    auto params = backend.buffer(BufferKind::parameters);
    const int d = model.d_model, hidden = model.mlp_hidden, unit = 5;
    for (int layer = 0; layer < model.layers; ++layer) {
      // Unit 5: zero incoming weights, bias 2 -> GELU(2) on every token; small outgoing
      // weights (the others' are ~0.3) make it the least useful unit.
      const int64_t fc = offset_of(backend, layer, "mlp.fc.weight");
      const int64_t proj = offset_of(backend, layer, "mlp.proj.weight");
      std::fill_n(params.begin() + fc + unit * d, d, 0.0f);
      params[offset_of(backend, layer, "mlp.fc.bias") + unit] = 2.0f;
      for (int k = 0; k < d; ++k) params[proj + k * hidden + unit] = (k % 2 ? 1e-2f : -1e-2f);
    }
    std::vector<float> before(logits.size());
    backend.forward_logits(tokens.batch(), before);
    ContinualBackpropOptions options;
    options.replacement_rate = 0.09;  // 12 eligible units: one per layer per step
    options.maturity = 2;
    options.bias_correction = correction;
    ContinualBackprop cbp(options, model);
    for (int64_t step = 1; step <= 3; ++step) {  // matures at step 3: replaced then
      ActivitySums activity;
      activity.reset(model);
      backend.evaluate_loss(tokens.batch());
      backend.forward_backward(tokens.batch(), 1.0f, {{}, &activity});
      cbp.after_step(backend, activity, 1, step);
    }
    ASSERT_EQ(cbp.replaced(UnitKind::mlp_unit), (std::vector<double>{1, 1}));
    for (int layer = 0; layer < model.layers; ++layer) {
      EXPECT_EQ(params[offset_of(backend, layer, "mlp.fc.bias") + unit], 0.0f) << "the constant unit was replaced";
    }
    backend.forward_logits(tokens.batch(), logits);
    const double largest_change = largest_difference(logits, before);
    if (correction) {
      EXPECT_LT(largest_change, 2e-6);
    } else {
      EXPECT_GT(largest_change, 1e-3);
    }
  }
}

TEST(ContinualBackprop, HeadsAsUnitsRedrawQkvRowsAndZeroTheirProjectionColumns) {
  const ModelConfig model = tiny_model();
  CpuBackend backend(model, 2);
  init_perturbed(backend, 8, 0.05);
  const Tokens tokens = random_tokens(4, 8, model.vocab, 9);
  take_adam_step(backend, tokens);
  const std::vector<float> before = copy_of(backend, BufferKind::parameters);
  UnitReset reset;
  reset.kind = UnitKind::attention_head;
  reset.layer = 1;
  reset.units = {1};
  reset.key = 42;
  backend.reset_units(reset);
  const std::vector<float> params = copy_of(backend, BufferKind::parameters), m = copy_of(backend, BufferKind::adam_m);
  const int d = model.d_model, head_dim = d / model.heads;
  const int64_t qkv = offset_of(backend, 1, "attn.qkv.weight"), qkv_bias = offset_of(backend, 1, "attn.qkv.bias");
  const int64_t proj = offset_of(backend, 1, "attn.proj.weight");
  for (int row = 0; row < 3 * d; ++row) {
    const bool head_row = (row % d) / head_dim == 1;
    for (int c = 0; c < d; ++c) {
      const int64_t element = row * d + c;
      EXPECT_EQ(params[qkv + element], head_row ? init_normal(42, element, 0.02) : before[qkv + element]);
      if (head_row) { EXPECT_EQ(m[qkv + element], 0.0f); }
    }
    EXPECT_EQ(params[qkv_bias + row], head_row ? 0.0f : before[qkv_bias + row]);
  }
  for (int k = 0; k < d; ++k) {
    for (int c = 0; c < d; ++c) {
      EXPECT_EQ(params[proj + k * d + c], c / head_dim == 1 ? 0.0f : before[proj + k * d + c]);
    }
  }
  // Layer 0 untouched.
  const int64_t layer0 = offset_of(backend, 0, "ln1.weight"), layer1 = offset_of(backend, 1, "ln1.weight");
  EXPECT_TRUE(std::equal(params.begin() + layer0, params.begin() + layer1, before.begin() + layer0));
}

// A head whose value rows are zero outputs its value bias on every token: bias correction
// with that mean output keeps the network's output when the head is replaced.
TEST(ContinualBackprop, HeadBiasCorrectionKeepsTheOutputOfAConstantHead) {
  const ModelConfig model = tiny_model();
  CpuBackend backend(model, 1);
  init_perturbed(backend, 18, 0.3);
  const Tokens tokens = random_tokens(3, 8, model.vocab, 19);
  auto params = backend.buffer(BufferKind::parameters);
  const int d = model.d_model, head_dim = d / model.heads, head = 1;
  const int64_t qkv = offset_of(backend, 0, "attn.qkv.weight"), qkv_bias = offset_of(backend, 0, "attn.qkv.bias");
  UnitReset reset;
  reset.kind = UnitKind::attention_head;
  reset.layer = 0;
  reset.units = {head};
  reset.key = 3;
  for (int r = 0; r < head_dim; ++r) {
    const int64_t row = 2 * d + head * head_dim + r;  // v
    std::fill_n(params.begin() + qkv + row * d, d, 0.0f);
    params[qkv_bias + row] = 0.5f - 0.25f * r;
    reset.mean_output.push_back(params[qkv_bias + row]);
  }
  CpuBackend uncorrected(model, 1);
  uncorrected.copy_from(backend);
  std::vector<float> before(tokens.inputs.size() * model.vocab), after(before.size()), moved(before.size());
  backend.forward_logits(tokens.batch(), before);
  backend.reset_units(reset);
  backend.forward_logits(tokens.batch(), after);
  for (size_t i = 0; i < after.size(); ++i) EXPECT_NEAR(after[i], before[i], 2e-6) << i;
  reset.mean_output.clear();
  uncorrected.reset_units(reset);
  uncorrected.forward_logits(tokens.batch(), moved);
  EXPECT_GT(largest_difference(moved, before), 1e-3) << "without bias correction the output moves";
}

// ---- ReDo --------------------------------------------------------------------------------

TEST(Redo, ResetsExactlyTheUnitsUnderTheThreshold) {
  EXPECT_EQ(dormant_units(std::vector<double>{1.0, 0.01, 1.0, 0.03, 1.0}, 0.025), (std::vector<int>{1}));

  const ModelConfig model = tiny_model();
  CpuBackend backend(model, 2);
  init_perturbed(backend, 10, 0.05);
  const Tokens tokens = random_tokens(4, 8, model.vocab, 11);
  take_adam_step(backend, tokens);
  auto params = backend.buffer(BufferKind::parameters);
  const int d = model.d_model;
  const std::vector<int> silenced{2, 9};
  for (int layer = 0; layer < model.layers; ++layer) {
    for (int unit : silenced) {  // GELU(-12) is ~1e-32: dormant by any threshold
      std::fill_n(params.begin() + offset_of(backend, layer, "mlp.fc.weight") + unit * d, d, 0.0f);
      params[offset_of(backend, layer, "mlp.fc.bias") + unit] = -12.0f;
    }
  }
  ActivitySums activity;
  activity.reset(model);
  backend.zero_gradients();
  backend.forward_backward(tokens.batch(), 1.0f, {{}, &activity});
  // Every other unit scores well above 0.025.
  for (int layer = 0; layer < model.layers; ++layer) {
    std::vector<double> abs_mean;
    for (double sum : activity.mlp_abs[layer]) abs_mean.push_back(sum / 32);
    const auto scores = redo_scores(abs_mean);
    for (int u = 0; u < model.mlp_hidden; ++u) {
      if (std::count(silenced.begin(), silenced.end(), u) == 0) { EXPECT_GT(scores[u], 0.025) << u; }
    }
  }
  const std::vector<float> before = copy_of(backend, BufferKind::parameters);
  std::vector<int64_t> resets(model.layers, 0);
  redo_reset(backend, RedoOptions{0.025, 1}, activity, 5, 1000, resets);
  EXPECT_EQ(resets, (std::vector<int64_t>{2, 2}));
  const std::vector<float> after = copy_of(backend, BufferKind::parameters), v = copy_of(backend, BufferKind::adam_v);
  for (int layer = 0; layer < model.layers; ++layer) {
    const uint64_t key = derive_seed(5, "redo", {1000, static_cast<uint64_t>(layer)});
    const int64_t fc = offset_of(backend, layer, "mlp.fc.weight"), proj = offset_of(backend, layer, "mlp.proj.weight");
    for (int u = 0; u < model.mlp_hidden; ++u) {
      const bool reset = std::count(silenced.begin(), silenced.end(), u) > 0;
      EXPECT_EQ(after[fc + u * d + 3], reset ? init_normal(key, u * d + 3, 0.02) : before[fc + u * d + 3]) << u;
      const int64_t bias = offset_of(backend, layer, "mlp.fc.bias") + u;
      EXPECT_EQ(after[bias], reset ? 0.0f : before[bias]);
      EXPECT_EQ(after[proj + 4 * model.mlp_hidden + u], reset ? 0.0f : before[proj + 4 * model.mlp_hidden + u]);
      if (reset) { EXPECT_EQ(v[fc + u * d + 3], 0.0f); }
    }
  }
}

// ---- shrink and perturb ------------------------------------------------------------------

TEST(ShrinkPerturb, MovesTheSelectedTensorsByTheExpectedMeanAndVariance) {
  ModelConfig model = tiny_model();
  model.d_model = 64;
  model.mlp_hidden = 256;
  CpuBackend backend(model, 2);
  std::fill(backend.buffer(BufferKind::parameters).begin(), backend.buffer(BufferKind::parameters).end(), 0.5f);
  const std::vector<int> mlp = tensors_in_groups(backend.layout(), {"mlp"});
  ASSERT_EQ(mlp.size(), 8u);  // fc and proj weights and biases of 2 layers
  for (int index : mlp) EXPECT_NE(backend.layout().tensors[index].name.find(".mlp."), std::string::npos);
  backend.shrink_perturb(mlp, 0.9f, 0.1f, 77);
  double sum = 0, squares = 0;
  int64_t count = 0;
  const auto params = backend.buffer(BufferKind::parameters);
  for (int index = 0; index < static_cast<int>(backend.layout().tensors.size()); ++index) {
    const TensorInfo& tensor = backend.layout().tensors[index];
    const bool selected = std::count(mlp.begin(), mlp.end(), index) > 0;
    for (int64_t i = tensor.offset; i < tensor.offset + tensor.size; ++i) {
      if (!selected) {
        ASSERT_EQ(params[i], 0.5f) << tensor.name;
        continue;
      }
      EXPECT_EQ(params[i], 0.9f * 0.5f + 0.1f * philox_normals(77, static_cast<uint32_t>(i / 4), 0)[i % 4]);
      sum += params[i];
      squares += (params[i] - 0.45) * (params[i] - 0.45);
      ++count;
    }
  }
  ASSERT_GT(count, 60000);
  const double mean = sum / count, variance = squares / count;
  EXPECT_NEAR(mean, 0.45, 4 * 0.1 / std::sqrt(count));  // 4 standard errors
  EXPECT_NEAR(variance, 0.01, 4 * 0.01 * std::sqrt(2.0 / count));
  EXPECT_EQ(tensors_in_groups(backend.layout(), {"all"}).size(), backend.layout().tensors.size());
  EXPECT_EQ(tensors_in_groups(backend.layout(), {"layernorm", "embeddings"}).size(), 2u + 4 * 2 + 2);
}

// ---- L2-Init -----------------------------------------------------------------------------

TEST(L2Init, GradientMatchesFiniteDifferencesOfThePenalty) {
  const ModelConfig model = tiny_model();
  CpuBackend backend(model, 2);
  backend.init_parameters(12);
  EXPECT_THROW(backend.add_anchor_penalty(1.0), std::logic_error);
  backend.keep_anchor();
  init_perturbed(backend, 12, 0.1);  // theta = theta_0 + noise
  const double strength = 0.7;
  backend.zero_gradients();
  const double penalty = backend.add_anchor_penalty(strength);
  const std::vector<float> gradient = copy_of(backend, BufferKind::gradients);
  auto params = backend.buffer(BufferKind::parameters);
  auto penalty_at = [&]() {
    backend.zero_gradients();
    return backend.add_anchor_penalty(strength);
  };
  EXPECT_GT(penalty, 0.0);
  Rng pick(derive_seed(1, "test-pick"));
  for (int trial = 0; trial < 40; ++trial) {
    const int64_t i = static_cast<int64_t>(pick.below(backend.layout().total));
    const float original = params[i];
    const float step = 1e-2f;
    params[i] = original + step;
    const double up = penalty_at();
    params[i] = original - step;
    const double down = penalty_at();
    params[i] = original;
    const double numeric = (up - down) / (static_cast<double>(original + step) - static_cast<double>(original - step));
    EXPECT_NEAR(gradient[i], numeric, 1e-4 * std::fabs(numeric) + 1e-5) << i;
  }
  // At theta_0 the penalty and its gradient vanish.
  backend.init_parameters(12);
  EXPECT_EQ(penalty_at(), 0.0);
}

// ---- weight decay override -----------------------------------------------------------------

TEST(WeightDecay, DecaysLayerNormGainsOnlyWhenAsked) {
  const ModelConfig model = tiny_model();
  for (bool gains : {false, true}) {
    CpuBackend backend(model, 1);
    backend.init_parameters(3);
    backend.zero_gradients();
    AdamWStep update;
    update.lr = 0.1;
    update.weight_decay = 0.5;
    update.decay_norm_gains = gains;
    backend.adamw_step(update);  // zero gradient: only the decay moves parameters
    const auto params = backend.buffer(BufferKind::parameters);
    EXPECT_FLOAT_EQ(params[backend.layout().at("h.0.ln1.weight").offset], gains ? 0.95f : 1.0f);
    EXPECT_EQ(params[backend.layout().at("h.0.ln1.bias").offset], 0.0f);
  }
}

// ---- norm limit --------------------------------------------------------------------------

TEST(NormLimit, LeavesNoTensorOverItsBound) {
  const ModelConfig model = tiny_model();
  for (bool per_tensor : {true, false}) {
    CpuBackend backend(model, 2);
    init_perturbed(backend, 13, 0.4);
    const auto params = backend.buffer(BufferKind::parameters);
    auto norm = [&](int64_t begin, int64_t size) {
      double square = 0;
      for (int64_t i = begin; i < begin + size; ++i) square += static_cast<double>(params[i]) * params[i];
      return std::sqrt(square);
    };
    const float max_gain = 1.2f, max_norm = per_tensor ? 2.0f : 0.9f;
    int64_t gains_over = 0, norms_over = 0;
    for (const TensorInfo& tensor : backend.layout().tensors) {
      if (tensor.kind == TensorKind::norm_gain) {
        for (int64_t i = 0; i < tensor.size; ++i) gains_over += std::fabs(params[tensor.offset + i]) > max_gain;
      }
      if (tensor.kind != TensorKind::matrix) continue;
      const int64_t rows = per_tensor ? 1 : tensor.shape[0], cols = tensor.size / rows;
      for (int64_t r = 0; r < rows; ++r) norms_over += norm(tensor.offset + r * cols, cols) > max_norm;
    }
    ASSERT_GT(gains_over, 0);
    ASSERT_GT(norms_over, 0);
    const std::vector<float> wte_before(params.begin(), params.begin() + backend.layout().at("wte").size);
    EXPECT_EQ(backend.clamp_norm_gains(max_gain), gains_over);
    EXPECT_EQ(backend.limit_matrix_norms(max_norm, per_tensor), norms_over);
    for (const TensorInfo& tensor : backend.layout().tensors) {
      if (tensor.kind == TensorKind::norm_gain) {
        for (int64_t i = 0; i < tensor.size; ++i) EXPECT_LE(std::fabs(params[tensor.offset + i]), max_gain);
      }
      if (tensor.kind != TensorKind::matrix) continue;
      const int64_t rows = per_tensor ? 1 : tensor.shape[0], cols = tensor.size / rows;
      for (int64_t r = 0; r < rows; ++r) EXPECT_LE(norm(tensor.offset + r * cols, cols), max_norm) << tensor.name;
    }
    EXPECT_TRUE(std::equal(wte_before.begin(), wte_before.end(), params.begin())) << "embeddings are not limited";
    EXPECT_EQ(backend.limit_matrix_norms(max_norm, per_tensor), 0) << "nothing left over the bound";
  }
}

// ---- attention noise ---------------------------------------------------------------------

TEST(AttentionNoise, ChangesTrainingLogitsButNotEvaluation) {
  const ModelConfig model = tiny_model();
  CpuBackend backend(model, 2);
  init_perturbed(backend, 14, 0.3);
  const Tokens tokens = random_tokens(3, 8, model.vocab, 15);
  const double clean = backend.evaluate_loss(tokens.batch());
  backend.zero_gradients();
  EXPECT_EQ(backend.forward_backward(tokens.batch()), clean) << "no noise: the training pass is the evaluation";
  TrainPassOptions noisy;
  noisy.noise = {1.0f, 99};
  const double noisy_loss = backend.forward_backward(tokens.batch(), 1.0f, noisy);
  EXPECT_GT(std::fabs(noisy_loss - clean), 1e-3);
  EXPECT_EQ(backend.forward_backward(tokens.batch(), 1.0f, noisy), noisy_loss) << "the same key, the same noise";
  noisy.noise.key = 100;
  EXPECT_NE(backend.forward_backward(tokens.batch(), 1.0f, noisy), noisy_loss);
  EXPECT_EQ(backend.evaluate_loss(tokens.batch()), clean) << "evaluation never sees noise";
}

// The backward must see the forward's noise: the gradient of the noisy pass matches finite
// differences of the noisy loss (and differs from the clean gradient).
TEST(AttentionNoise, GradientMatchesFiniteDifferencesOfTheNoisyLoss) {
  const ModelConfig model = tiny_model();
  CpuBackend backend(model, 1);
  init_perturbed(backend, 16, 0.3);
  const Tokens tokens = random_tokens(2, 8, model.vocab, 17);
  TrainPassOptions noisy;
  noisy.noise = {1.5f, 5};
  backend.zero_gradients();
  backend.forward_backward(tokens.batch());
  const std::vector<float> clean = copy_of(backend, BufferKind::gradients);
  backend.zero_gradients();
  backend.forward_backward(tokens.batch(), 1.0f, noisy);
  const std::vector<float> gradient = copy_of(backend, BufferKind::gradients);
  auto params = backend.buffer(BufferKind::parameters);
  const TensorInfo& qkv = backend.layout().at("h.0.attn.qkv.weight");
  double largest_difference = 0;
  for (int64_t i = qkv.offset; i < qkv.offset + 2 * model.d_model * model.d_model; i += 3) {  // q and k rows
    const float original = params[i], step = 1e-2f;
    params[i] = original + step;
    const double up = backend.forward_backward(tokens.batch(), 1.0f, noisy);
    params[i] = original - step;
    const double down = backend.forward_backward(tokens.batch(), 1.0f, noisy);
    params[i] = original;
    const double numeric = (up - down) / (2.0 * step);
    EXPECT_NEAR(gradient[i], numeric, 3e-4 + 0.02 * std::fabs(numeric)) << i;
    largest_difference = std::max<double>(largest_difference, std::fabs(gradient[i] - clean[i]));
  }
  EXPECT_GT(largest_difference, 3e-3) << "the noise must matter for this check to mean anything";
}

// The counter-addressed normals behind attention noise and shrink-and-perturb.
TEST(AttentionNoise, PhiloxNormalsAreStandardNormal) {
  double sum = 0, squares = 0, fourth = 0, below_one = 0;
  const int draws = 40000;
  for (int i = 0; i < draws / 4; ++i) {
    for (float value : philox_normals(derive_seed(3, "test-normals"), static_cast<uint32_t>(i), 7)) {
      sum += value;
      squares += static_cast<double>(value) * value;
      fourth += std::pow(static_cast<double>(value), 4);
      below_one += std::fabs(value) < 1.0f;
    }
  }
  EXPECT_NEAR(sum / draws, 0.0, 4 / std::sqrt(draws));
  EXPECT_NEAR(squares / draws, 1.0, 4 * std::sqrt(2.0 / draws));
  EXPECT_NEAR(fourth / draws, 3.0, 0.15);  // Gaussian kurtosis
  EXPECT_NEAR(below_one / draws, 0.6827, 0.01);
  EXPECT_EQ(philox_normals(5, 1, 2), philox_normals(5, 1, 2));
  EXPECT_NE(philox_normals(5, 1, 2), philox_normals(5, 2, 1));
}

TEST(AttentionNoise, LinearDecaySchedule) {
  AttentionNoiseOptions options;
  options.std = 0.4;
  EXPECT_EQ(attention_noise_std(options, 1000000), 0.4);
  options.linear_decay = true;
  options.decay_tokens = 1000;
  EXPECT_DOUBLE_EQ(attention_noise_std(options, 0), 0.4);
  EXPECT_DOUBLE_EQ(attention_noise_std(options, 250), 0.3);
  EXPECT_EQ(attention_noise_std(options, 5000), 0.0);
}

// ---- options -----------------------------------------------------------------------------

TEST(MitigationOptions, ReadsTypedParametersAndNamesBadOnes) {
  RunSpec spec;
  spec.id = "abc";
  spec.mitigation.name = "mix";
  spec.mitigation.strategies = {
      {"continual_backprop",
       {{"replacement_rate", 1e-3}, {"decay", 0.9}, {"maturity", 50.0}, {"bias_correction", false},
        {"units", std::vector<std::string>{"mlp", "heads"}}}},
      {"norm_limit", {{"max_weight_norm", 3.0}, {"per_tensor", false}}}};
  MitigationOptions options = mitigation_options(spec);
  ASSERT_TRUE(options.continual_backprop && options.norm_limit);
  EXPECT_EQ(options.continual_backprop->maturity, 50);
  EXPECT_TRUE(options.continual_backprop->heads && options.continual_backprop->mlp_units);
  EXPECT_FALSE(options.norm_limit->max_layernorm_gain.has_value());
  EXPECT_EQ(*options.norm_limit->max_weight_norm, 3.0);
  EXPECT_FALSE(options.redo.has_value());

  spec.mitigation.strategies = {{"redo", {{"threshold", std::string("high")}, {"period_steps", 10.0}}}};
  try {
    mitigation_options(spec);
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("redo"), std::string::npos) << message;
    EXPECT_NE(message.find("threshold"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace plascale
