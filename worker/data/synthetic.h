#pragma once
// The seeded synthetic multi-language generator (docs/synthetic-data.md has the design,
// the reasoning and the optimal losses). Language `language` of SyntheticConfig `seed` is
// an order-k Markov chain (k = config.order) over its own alphabet, a seeded half of the
// vocabulary (so languages share tokens and conflict):
//   state(t) = (x_t, c(x_{t-1}), ..., c(x_{t-k+1}))   c = a seeded map onto kClasses classes
//   x_{t+1} = successors(state)[r] with probability profile[r], r = 0..branching-1
// where successors(state) are `branching` distinct alphabet tokens drawn per state and
// profile[r] is proportional to 1/(r+1) (Zipf). Every state has the same next-token
// entropy H(profile), so the entropy rate (the best achievable loss once k tokens are
// visible) is exactly entropy_rate(), whatever the stationary distribution.
// The earlier tokens enter only through their class so a 2-layer model learns a language
// in minutes: it has alphabet * kClasses^(k-1) states, not alphabet^k.

#include "sweeps/run_spec.h"
#include "worker/rng.h"

#include <cstdint>
#include <span>
#include <vector>

namespace plascale {

class SyntheticLanguage {
 public:
  static constexpr int kClasses = 4;     // classes of the tokens before the last one
  static constexpr int kBurnIn = 16;     // extra dropped steps beyond `order` before a sequence

  // Throws InputError when the vocabulary cannot hold the language (vocab < 2 * branching),
  // order < 1, branching < 2, or the successor table would exceed 2^27 entries.
  SyntheticLanguage(const SyntheticConfig& config, int vocab, int language);

  // Fills tokens with a sequence of the chain: a uniform alphabet start, order + kBurnIn
  // dropped steps (so the first kept token already has a full history), then tokens.size()
  // tokens. Draws exactly one 32-bit word per generated token, the start included.
  void generate(Rng& rng, std::span<int32_t> tokens) const;

  // Nats per token: H(profile). Optimal mean loss of a position that sees `order` tokens.
  double entropy_rate() const;

  int order() const { return order_; }
  int branching() const { return branching_; }
  std::span<const int32_t> alphabet() const { return alphabet_; }
  std::span<const double> profile() const { return profile_; }
  int states() const { return states_; }
  // State after the last `order` tokens of history (history.size() >= order, all in the
  // alphabet); successors(state)[r] follows it with probability profile()[r].
  int state_of(std::span<const int32_t> history) const;
  std::span<const int32_t> successors(int state) const;
  int token_class(int32_t token) const { return token_class_[token]; }  // alphabet tokens
  // generate() takes rank r for a 32-bit draw u when u >= thresholds[r - 1] and
  // u < thresholds[r] (with thresholds[-1] = 0 and thresholds[branching - 1] = 2^32).
  std::span<const uint32_t> rank_thresholds() const { return rank_threshold_; }

 private:
  int vocab_;
  int order_;
  int branching_;
  std::vector<int32_t> alphabet_;        // sorted token ids
  std::vector<int32_t> alphabet_index_;  // [vocab] position in alphabet_, -1 if absent
  std::vector<uint8_t> token_class_;     // [vocab] class of each alphabet token
  int states_ = 0;
  int class_states_ = 1;                 // kClasses^(order-1)
  std::vector<int32_t> successor_table_;  // [states, branching]
  std::vector<double> profile_;
  std::vector<uint32_t> rank_threshold_;  // [branching - 1] cumulative profile in 2^32 units
};

}  // namespace plascale
