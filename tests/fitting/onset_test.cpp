#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "fitting/onset.h"

namespace plascale::fitting {
namespace {

const std::vector<double> kTokens = {0, 1e8, 2e8, 3e8, 4e8, 5e8, 6e8, 7e8, 8e8};

TEST(Onset, MinimumOfTheWindowThreeMovingAverage) {
  // Moving averages at probes 1..7: 4, 3.17, 2.63, 2.5, 2.67, 3.03, 3.5 -> probe 4.
  std::vector<double> auc = {5, 4, 3, 2.5, 2.4, 2.6, 3, 3.5, 4};
  Onset onset = find_onset(kTokens, auc, {});
  ASSERT_EQ(onset.status, OnsetStatus::degraded);
  EXPECT_EQ(onset.probe_index, 4);
  EXPECT_EQ(onset.tokens, 4e8);
  EXPECT_GT(onset.smooth_tokens, 3e8);
  EXPECT_LT(onset.smooth_tokens, 5e8);
  EXPECT_LE(onset.smooth_low, onset.smooth_tokens);
  EXPECT_GE(onset.smooth_high, onset.smooth_tokens);
}

TEST(Onset, SmoothModelFindsTheVertexOfAParabola) {
  std::vector<double> auc;
  for (double t : kTokens) auc.push_back(2.0 + std::pow((t - 3.7e8) / 1e8, 2));
  Onset onset = find_onset(kTokens, auc, {});
  ASSERT_EQ(onset.status, OnsetStatus::degraded);
  EXPECT_EQ(onset.tokens, 4e8);
  EXPECT_NEAR(onset.smooth_tokens, 3.7e8, 1.0);
  EXPECT_NEAR(onset.smooth_low, 3.7e8, 1.0);  // every resample sees the same exact parabola
  EXPECT_NEAR(onset.smooth_high, 3.7e8, 1.0);
}

TEST(Onset, NotDegradedByTheLastProbeIsCensored) {
  std::vector<double> falling = {5, 4.5, 4, 3.8, 3.6, 3.5, 3.4, 3.3, 3.2};
  Onset onset = find_onset(kTokens, falling, {});
  EXPECT_EQ(onset.status, OnsetStatus::censored);
  EXPECT_TRUE(std::isnan(onset.tokens));
  EXPECT_EQ(onset.last_probe_tokens, 8e8);
  // A minimum inside the last window (probe 7, window 6..8) is censored too.
  std::vector<double> late = {5, 4.5, 4, 3.8, 3.6, 3.5, 3.4, 3.0, 3.3};
  EXPECT_EQ(find_onset(kTokens, late, {}).status, OnsetStatus::censored);
}

TEST(Onset, TooFewProbesAndTies) {
  EXPECT_EQ(find_onset(std::vector<double>{0, 1}, std::vector<double>{1, 2}, {}).status,
            OnsetStatus::too_few_probes);
  std::vector<double> flat = {3, 2, 2, 2, 2, 3, 4, 5, 6};  // averages at 1, 2, 3 tie... first wins
  Onset onset = find_onset(kTokens, flat, {});
  EXPECT_EQ(onset.probe_index, 2);
}

TEST(Onset, SmoothIntervalIsDeterministicPerSeed) {
  std::vector<double> auc = {5, 4.1, 3.2, 2.4, 2.45, 2.3, 3.1, 3.4, 4.2};
  OnsetOptions options;
  options.seed = 5;
  Onset first = find_onset(kTokens, auc, options), second = find_onset(kTokens, auc, options);
  EXPECT_EQ(first.smooth_low, second.smooth_low);
  EXPECT_EQ(first.smooth_high, second.smooth_high);
}

}  // namespace
}  // namespace plascale::fitting
