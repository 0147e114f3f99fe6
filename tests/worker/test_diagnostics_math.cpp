#include "worker/diagnostics/attention_entropy.h"
#include "worker/diagnostics/dormant_units.h"
#include "worker/diagnostics/effective_rank.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace plascale {
namespace {

TEST(DormantUnits, UnitActivityByHand) {
  // 3 tokens x 3 units: unit 0 is always zero, unit 1 never, unit 2 once.
  const std::vector<float> h{0, -1, 2,   //
                             0, 3, 0,    //
                             0, -2, 0.5f};
  const UnitActivity activity = unit_activity(h, 3, 3);
  EXPECT_EQ(activity.tokens, 3);
  EXPECT_DOUBLE_EQ(activity.abs_mean[0], 0.0);
  EXPECT_DOUBLE_EQ(activity.abs_mean[1], 2.0);
  EXPECT_DOUBLE_EQ(activity.abs_mean[2], 2.5 / 3);
  EXPECT_EQ(activity.zero_tokens, (std::vector<int64_t>{3, 0, 1}));
  EXPECT_DOUBLE_EQ(zero_unit_fraction(activity.zero_tokens, activity.tokens), 1.0 / 3);
  EXPECT_THROW(unit_activity(h, 2, 3), std::invalid_argument);
}

TEST(DormantUnits, ScoresAndFractionsByHand) {
  // Layer mean of |h| is (0 + 0.005 + 1 + 2.995) / 4 = 1, so the scores are the values.
  const std::vector<double> abs_mean{0.0, 0.005, 1.0, 2.995};
  const std::vector<double> scores = redo_scores(abs_mean);
  EXPECT_DOUBLE_EQ(scores[1], 0.005);
  EXPECT_DOUBLE_EQ(scores[3], 2.995);
  EXPECT_DOUBLE_EQ(dormant_fraction(abs_mean, 0.01), 0.5);
  EXPECT_DOUBLE_EQ(dormant_fraction(abs_mean, 0.001), 0.25);
  // The score is relative: scaling every unit changes nothing.
  EXPECT_DOUBLE_EQ(dormant_fraction(std::vector<double>{0.0, 5e-5, 1e-2, 2.995e-2}, 0.01), 0.5);
  // Threshold inclusive: mean 1, scores 0.5 and 1.5.
  EXPECT_DOUBLE_EQ(dormant_fraction(std::vector<double>{0.5, 1.5}, 0.5), 0.5);
  // A fully silent layer is entirely dormant.
  EXPECT_DOUBLE_EQ(dormant_fraction(std::vector<double>{0.0, 0.0, 0.0}, 0.01), 1.0);
}

TEST(AttentionEntropy, SoftmaxEntropyByHand) {
  EXPECT_NEAR(softmax_entropy(std::vector<float>{2, 2, 2, 2}), std::log(4.0), 1e-12);
  // logits {0, ln 3}: p = {1/4, 3/4}, H = -(1/4 ln 1/4 + 3/4 ln 3/4) = 0.5623351446.
  EXPECT_NEAR(softmax_entropy(std::vector<float>{0, static_cast<float>(std::log(3.0))}), 0.5623351446, 1e-7);
  // Stable for large logits: no overflow, no NaN.
  EXPECT_NEAR(softmax_entropy(std::vector<float>{1000, 1000}), std::log(2.0), 1e-12);
  EXPECT_NEAR(softmax_entropy(std::vector<float>{1e4f, 0}), 0.0, 1e-12);
  EXPECT_DOUBLE_EQ(softmax_entropy(std::vector<float>{7}), 0.0);
  EXPECT_DOUBLE_EQ(softmax_entropy(std::vector<float>{0, -std::numeric_limits<float>::infinity()}), 0.0);
}

TEST(AttentionEntropy, CausalRowsSeeOnlyTheirPrefix) {
  const float masked = 1e30f;  // above the diagonal: must be ignored
  const std::vector<float> scores{0, masked, masked,  //
                                  0, 0, masked,       //
                                  0, 0, 0};
  const std::vector<double> rows = causal_row_entropies(scores, 3);
  EXPECT_DOUBLE_EQ(rows[0], 0.0);
  EXPECT_NEAR(rows[1], std::log(2.0), 1e-12);
  EXPECT_NEAR(rows[2], std::log(3.0), 1e-12);
}

TEST(AttentionEntropy, MaxEntropyIsMeanLogOfVisibleKeys) {
  // Positions 0..3 see 1..4 keys: (ln 1 + ln 2 + ln 3 + ln 4) / 4 = ln(24) / 4.
  EXPECT_NEAR(max_attention_entropy(0, 4), std::log(24.0) / 4, 1e-12);
  EXPECT_NEAR(max_attention_entropy(2, 4), std::log(12.0) / 2, 1e-12);
  EXPECT_DOUBLE_EQ(max_attention_entropy(0, 1), 0.0);
  EXPECT_THROW(max_attention_entropy(3, 3), std::invalid_argument);
}

TEST(AttentionEntropy, HeadMeansAndClassification) {
  // 2 heads x 4 positions; range [1, 3).
  const std::vector<double> per_position{9, 1.0, 2.0, 9,  //
                                         9, 0.1, 0.3, 9};
  const std::vector<double> heads = head_entropies(per_position, 2, 4, 1, 3);
  EXPECT_DOUBLE_EQ(heads[0], 1.5);
  EXPECT_DOUBLE_EQ(heads[1], 0.2);
  EXPECT_THROW(head_entropies(per_position, 2, 4, 1, 5), std::invalid_argument);
  EXPECT_THROW(head_entropies(per_position, 3, 4, 1, 3), std::invalid_argument);

  // H_max = 1: lazy means H > 0.9 (strictly), collapsed H < 0.1 (strictly).
  const HeadCounts counts = classify_heads(std::vector<double>{0.95, 0.9, 0.5, 0.1, 0.05, 0.0}, 1.0, 0.9, 0.1);
  EXPECT_EQ(counts.lazy, 1);
  EXPECT_EQ(counts.collapsed, 2);
}

TEST(EffectiveRank, FromSingularValuesByHand) {
  EXPECT_NEAR(effective_rank_from_singular_values(std::vector<double>{2, 2, 2, 2}), 4.0, 1e-12);
  EXPECT_NEAR(effective_rank_from_singular_values(std::vector<double>{5, 0, 0}), 1.0, 1e-12);
  // {3, 1}: p = {3/4, 1/4}, erank = exp(0.5623351446) = 1.7547654.
  EXPECT_NEAR(effective_rank_from_singular_values(std::vector<double>{3, 1}), 1.7547654, 1e-6);
  EXPECT_DOUBLE_EQ(effective_rank_from_singular_values(std::vector<double>{0, 0}), 0.0);
}

TEST(EffectiveRank, MatricesWithKnownSingularValues) {
  // Diagonal 3 x 2 with singular values {3, 1}.
  EXPECT_NEAR(effective_rank(std::vector<float>{3, 0, 0, 1, 0, 0}, 3, 2), 1.7547654, 1e-6);
  // Rank one: u v^T with u = (1, 2, 3, 4, 5), v = (1, -1, 2).
  std::vector<float> outer;
  for (float u : {1.f, 2.f, 3.f, 4.f, 5.f}) {
    for (float v : {1.f, -1.f, 2.f}) outer.push_back(u * v);
  }
  EXPECT_NEAR(effective_rank(outer, 5, 3), 1.0, 1e-6);
  // 2 x a rotation: both singular values 2.
  const float c = std::cos(0.7f), s = std::sin(0.7f);
  EXPECT_NEAR(effective_rank(std::vector<float>{2 * c, -2 * s, 2 * s, 2 * c}, 2, 2), 2.0, 1e-6);
  // A 4 x 4 orthogonal (Hadamard / 2) matrix: erank 4.
  EXPECT_NEAR(effective_rank(std::vector<float>{.5f, .5f, .5f, .5f, .5f, -.5f, .5f, -.5f,  //
                                                .5f, .5f, -.5f, -.5f, .5f, -.5f, -.5f, .5f},
                             4, 4),
              4.0, 1e-6);
  EXPECT_DOUBLE_EQ(effective_rank(std::vector<float>(6, 0.0f), 2, 3), 0.0);
  EXPECT_THROW(effective_rank(std::vector<float>(5, 1.0f), 2, 3), std::invalid_argument);
}

}  // namespace
}  // namespace plascale
