#include "worker/mitigations/options.h"

#include <fmt/core.h>

#include <algorithm>
#include <variant>

#include "sweeps/errors.h"

namespace plascale {
namespace {

// Typed access to one strategy's parameters, with errors that name the run and strategy.
class Params {
 public:
  Params(const RunSpec& spec, const Strategy& strategy) : spec_(spec), strategy_(strategy) {}

  template <typename T>
  T get(const std::string& key) const {
    auto found = strategy_.params.find(key);
    if (found == strategy_.params.end() || !std::holds_alternative<T>(found->second)) {
      throw InputError(fmt::format("run {}: mitigation '{}': strategy {} parameter {} is {}; see docs/sweep-spec.md "
                                   "\"mitigations\" for its type",
                                   spec_.id, spec_.mitigation.name, strategy_.kind, key,
                                   found == strategy_.params.end() ? "missing" : "of the wrong type"));
    }
    return std::get<T>(found->second);
  }
  int64_t integer(const std::string& key) const { return static_cast<int64_t>(get<double>(key)); }
  std::optional<double> optional_number(const std::string& key) const {
    if (!strategy_.params.count(key)) return std::nullopt;
    return get<double>(key);
  }
  bool has_word(const std::string& key, const std::string& word) const {
    const auto words = get<std::vector<std::string>>(key);
    return std::find(words.begin(), words.end(), word) != words.end();
  }

 private:
  const RunSpec& spec_;
  const Strategy& strategy_;
};

}  // namespace

MitigationOptions mitigation_options(const RunSpec& spec) {
  MitigationOptions options;
  for (const Strategy& strategy : spec.mitigation.strategies) {
    const Params params(spec, strategy);
    if (strategy.kind == "continual_backprop") {
      ContinualBackpropOptions& o = options.continual_backprop.emplace();
      o.replacement_rate = params.get<double>("replacement_rate");
      o.decay = params.get<double>("decay");
      o.maturity = params.integer("maturity");
      o.bias_correction = params.get<bool>("bias_correction");
      o.mlp_units = params.has_word("units", "mlp");
      o.heads = params.has_word("units", "heads");
    } else if (strategy.kind == "redo") {
      RedoOptions& o = options.redo.emplace();
      o.threshold = params.get<double>("threshold");
      o.period_steps = params.integer("period_steps");
    } else if (strategy.kind == "shrink_perturb") {
      ShrinkPerturbOptions& o = options.shrink_perturb.emplace();
      o.shrink = params.get<double>("shrink");
      o.sigma = params.get<double>("sigma");
      o.period_steps = params.integer("period_steps");
      o.groups = params.get<std::vector<std::string>>("groups");
    } else if (strategy.kind == "l2_init") {
      options.l2_init.emplace().strength = params.get<double>("strength");
    } else if (strategy.kind == "weight_decay") {
      WeightDecayOptions& o = options.weight_decay.emplace();
      o.value = params.get<double>("value");
      o.exclude_layernorm = params.get<bool>("exclude_layernorm");
    } else if (strategy.kind == "norm_limit") {
      NormLimitOptions& o = options.norm_limit.emplace();
      o.max_layernorm_gain = params.optional_number("max_layernorm_gain");
      o.max_weight_norm = params.optional_number("max_weight_norm");
      o.per_tensor = params.get<bool>("per_tensor");
    } else if (strategy.kind == "attention_noise") {
      AttentionNoiseOptions& o = options.attention_noise.emplace();
      o.std = params.get<double>("std");
      o.linear_decay = params.get<std::string>("schedule") == "linear_decay";
      o.decay_tokens = params.integer("decay_tokens");
    } else {
      throw InputError(fmt::format("run {}: mitigation '{}': unknown strategy {}; allowed: continual_backprop, redo, "
                                   "shrink_perturb, l2_init, weight_decay, norm_limit, attention_noise",
                                   spec.id, spec.mitigation.name, strategy.kind));
    }
  }
  return options;
}

double attention_noise_std(const AttentionNoiseOptions& options, int64_t tokens) {
  if (!options.linear_decay || options.decay_tokens <= 0) return options.std;
  return options.std * std::max(0.0, 1.0 - static_cast<double>(tokens) / static_cast<double>(options.decay_tokens));
}

}  // namespace plascale
