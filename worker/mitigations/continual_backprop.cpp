#include "worker/mitigations/continual_backprop.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "worker/rng.h"

namespace plascale {

Replacement continual_backprop_update(const ContinualBackpropOptions& options, UnitGroupState& state,
                                      std::span<const double> abs_mean, std::span<const double> mean,
                                      std::span<const double> outgoing) {
  const size_t units = state.utility.size();
  const size_t width = state.mean_output.size() / units;
  const double decay = options.decay;
  std::vector<int> eligible;
  for (size_t i = 0; i < units; ++i) {
    state.age[i] += 1;
    state.utility[i] = decay * state.utility[i] + (1 - decay) * outgoing[i] * abs_mean[i];
    for (size_t r = 0; r < width; ++r) {
      double& running = state.mean_output[i * width + r];
      running = decay * running + (1 - decay) * mean[i * width + r];
    }
    if (state.age[i] > options.maturity) eligible.push_back(static_cast<int>(i));
  }
  Replacement replacement;
  if (eligible.empty()) return replacement;
  state.accumulated += options.replacement_rate * static_cast<double>(eligible.size());
  if (state.accumulated < 1) return replacement;
  const size_t count = std::min(eligible.size(), static_cast<size_t>(state.accumulated));
  state.accumulated -= static_cast<double>(count);

  auto correction = [&](int i) { return 1 - std::pow(decay, static_cast<double>(state.age[i])); };
  auto corrected_utility = [&](int i) { return state.utility[i] / correction(i); };
  std::stable_sort(eligible.begin(), eligible.end(),
                   [&](int a, int b) { return corrected_utility(a) < corrected_utility(b); });
  replacement.units.assign(eligible.begin(), eligible.begin() + static_cast<std::ptrdiff_t>(count));
  std::sort(replacement.units.begin(), replacement.units.end());
  for (int i : replacement.units) {
    for (size_t r = 0; r < width; ++r) {
      replacement.mean_output.push_back(static_cast<float>(state.mean_output[i * width + r] / correction(i)));
      state.mean_output[i * width + r] = 0;
    }
    state.utility[i] = 0;
    state.age[i] = 0;
  }
  state.replaced += static_cast<int64_t>(count);
  return replacement;
}

namespace {

UnitGroupState fresh_group(int units, int width) {
  UnitGroupState state;
  state.utility.assign(units, 0.0);
  state.mean_output.assign(static_cast<size_t>(units) * width, 0.0);
  state.age.assign(units, 0);
  return state;
}

}  // namespace

ContinualBackprop::ContinualBackprop(const ContinualBackpropOptions& options, const ModelConfig& model)
    : options_(options), model_(model) {
  if (options_.mlp_units) mlp_.assign(model.layers, fresh_group(model.mlp_hidden, 1));
  if (options_.heads) heads_.assign(model.layers, fresh_group(model.heads, model.d_model / model.heads));
}

const std::vector<UnitGroupState>& ContinualBackprop::groups(UnitKind kind) const {
  return kind == UnitKind::mlp_unit ? mlp_ : heads_;
}

std::vector<UnitGroupState>& ContinualBackprop::groups(UnitKind kind) {
  return kind == UnitKind::mlp_unit ? mlp_ : heads_;
}

std::vector<double> ContinualBackprop::replaced(UnitKind kind) const {
  std::vector<double> counts;
  for (const UnitGroupState& group : groups(kind)) counts.push_back(static_cast<double>(group.replaced));
  return counts;
}

void ContinualBackprop::after_step(ModelBackend& model, const ActivitySums& activity, uint64_t seed, int64_t step) {
  const double tokens = static_cast<double>(activity.tokens);
  const int heads = model_.heads, head_dim = model_.d_model / model_.heads;
  for (UnitKind kind : {UnitKind::mlp_unit, UnitKind::attention_head}) {
    std::vector<UnitGroupState>& states = groups(kind);
    for (int layer = 0; layer < static_cast<int>(states.size()); ++layer) {
      std::vector<double> abs_mean, mean;
      if (kind == UnitKind::mlp_unit) {
        for (double sum : activity.mlp_abs[layer]) abs_mean.push_back(sum / tokens);
        for (double sum : activity.mlp[layer]) mean.push_back(sum / tokens);
      } else {
        abs_mean.assign(heads, 0.0);
        for (int c = 0; c < model_.d_model; ++c) abs_mean[c / head_dim] += activity.attention_abs[layer][c] / tokens;
        for (double& value : abs_mean) value /= head_dim;
        for (double sum : activity.attention[layer]) mean.push_back(sum / tokens);
      }
      std::vector<double> outgoing(abs_mean.size());
      model.outgoing_weight_magnitude(kind, layer, outgoing);
      Replacement replacement = continual_backprop_update(options_, states[layer], abs_mean, mean, outgoing);
      if (replacement.units.empty()) continue;
      UnitReset reset;
      reset.kind = kind;
      reset.layer = layer;
      reset.units = std::move(replacement.units);
      reset.key = derive_seed(seed, "continual-backprop",
                              {static_cast<uint64_t>(step), static_cast<uint64_t>(layer), static_cast<uint64_t>(kind)});
      if (options_.bias_correction) reset.mean_output = std::move(replacement.mean_output);
      model.reset_units(reset);
    }
  }
}

}  // namespace plascale
