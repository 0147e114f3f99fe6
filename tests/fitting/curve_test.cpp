// Curve models and their fits, against closed forms and scipy (numbers computed once with
// scipy.stats.linregress / scipy.optimize.curve_fit on the same data).

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "fitting/curve_analysis.h"
#include "fitting/statistics.h"

namespace plascale::fitting {
namespace {

const std::vector<double> kX = {1, 2, 4, 8, 16, 32};
const std::vector<double> kY = {3.1, 4.9, 8.2, 12.8, 21.5, 33.0};

TEST(PowerLaw, LogLogOlsMatchesScipyLinregress) {
  CurveAnalysisOptions options;
  options.method = FitMethod::loglog_ols;
  options.predict_at = {1000.0};
  FitSummary fit = analyse_curve({CurveModel::power_law}, kX, kY, options);
  EXPECT_NEAR(fit.param("b").value, 0.6886721866028392, 1e-12);
  EXPECT_NEAR(fit.param("b").se, 0.007896442670267371, 1e-12);
  EXPECT_NEAR(std::log(fit.param("a").value), 1.1297515618827332, 1e-12);
  EXPECT_NEAR(fit.param("a").se / fit.param("a").value, 0.016571532284476463, 1e-12);  // delta method
  ASSERT_EQ(fit.predictions.size(), 1u);
  EXPECT_NEAR(fit.predictions[0].y, 360.297649634796, 1e-8);
  EXPECT_NEAR(fit.predictions[0].lo, 315.54933706308384, 1e-6);  // t prediction interval
  EXPECT_NEAR(fit.predictions[0].hi, 411.39175743667005, 1e-6);
  EXPECT_EQ(fit.interval_method, "t");
  EXPECT_NEAR(fit.param("b").ci_low, 0.6886721866028392 - 2.7764451051977987 * 0.007896442670267371, 1e-9);
}

TEST(PowerLaw, LeaveOneOutRefitsWithoutThePoint) {
  CurveAnalysisOptions options;
  options.method = FitMethod::loglog_ols;
  FitSummary fit = analyse_curve({CurveModel::power_law}, kX, kY, options);
  double squares = 0.0;
  for (size_t i = 0; i < kX.size(); ++i) {
    std::vector<double> x = kX, y = kY;
    x.erase(x.begin() + i), y.erase(y.begin() + i);
    CurveFit partial = fit_power_law_loglog(x, y);
    double predicted = std::exp(partial.theta[0] + partial.theta[1] * std::log(kX[i]));
    squares += (predicted - kY[i]) * (predicted - kY[i]);
  }
  EXPECT_NEAR(fit.loo_rmse, std::sqrt(squares / kX.size()), 1e-12);
  EXPECT_GT(fit.loo_rmse, fit.rmse);
}

TEST(PowerLaw, NonlinearLeastSquaresMatchesScipyCurveFit) {
  CurveAnalysisOptions options;  // nls in the original space
  FitSummary fit = analyse_curve({CurveModel::power_law}, kX, kY, options);
  EXPECT_NEAR(fit.param("a").value, 3.21929198, 1e-6);
  EXPECT_NEAR(fit.param("b").value, 0.67377004, 1e-7);
  // Ceres covariance scaled by the residual variance = curve_fit's pcov.
  EXPECT_NEAR(fit.param("a").se, 0.1394821, 1e-5);
  EXPECT_NEAR(fit.param("b").se, 0.01395201, 1e-6);
}

TEST(Curves, RecoverKnownParametersFromNoiselessData) {
  std::vector<double> x;
  for (double value = 1e6; value < 1e10; value *= 1.6) x.push_back(value);
  struct Case {
    Curve curve;
    std::vector<double> theta;
  };
  std::vector<Case> cases = {
      {{CurveModel::saturating_power_law}, {std::log(1.8), std::log(400.0), 0.34}},
      {{CurveModel::broken_power_law, 1}, {0.5, std::log(50.0), 0.2, std::log(3e8), 0.4, std::log(0.3)}},
  };
  for (const Case& c : cases) {
    std::vector<double> y;
    for (double value : x) y.push_back(curve_value(c.curve, c.theta.data(), value));
    CurveAnalysisOptions options;
    options.nls.space = ResidualSpace::log;
    FitSummary fit = analyse_curve(c.curve, x, y, options);
    std::vector<double> truth = natural_parameters(c.curve, c.theta);
    for (size_t i = 0; i < truth.size(); ++i)
      EXPECT_NEAR(fit.params[i].value, truth[i], 1e-3 * std::abs(truth[i]) + 1e-6)
          << curve_name(c.curve) << " " << fit.params[i].name;
    EXPECT_NEAR(fit.r2, 1.0, 1e-9) << curve_name(c.curve);
  }
}

TEST(Curves, HuberLossResistsAnOutlier) {
  std::vector<double> y = kY;
  y[3] *= 3.0;
  CurveAnalysisOptions squared;
  squared.nls.space = ResidualSpace::log;
  CurveAnalysisOptions huber = squared;
  huber.nls.loss = {RobustLoss::huber, 0.05};
  CurveAnalysisOptions cauchy = squared;
  cauchy.nls.loss = {RobustLoss::cauchy, 0.05};
  double clean = analyse_curve({CurveModel::power_law}, kX, kY, squared).param("b").value;
  double plain = analyse_curve({CurveModel::power_law}, kX, y, squared).param("b").value;
  double robust = analyse_curve({CurveModel::power_law}, kX, y, huber).param("b").value;
  double very_robust = analyse_curve({CurveModel::power_law}, kX, y, cauchy).param("b").value;
  EXPECT_LT(std::abs(robust - clean), 0.5 * std::abs(plain - clean));
  EXPECT_LT(std::abs(very_robust - clean), 0.5 * std::abs(plain - clean));
}

TEST(Curves, BoundsHoldAndMultiStartPicksTheLowestCost) {
  CurveFitOptions options;
  options.upper = {std::nan(""), 0.6};  // b <= 0.6, below the unconstrained 0.674
  CurveFit bounded = fit_curve({CurveModel::power_law}, kX, kY, options);
  EXPECT_NEAR(bounded.theta[1], 0.6, 1e-9);
  CurveFitOptions starts;
  starts.starts = {{5.0, -1.0}, {std::log(3.2), 0.67}, {0.0, 2.0}};
  CurveFit best = fit_curve({CurveModel::power_law}, kX, kY, starts);
  EXPECT_NEAR(best.theta[1], 0.67377004, 1e-6);
  EXPECT_GE(best.best_start, 0);
}

TEST(Curves, BootstrapIsDeterministicAndBracketsTheEstimate) {
  CurveAnalysisOptions options;
  options.bootstrap = 200;
  options.seed = 11;
  options.predict_at = {100.0};
  options.threads = 1;
  FitSummary one = analyse_curve({CurveModel::power_law}, kX, kY, options);
  options.threads = 3;
  FitSummary three = analyse_curve({CurveModel::power_law}, kX, kY, options);
  EXPECT_EQ(one.interval_method, "bootstrap_percentile");
  EXPECT_EQ(one.bootstrap_replicates, 200);
  for (size_t i = 0; i < one.params.size(); ++i) {
    EXPECT_EQ(one.params[i].ci_low, three.params[i].ci_low);
    EXPECT_EQ(one.params[i].se, three.params[i].se);
    EXPECT_LT(one.params[i].ci_low, one.params[i].value);
    EXPECT_GT(one.params[i].ci_high, one.params[i].value);
  }
  EXPECT_EQ(one.predictions[0].lo, three.predictions[0].lo);
  EXPECT_LT(one.predictions[0].lo, one.predictions[0].y);
  EXPECT_GT(one.predictions[0].hi, one.predictions[0].y);
  options.seed = 12;
  EXPECT_NE(analyse_curve({CurveModel::power_law}, kX, kY, options).params[1].ci_low, one.params[1].ci_low);
}

TEST(Curves, ParsesModelNames) {
  EXPECT_EQ(parse_curve("broken_power_law:2").breaks, 2);
  EXPECT_EQ(curve_parameter_names(parse_curve("broken_power_law:2")).size(), 9u);
  EXPECT_THROW(parse_curve("exponential"), std::invalid_argument);
  EXPECT_THROW(parse_curve("broken_power_law:0"), std::invalid_argument);
}

}  // namespace
}  // namespace plascale::fitting
