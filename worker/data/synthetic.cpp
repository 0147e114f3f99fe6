#include "worker/data/synthetic.h"

#include "sweeps/errors.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace plascale {

SyntheticLanguage::SyntheticLanguage(const SyntheticConfig& config, int vocab, int language)
    : vocab_(vocab), order_(config.order), branching_(config.branching) {
  const std::string where = "synthetic language " + std::to_string(language) + ": ";
  if (order_ < 1) throw InputError(where + "synthetic.order is " + std::to_string(order_) + ", must be at least 1");
  if (branching_ < 2) {
    throw InputError(where + "synthetic.branching is " + std::to_string(branching_) + ", must be at least 2");
  }
  if (vocab < 2 * branching_) {
    throw InputError(where + "model.vocab " + std::to_string(vocab) + " is too small: a language uses half the " +
                     "vocabulary and needs at least synthetic.branching = " + std::to_string(branching_) +
                     " tokens, so vocab must be at least " + std::to_string(2 * branching_));
  }
  if (language < 0) throw InputError(where + "language index must be >= 0");

  Rng rng(derive_seed(config.seed, "synthetic-language", {static_cast<uint64_t>(language)}));

  // A seeded half of the vocabulary: partial Fisher-Yates, then sorted for readability.
  const int alphabet_size = vocab / 2;
  std::vector<int32_t> all_tokens(vocab);
  std::iota(all_tokens.begin(), all_tokens.end(), 0);
  for (int i = 0; i < alphabet_size; ++i) {
    const int j = i + static_cast<int>(rng.below(static_cast<uint64_t>(vocab - i)));
    std::swap(all_tokens[i], all_tokens[j]);
  }
  alphabet_.assign(all_tokens.begin(), all_tokens.begin() + alphabet_size);
  std::sort(alphabet_.begin(), alphabet_.end());
  alphabet_index_.assign(vocab, -1);
  token_class_.assign(vocab, 0);
  for (int i = 0; i < alphabet_size; ++i) {
    alphabet_index_[alphabet_[i]] = i;
    token_class_[alphabet_[i]] = static_cast<uint8_t>(rng.below(kClasses));
  }

  int64_t class_states = 1;
  for (int k = 1; k < order_; ++k) {
    class_states *= kClasses;
    if (class_states > (int64_t{1} << 27)) break;
  }
  const int64_t table_entries = class_states * alphabet_size * branching_;
  if (table_entries > (int64_t{1} << 27)) {
    throw InputError(where + "order " + std::to_string(order_) + " with vocab " + std::to_string(vocab) +
                     " and branching " + std::to_string(branching_) + " needs a successor table of " +
                     std::to_string(table_entries) + " entries, more than the limit 2^27: lower synthetic.order");
  }
  class_states_ = static_cast<int>(class_states);
  states_ = static_cast<int>(class_states * alphabet_size);

  // Each state's successors: `branching` distinct alphabet tokens, a partial Fisher-Yates
  // draw from a running permutation (still uniform over ordered distinct tuples).
  successor_table_.resize(static_cast<size_t>(table_entries));
  std::vector<int32_t> permutation(alphabet_);
  for (int state = 0; state < states_; ++state) {
    int32_t* successors = successor_table_.data() + static_cast<int64_t>(state) * branching_;
    for (int r = 0; r < branching_; ++r) {
      const int j = r + static_cast<int>(rng.below(static_cast<uint64_t>(alphabet_size - r)));
      std::swap(permutation[r], permutation[j]);
      successors[r] = permutation[r];
    }
  }

  // Zipf profile p_r proportional to 1 / (r + 1), sampled by thresholds on a 32-bit word.
  profile_.resize(branching_);
  double total = 0;
  for (int r = 0; r < branching_; ++r) total += 1.0 / (r + 1);
  for (int r = 0; r < branching_; ++r) profile_[r] = 1.0 / (r + 1) / total;
  double cumulative = 0;
  for (int r = 0; r + 1 < branching_; ++r) {
    cumulative += profile_[r];
    rank_threshold_.push_back(static_cast<uint32_t>(std::llround(cumulative * 0x1.0p32)));
  }
}

double SyntheticLanguage::entropy_rate() const {
  double entropy = 0;
  for (double p : profile_) entropy -= p * std::log(p);
  return entropy;
}

int SyntheticLanguage::state_of(std::span<const int32_t> history) const {
  const int last = static_cast<int>(history.size()) - 1;
  int class_code = 0;
  for (int k = order_ - 1; k >= 1; --k) class_code = class_code * kClasses + token_class_[history[last - k]];
  return alphabet_index_[history[last]] * class_states_ + class_code;
}

std::span<const int32_t> SyntheticLanguage::successors(int state) const {
  return {successor_table_.data() + static_cast<int64_t>(state) * branching_, static_cast<size_t>(branching_)};
}

void SyntheticLanguage::generate(Rng& rng, std::span<int32_t> tokens) const {
  const int alphabet_size = static_cast<int>(alphabet_.size());
  int32_t token = alphabet_[rng.next_u32() % static_cast<uint32_t>(alphabet_size)];
  int class_code = 0;  // classes of the order-1 tokens before `token`, oldest most significant
  const int64_t dropped = order_ + kBurnIn;
  const int64_t total = dropped + static_cast<int64_t>(tokens.size());
  const int last_rank = branching_ - 1;
  for (int64_t t = 0; t < total; ++t) {
    if (t >= dropped) tokens[t - dropped] = token;
    if (t + 1 == total) break;
    const int state = alphabet_index_[token] * class_states_ + class_code;
    const uint32_t draw = rng.next_u32();
    int rank = 0;
    while (rank < last_rank && draw >= rank_threshold_[rank]) ++rank;
    if (class_states_ > 1) class_code = (class_code * kClasses + token_class_[token]) % class_states_;
    token = successor_table_[static_cast<int64_t>(state) * branching_ + rank];
  }
}

}  // namespace plascale
