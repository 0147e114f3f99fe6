#include "worker/mitigations/mitigations.h"

#include <fmt/core.h>

#include <algorithm>
#include <bit>

#include "sweeps/errors.h"
#include "worker/mitigations/redo.h"
#include "worker/rng.h"

namespace plascale {

std::vector<int> tensors_in_groups(const ParamLayout& layout, const std::vector<std::string>& groups) {
  auto wanted = [&](const char* group) { return std::find(groups.begin(), groups.end(), group) != groups.end(); };
  const bool all = wanted("all");
  std::vector<int> tensors;
  for (int index = 0; index < static_cast<int>(layout.tensors.size()); ++index) {
    const TensorInfo& tensor = layout.tensors[index];
    const bool norm = tensor.kind == TensorKind::norm_gain || tensor.kind == TensorKind::norm_bias;
    const bool embedding = !tensor.nonembedding();
    const bool in_group = all || (wanted("layernorm") && norm) || (wanted("embeddings") && embedding) ||
                          (wanted("attention") && !norm && tensor.name.find(".attn.") != std::string::npos) ||
                          (wanted("mlp") && !norm && tensor.name.find(".mlp.") != std::string::npos);
    if (in_group) tensors.push_back(index);
  }
  return tensors;
}

Mitigations::Mitigations(const RunSpec& spec) : spec_(spec), options_(mitigation_options(spec)) {
  if (options_.continual_backprop) continual_backprop_.emplace(*options_.continual_backprop, spec.model);
  redo_resets_.assign(spec.model.layers, 0);
  activity_.reset(spec.model);
}

TrainingConfig Mitigations::training(const TrainingConfig& base) const {
  TrainingConfig training = base;
  if (options_.weight_decay) training.weight_decay = options_.weight_decay->value;
  return training;
}

void Mitigations::on_initialised(ModelBackend& model) {
  if (options_.l2_init) model.keep_anchor();
}

StepExtras Mitigations::before_step(int64_t step, int64_t tokens) {
  StepExtras extras;
  const int64_t taken = step + 1;  // the steps taken once this one is done
  activity_requested_ = continual_backprop_ || (options_.redo && taken % options_.redo->period_steps == 0);
  if (activity_requested_) {
    activity_.reset(spec_.model);
    extras.activity = &activity_;
  }
  if (options_.attention_noise) {
    noise_std_ = attention_noise_std(*options_.attention_noise, tokens);
    extras.noise = {static_cast<float>(noise_std_),
                    derive_seed(spec_.seed, "attention-noise", {static_cast<uint64_t>(step)})};
  }
  if (options_.l2_init) extras.l2_init_strength = options_.l2_init->strength;
  if (options_.weight_decay) extras.decay_norm_gains = !options_.weight_decay->exclude_layernorm;
  return extras;
}

void Mitigations::after_step(ModelBackend& model, const StepResult& stepped, int64_t step) {
  l2_init_penalty_ = stepped.penalty;
  if (const auto& sp = options_.shrink_perturb; sp && step % sp->period_steps == 0) {
    model.shrink_perturb(tensors_in_groups(model.layout(), sp->groups), static_cast<float>(sp->shrink),
                         static_cast<float>(sp->sigma),
                         derive_seed(spec_.seed, "shrink-perturb", {static_cast<uint64_t>(step)}));
    ++shrink_perturb_steps_;
  }
  if (continual_backprop_) continual_backprop_->after_step(model, activity_, spec_.seed, step);
  if (options_.redo && step % options_.redo->period_steps == 0) {
    redo_reset(model, *options_.redo, activity_, spec_.seed, step, redo_resets_);
  }
  if (const auto& limit = options_.norm_limit) {
    if (limit->max_layernorm_gain) {
      gain_clamps_ += model.clamp_norm_gains(static_cast<float>(*limit->max_layernorm_gain));
    }
    if (limit->max_weight_norm) {
      weight_clamps_ += model.limit_matrix_norms(static_cast<float>(*limit->max_weight_norm), limit->per_tensor);
    }
  }
}

void Mitigations::add_counters(TrajectoryRow& row) const {
  if (continual_backprop_) {
    if (continual_backprop_->options().mlp_units) {
      row.vectors["cbp_replaced"] = {continual_backprop_->replaced(UnitKind::mlp_unit), {}};
    }
    if (continual_backprop_->options().heads) {
      row.vectors["cbp_replaced_heads"] = {continual_backprop_->replaced(UnitKind::attention_head), {}};
    }
  }
  if (options_.redo) row.vectors["redo_resets"] = {std::vector<double>(redo_resets_.begin(), redo_resets_.end()), {}};
  if (options_.shrink_perturb) row.scalars["shrink_perturb_steps"] = static_cast<double>(shrink_perturb_steps_);
  if (options_.norm_limit) {
    row.scalars["norm_gain_clamps"] = static_cast<double>(gain_clamps_);
    row.scalars["norm_weight_clamps"] = static_cast<double>(weight_clamps_);
  }
  if (row.step > 0 && options_.l2_init) row.scalars["l2_init_penalty"] = l2_init_penalty_;
  if (row.step > 0 && options_.attention_noise) row.scalars["attn_noise_std"] = noise_std_;
}

namespace {

std::vector<uint64_t> as_words(const std::vector<double>& values) {
  std::vector<uint64_t> words;
  for (double value : values) words.push_back(std::bit_cast<uint64_t>(value));
  return words;
}

// The checkpoint arrays of one CBP unit kind, every layer concatenated.
std::string cbp_array(UnitKind kind, const char* field) {
  return fmt::format("cbp_{}_{}", kind == UnitKind::mlp_unit ? "mlp" : "heads", field);
}

}  // namespace

void Mitigations::save(Checkpoint& checkpoint) const {
  if (continual_backprop_) {
    for (UnitKind kind : {UnitKind::mlp_unit, UnitKind::attention_head}) {
      std::vector<double> utility, mean_output, accumulated;
      std::vector<int64_t> age, replaced;
      for (const UnitGroupState& group : continual_backprop_->groups(kind)) {
        utility.insert(utility.end(), group.utility.begin(), group.utility.end());
        mean_output.insert(mean_output.end(), group.mean_output.begin(), group.mean_output.end());
        age.insert(age.end(), group.age.begin(), group.age.end());
        accumulated.push_back(group.accumulated);
        replaced.push_back(group.replaced);
      }
      if (continual_backprop_->groups(kind).empty()) continue;
      checkpoint.words[cbp_array(kind, "utility")] = as_words(utility);
      checkpoint.words[cbp_array(kind, "mean_output")] = as_words(mean_output);
      checkpoint.words[cbp_array(kind, "accumulated")] = as_words(accumulated);
      checkpoint.integers[cbp_array(kind, "age")] = age;
      checkpoint.integers[cbp_array(kind, "replaced")] = replaced;
    }
  }
  // Only the arrays of the strategies that are on: a run without mitigations writes the
  // same checkpoints as before mitigations existed.
  if (options_.redo) checkpoint.integers["redo_resets"] = redo_resets_;
  if (options_.shrink_perturb) checkpoint.integers["shrink_perturb_steps"] = {shrink_perturb_steps_};
  if (options_.norm_limit) checkpoint.integers["norm_limit_clamps"] = {gain_clamps_, weight_clamps_};
  if (options_.l2_init) checkpoint.words["l2_init_penalty"] = as_words({l2_init_penalty_});
  if (options_.attention_noise) checkpoint.words["attn_noise_std"] = as_words({noise_std_});
}

void Mitigations::restore(const Checkpoint& checkpoint, const std::string& file) {
  auto missing = [&](const std::string& array, size_t size) {
    return InputError(fmt::format("{}: mitigation state {} missing or not {} values; the checkpoint was not written "
                                  "by a run with mitigation '{}'",
                                  file, array, size, spec_.mitigation.name));
  };
  auto words = [&](const std::string& name, size_t size) {
    auto found = checkpoint.words.find(name);
    if (found == checkpoint.words.end() || found->second.size() != size) throw missing(name, size);
    std::vector<double> values;
    for (uint64_t word : found->second) values.push_back(std::bit_cast<double>(word));
    return values;
  };
  auto integers = [&](const std::string& name, size_t size) {
    auto found = checkpoint.integers.find(name);
    if (found == checkpoint.integers.end() || found->second.size() != size) throw missing(name, size);
    return found->second;
  };
  if (continual_backprop_) {
    for (UnitKind kind : {UnitKind::mlp_unit, UnitKind::attention_head}) {
      std::vector<UnitGroupState>& groups = continual_backprop_->groups(kind);
      if (groups.empty()) continue;
      const size_t layers = groups.size(), units = groups[0].utility.size(), outputs = groups[0].mean_output.size();
      const auto utility = words(cbp_array(kind, "utility"), layers * units);
      const auto mean_output = words(cbp_array(kind, "mean_output"), layers * outputs);
      const auto accumulated = words(cbp_array(kind, "accumulated"), layers);
      const auto age = integers(cbp_array(kind, "age"), layers * units);
      const auto replaced = integers(cbp_array(kind, "replaced"), layers);
      for (size_t l = 0; l < layers; ++l) {
        UnitGroupState& group = groups[l];
        std::copy_n(utility.begin() + l * units, units, group.utility.begin());
        std::copy_n(mean_output.begin() + l * outputs, outputs, group.mean_output.begin());
        std::copy_n(age.begin() + l * units, units, group.age.begin());
        group.accumulated = accumulated[l];
        group.replaced = replaced[l];
      }
    }
  }
  if (options_.redo) redo_resets_ = integers("redo_resets", redo_resets_.size());
  if (options_.shrink_perturb) shrink_perturb_steps_ = integers("shrink_perturb_steps", 1)[0];
  if (options_.norm_limit) {
    const auto clamps = integers("norm_limit_clamps", 2);
    gain_clamps_ = clamps[0];
    weight_clamps_ = clamps[1];
  }
  if (options_.l2_init) l2_init_penalty_ = words("l2_init_penalty", 1)[0];
  if (options_.attention_noise) noise_std_ = words("attn_noise_std", 1)[0];
}

}  // namespace plascale
