// The onset law on synthetic studies with a known law: sizes of the reference study, several
// seeds, log-normal scatter, and censoring of the runs whose onset lies past their last probe.

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "fitting/comparison.h"
#include "fitting/curve_analysis.h"
#include "fitting/onset_law.h"
#include "fitting/statistics.h"

namespace plascale::fitting {
namespace {

const std::vector<double> kSizes = {4.9e6, 12.1e6, 27.9e6, 39.4e6, 53.6e6, 83.2e6, 106.1e6, 314.8e6};
constexpr double kTrueB = 0.83;
const double kTrueA = 2e9 / std::pow(4.9e6, kTrueB);  // 2B tokens at the smallest size

double gaussian(RandomStream& random) {  // Box-Muller
  double u1 = (static_cast<double>(random.next() >> 11) + 0.5) / 9007199254740992.0;
  double u2 = static_cast<double>(random.next() >> 11) / 9007199254740992.0;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

// Seeds x sizes runs; each run's probes stop at `horizon` tokens, past which onsets are censored.
std::vector<OnsetObservation> synthetic_study(uint64_t repetition, int seeds, double sigma, double horizon) {
  RandomStream random(2026, repetition);
  std::vector<OnsetObservation> runs;
  for (int seed = 0; seed < seeds; ++seed)
    for (double size : kSizes) {
      double onset = kTrueA * std::pow(size, kTrueB) * std::exp(sigma * gaussian(random));
      runs.push_back(onset > horizon ? OnsetObservation{size, horizon, true} : OnsetObservation{size, onset, false});
    }
  return runs;
}

TEST(OnsetLaw, WithoutCensoringItIsLogLogOls) {
  std::vector<OnsetObservation> runs = synthetic_study(0, 3, 0.3, 1e30);
  std::vector<double> params, tokens;
  for (const OnsetObservation& run : runs) params.push_back(run.params), tokens.push_back(run.onset_tokens);
  CurveFit ols = fit_power_law_loglog(params, tokens);
  CurveFit tobit = fit_censored_power_law(runs);  // the likelihood path, on the same data
  EXPECT_NEAR(tobit.theta[0], ols.theta[0], 1e-6);
  EXPECT_NEAR(tobit.theta[1], ols.theta[1], 1e-7);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(tobit.theta_covariance[i], ols.theta_covariance[i], 1e-4 * std::abs(ols.theta_covariance[i]));
  EXPECT_NEAR(tobit.residual_variance, ols.residual_variance, 1e-5 * ols.residual_variance);
  OnsetLaw law = fit_onset_law(runs, {});
  EXPECT_EQ(law.censored, 0);
  EXPECT_EQ(law.b, ols.theta[1]);
}

TEST(OnsetLaw, CensoredLikelihoodMatchesScipy) {
  // Optimum of the same negative log-likelihood found by scipy (Nelder-Mead then BFGS).
  std::vector<OnsetObservation> runs = {{5e6, 1.1e9, false},   {1.2e7, 2.0e9, false}, {2.8e7, 4.5e9, false},
                                        {5.4e7, 7.0e9, false}, {1.06e8, 1.2e10, false}, {3.15e8, 2.0e10, true},
                                        {3.15e8, 2.0e10, true}};
  CurveFit fit = fit_censored_power_law(runs);
  EXPECT_NEAR(fit.theta[0], 8.560227, 1e-4);
  EXPECT_NEAR(fit.theta[1], 0.79311064, 1e-5);
  EXPECT_NEAR(fit.residual_variance, std::exp(2 * -3.08404293) * 7.0 / 5.0, 1e-4 * fit.residual_variance);
}

TEST(OnsetLaw, ExponentIntervalCoversTheTruthUnderCensoring) {
  const double horizon = kTrueA * std::pow(106.1e6, kTrueB);  // the largest size is mostly censored
  int covered = 0, covered_drop = 0, censored_total = 0;
  double bias_tobit = 0.0, bias_drop = 0.0;
  for (uint64_t repetition = 0; repetition < 100; ++repetition) {
    std::vector<OnsetObservation> runs = synthetic_study(repetition, 3, 0.25, horizon);
    OnsetLaw law = fit_onset_law(runs, {});
    covered += law.b_low <= kTrueB && kTrueB <= law.b_high;
    censored_total += law.censored;
    bias_tobit += law.b - kTrueB;
    OnsetLawOptions drop;
    drop.censoring = CensoringTreatment::drop;
    OnsetLaw dropped = fit_onset_law(runs, drop);
    covered_drop += dropped.b_low <= kTrueB && kTrueB <= dropped.b_high;
    bias_drop += dropped.b - kTrueB;
  }
  EXPECT_GE(covered, 90);
  EXPECT_GT(censored_total, 100 * 3);  // the test exercises censoring in earnest
  // Dropping censored runs biases the exponent down; the censored likelihood does not.
  EXPECT_LT(std::abs(bias_tobit), std::abs(bias_drop));
  EXPECT_LT(bias_drop, 0.0);
  RecordProperty("covered_tobit", covered);
  RecordProperty("covered_drop", covered_drop);
}

TEST(OnsetLaw, ExtrapolatesWithPredictionIntervalsAndSaysHowCensoringWasHandled) {
  std::vector<OnsetObservation> runs = synthetic_study(7, 3, 0.25, kTrueA * std::pow(106.1e6, kTrueB));
  OnsetLaw law = fit_onset_law(runs, {});
  ASSERT_EQ(law.predictions.size(), 2u);
  EXPECT_EQ(law.predictions[0].x, 1e9);
  EXPECT_EQ(law.predictions[1].x, 7e9);
  for (const Prediction& p : law.predictions) {
    EXPECT_LT(p.lo, p.y);
    EXPECT_GT(p.hi, p.y);
    EXPECT_NEAR(std::log(p.y), std::log(kTrueA * std::pow(p.x, kTrueB)), 1.0);
  }
  EXPECT_GT(law.censored, 0);
  EXPECT_EQ(law.runs, 24);
  EXPECT_EQ(law.used, 24);
  EXPECT_NE(law.censoring.find("Tobit"), std::string::npos);
  EXPECT_GT(law.loo_rmse, 0.0);
  OnsetLawOptions drop;
  drop.censoring = CensoringTreatment::drop;
  OnsetLaw dropped = fit_onset_law(runs, drop);
  EXPECT_EQ(dropped.used, law.degraded);
  EXPECT_NE(dropped.censoring.find("dropped"), std::string::npos);
}

TEST(OnsetLaw, RefusesALawTheRunsDoNotDetermine) {
  // Degraded runs at one size only; the censored larger runs could sit under any steeper law.
  std::vector<OnsetObservation> runs = {{5e6, 1e9, false}, {5e6, 1.2e9, false}, {5e7, 1e9, true}, {5e7, 1e9, true}};
  EXPECT_THROW(fit_onset_law(runs, {}), std::invalid_argument);
  std::vector<OnsetObservation> all_censored = {{5e6, 1e9, true}, {5e7, 1e9, true}, {5e8, 1e9, true}};
  EXPECT_THROW(fit_onset_law(all_censored, {}), std::invalid_argument);
}

TEST(Comparison, ShiftFactorIsTheGeometricMeanRatioOfMatchedCells) {
  std::vector<OnsetPair> pairs = {{2e9, false, 1e9, false}, {8e9, false, 2e9, false}, {5e9, true, 4e9, false}};
  OnsetShift shift = onset_shift(pairs, 500, 1, 0.95);
  EXPECT_EQ(shift.pairs, 3);
  EXPECT_EQ(shift.used, 2);
  EXPECT_EQ(shift.censored_pairs, 1);
  EXPECT_NEAR(shift.factor, std::sqrt(2.0 * 4.0), 1e-12);
  EXPECT_NEAR(shift.low, 2.0, 1e-12);  // resamples of two cells: ratios between 2 and 4
  EXPECT_NEAR(shift.high, 4.0, 1e-12);
  OnsetLaw mitigated, baseline;
  mitigated.b = 0.9, mitigated.se_b = 0.03;
  baseline.b = 0.8, baseline.se_b = 0.04;
  ExponentDifference difference = exponent_difference(mitigated, baseline, 0.95);
  EXPECT_NEAR(difference.difference, 0.1, 1e-12);
  EXPECT_NEAR(difference.se, 0.05, 1e-12);
  EXPECT_NEAR(difference.low, 0.1 - 1.959963984540054 * 0.05, 1e-9);
}

}  // namespace
}  // namespace plascale::fitting
