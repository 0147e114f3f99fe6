#pragma once
// The mitigation strategies of a run as typed options, read from the RunSpec's
// Strategy::params (sweeps/mitigations.cpp fills every default; docs/sweep-spec.md lists
// them, docs/mitigations.md says what each does).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sweeps/run_spec.h"

namespace plascale {

struct ContinualBackpropOptions {
  double replacement_rate = 1e-4;  // fraction of eligible units replaced per step (accumulated)
  double decay = 0.99;             // of the running utility and mean output
  int64_t maturity = 100;          // units younger than this (in steps) are never replaced
  bool bias_correction = true;     // fold a replaced unit's mean output into the next bias
  bool mlp_units = true;           // MLP hidden units are units
  bool heads = false;              // attention heads are units
};

struct RedoOptions {
  double threshold = 0.025;     // a unit with ReDo score <= threshold is reset
  int64_t period_steps = 1000;  // reset after every this many optimizer steps
};

struct ShrinkPerturbOptions {
  double shrink = 0.999;                 // lambda
  double sigma = 1e-5;                   // noise standard deviation
  int64_t period_steps = 1;              // applied after every this many optimizer steps
  std::vector<std::string> groups{"all"};  // all, or some of attention, mlp, layernorm, embeddings
};

struct L2InitOptions {
  double strength = 1e-4;  // lambda of lambda * ||theta - theta_0||^2
};

struct WeightDecayOptions {
  double value = 0.1;              // replaces training.weight_decay for the main run
  bool exclude_layernorm = true;   // false: LayerNorm gains are decayed too
};

struct NormLimitOptions {
  std::optional<double> max_layernorm_gain;  // clamp every LayerNorm gain to [-max, max]
  std::optional<double> max_weight_norm;     // max L2 norm of each Linear weight matrix (or row)
  bool per_tensor = true;                    // false: the bound applies to each row (unit)
};

struct AttentionNoiseOptions {
  double std = 0.1;           // of the Gaussian noise on attention logits
  bool linear_decay = false;  // std falls linearly to 0 at decay_tokens training tokens
  int64_t decay_tokens = 0;
};

// Every strategy of one mitigation entry; absent = not applied.
struct MitigationOptions {
  std::optional<ContinualBackpropOptions> continual_backprop;
  std::optional<RedoOptions> redo;
  std::optional<ShrinkPerturbOptions> shrink_perturb;
  std::optional<L2InitOptions> l2_init;
  std::optional<WeightDecayOptions> weight_decay;
  std::optional<NormLimitOptions> norm_limit;
  std::optional<AttentionNoiseOptions> attention_noise;
};

// Throws InputError naming the run, the strategy and the parameter for an unknown strategy
// or a parameter missing or of the wrong type.
MitigationOptions mitigation_options(const RunSpec& spec);

// The attention-noise standard deviation after `tokens` training tokens.
double attention_noise_std(const AttentionNoiseOptions& options, int64_t tokens);

}  // namespace plascale
