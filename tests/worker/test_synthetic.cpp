#include "worker/data/synthetic.h"

#include "sweeps/errors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <vector>

namespace plascale {
namespace {

SyntheticConfig config(int order, int branching, uint64_t seed = 11) {
  SyntheticConfig synthetic;
  synthetic.seed = seed;
  synthetic.order = order;
  synthetic.branching = branching;
  return synthetic;
}

// Hand-computed: with p_r = (1/r) / H_b (r = 1..b, H_b the harmonic number),
// H = ln H_b + (1/H_b) sum_r ln(r) / r.  b = 8: H_8 = 761/280, H = 1.8158479 nats.
TEST(SyntheticLanguage, EntropyRateIsZipfEntropy) {
  EXPECT_NEAR(SyntheticLanguage(config(2, 8), 256, 0).entropy_rate(), 1.8158479366, 1e-9);
  EXPECT_NEAR(SyntheticLanguage(config(1, 4), 64, 3).entropy_rate(), 1.2424577879, 1e-9);
}

TEST(SyntheticLanguage, SameSeedAndLanguageGiveSameTokens) {
  const SyntheticLanguage a(config(2, 8), 128, 2), b(config(2, 8), 128, 2);
  std::vector<int32_t> first(500), second(500);
  Rng rng_a(derive_seed(1, "t")), rng_b(derive_seed(1, "t"));
  a.generate(rng_a, first);
  b.generate(rng_b, second);
  EXPECT_EQ(first, second);
  EXPECT_EQ(rng_a.state().words_drawn, 1u + 2 + SyntheticLanguage::kBurnIn + 500 - 1);
}

TEST(SyntheticLanguage, StructureIsAsSpecified) {
  const int vocab = 100;
  const SyntheticLanguage language(config(3, 6), vocab, 1);
  EXPECT_EQ(language.alphabet().size(), 50u);
  EXPECT_TRUE(std::is_sorted(language.alphabet().begin(), language.alphabet().end()));
  EXPECT_EQ(language.states(), 50 * SyntheticLanguage::kClasses * SyntheticLanguage::kClasses);
  const std::set<int32_t> alphabet(language.alphabet().begin(), language.alphabet().end());
  // Rank thresholds are the cumulative Zipf profile in units of 2^-32.
  ASSERT_EQ(language.rank_thresholds().size(), 5u);
  double cumulative = 0;
  for (int r = 0; r < 5; ++r) {
    cumulative += language.profile()[r];
    EXPECT_NEAR(language.rank_thresholds()[r], cumulative * 4294967296.0, 1.0);
  }
  for (int32_t token : language.alphabet()) {
    EXPECT_GE(language.token_class(token), 0);
    EXPECT_LT(language.token_class(token), SyntheticLanguage::kClasses);
  }
  for (int state = 0; state < language.states(); ++state) {
    const auto successors = language.successors(state);
    const std::set<int32_t> distinct(successors.begin(), successors.end());
    ASSERT_EQ(distinct.size(), 6u) << "successors of a state must be distinct";
    for (int32_t token : successors) ASSERT_TRUE(alphabet.contains(token));
  }
}

// The generated stream follows the intended chain: every transition goes to one of the
// state's successors, ranks occur with the Zipf profile, and the empirical conditional
// entropy matches entropy_rate().
TEST(SyntheticLanguage, EmpiricalStreamMatchesIntendedStatistics) {
  const int vocab = 64, order = 2, branching = 4;
  const SyntheticLanguage language(config(order, branching), vocab, 5);
  std::vector<int64_t> rank_counts(branching, 0);
  std::map<std::pair<int, int32_t>, int64_t> transitions;
  std::vector<int64_t> state_counts(language.states(), 0);
  int64_t total = 0;
  std::vector<int32_t> sequence(1000);
  for (int s = 0; s < 400; ++s) {
    Rng rng(derive_seed(77, "stats", {static_cast<uint64_t>(s)}));
    language.generate(rng, sequence);
    for (size_t t = order - 1; t + 1 < sequence.size(); ++t) {
      const int state =
          language.state_of(std::span<const int32_t>(sequence.data() + t + 1 - order, static_cast<size_t>(order)));
      const auto successors = language.successors(state);
      const auto found = std::find(successors.begin(), successors.end(), sequence[t + 1]);
      ASSERT_NE(found, successors.end()) << "transition outside the successor set at token " << t;
      ++rank_counts[found - successors.begin()];
      ++transitions[{state, sequence[t + 1]}];
      ++state_counts[state];
      ++total;
    }
  }
  double chi_square = 0;
  for (int r = 0; r < branching; ++r) {
    const double expected = language.profile()[r] * static_cast<double>(total);
    chi_square += std::pow(rank_counts[r] - expected, 2) / expected;
  }
  EXPECT_LT(chi_square, 16.3);  // 3 degrees of freedom: p = 0.001
  double conditional_entropy = 0;
  for (const auto& [key, count] : transitions) {
    const double p_joint = static_cast<double>(count) / total;
    const double p_next = static_cast<double>(count) / state_counts[key.first];
    conditional_entropy -= p_joint * std::log(p_next);
  }
  // Plug-in bias is about (cells - states) / (2 total) ~ 1e-3 here.
  EXPECT_NEAR(conditional_entropy, language.entropy_rate(), 0.01);
  // The chain visits most of its states, so the statistic covers the language.
  const auto visited = std::count_if(state_counts.begin(), state_counts.end(), [](int64_t c) { return c > 0; });
  EXPECT_GT(visited, language.states() * 9 / 10);
}

// Languages differ: different alphabets, and where they share a state's history their
// successors mostly disagree, so learning one interferes with another.
TEST(SyntheticLanguage, LanguagesAreDistinct) {
  const int vocab = 256;
  const SyntheticLanguage english(config(2, 8), vocab, 0), chinese(config(2, 8), vocab, 1);
  std::vector<int32_t> shared;
  std::set_intersection(english.alphabet().begin(), english.alphabet().end(), chinese.alphabet().begin(),
                        chinese.alphabet().end(), std::back_inserter(shared));
  EXPECT_GT(shared.size(), 32u);   // they share tokens (about a quarter of the vocabulary)...
  EXPECT_LT(shared.size(), 100u);  // ...but are different subsets
  // Chinese text judged by English's chain: count transitions English would allow.
  const std::set<int32_t> english_alphabet(english.alphabet().begin(), english.alphabet().end());
  std::vector<int32_t> text(20000);
  Rng rng(derive_seed(3, "distinct"));
  chinese.generate(rng, text);
  int64_t judged = 0, allowed = 0;
  for (size_t t = 1; t + 1 < text.size(); ++t) {
    if (!english_alphabet.contains(text[t]) || !english_alphabet.contains(text[t - 1])) continue;
    const auto successors = english.successors(english.state_of(std::span<const int32_t>(text.data() + t - 1, 2)));
    ++judged;
    allowed += std::find(successors.begin(), successors.end(), text[t + 1]) != successors.end();
  }
  ASSERT_GT(judged, 1000);
  EXPECT_LT(static_cast<double>(allowed) / judged, 0.1);  // chance level is 8/128
  // A different generator seed gives a different language 0.
  const SyntheticLanguage other(config(2, 8, 12), vocab, 0);
  EXPECT_FALSE(std::equal(english.alphabet().begin(), english.alphabet().end(), other.alphabet().begin()));
}

TEST(SyntheticLanguage, RejectsImpossibleConfigurations) {
  EXPECT_THROW(SyntheticLanguage(config(2, 8), 15, 0), InputError);
  EXPECT_THROW(SyntheticLanguage(config(0, 8), 256, 0), InputError);
  EXPECT_THROW(SyntheticLanguage(config(2, 1), 256, 0), InputError);
  try {
    SyntheticLanguage(config(12, 8), 256, 0);
    FAIL() << "order 12 should exceed the table limit";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("lower synthetic.order"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace plascale
