#include "fitting/curve_analysis.h"

#include <fmt/core.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "fitting/parallel.h"
#include "fitting/statistics.h"

namespace plascale::fitting {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

ResidualSpace fitting_space(const CurveAnalysisOptions& options) {
  return options.method == FitMethod::loglog_ols ? ResidualSpace::log : options.nls.space;
}

double to_space(ResidualSpace space, double y) { return space == ResidualSpace::log ? std::log(y) : y; }
double from_space(ResidualSpace space, double v) { return space == ResidualSpace::log ? std::exp(v) : v; }

// One estimate on a subset of the points; `warm_start` (if not empty) replaces the default starts.
CurveFit estimate(const Curve& curve, std::span<const double> x, std::span<const double> y,
                  const CurveAnalysisOptions& options, const std::vector<double>& warm_start,
                  bool covariance, int threads) {
  if (options.method == FitMethod::loglog_ols) return fit_power_law_loglog(x, y);
  CurveFitOptions nls = options.nls;
  nls.covariance = covariance;
  nls.threads = threads;
  if (!warm_start.empty()) nls.starts = {warm_start};
  return fit_curve(curve, x, y, nls);
}

// Gradient of the fitting-space prediction at x with respect to theta (central differences).
std::vector<double> prediction_gradient(const Curve& curve, ResidualSpace space,
                                        std::vector<double> theta, double x) {
  std::vector<double> gradient(theta.size());
  for (size_t i = 0; i < theta.size(); ++i) {
    double step = 1e-6 * std::max(1.0, std::abs(theta[i]));
    double saved = theta[i];
    theta[i] = saved + step;
    double up = to_space(space, curve_value(curve, theta.data(), x));
    theta[i] = saved - step;
    double down = to_space(space, curve_value(curve, theta.data(), x));
    theta[i] = saved;
    gradient[i] = (up - down) / (2.0 * step);
  }
  return gradient;
}

}  // namespace

CurveFit fit_power_law_loglog(std::span<const double> x, std::span<const double> y) {
  const size_t n = x.size();
  if (n != y.size()) throw std::invalid_argument("log-log OLS: x and y differ in length");
  if (n < 3) throw std::invalid_argument(fmt::format("log-log OLS needs at least 3 points, got {}", n));
  double mean_u = 0.0, mean_v = 0.0;
  for (size_t i = 0; i < n; ++i) {
    if (!(x[i] > 0.0 && y[i] > 0.0))
      throw std::invalid_argument(fmt::format("log-log OLS: point {} is not positive", i));
    mean_u += std::log(x[i]);
    mean_v += std::log(y[i]);
  }
  mean_u /= n;
  mean_v /= n;
  double sxx = 0.0, sxy = 0.0;
  for (size_t i = 0; i < n; ++i) {
    double du = std::log(x[i]) - mean_u;
    sxx += du * du;
    sxy += du * (std::log(y[i]) - mean_v);
  }
  if (!(sxx > 1e-300)) throw std::invalid_argument("log-log OLS: all x values are equal");
  double slope = sxy / sxx;
  double intercept = mean_v - slope * mean_u;
  double rss = 0.0;
  for (size_t i = 0; i < n; ++i) {
    double r = std::log(y[i]) - intercept - slope * std::log(x[i]);
    rss += r * r;
  }
  CurveFit fit;
  fit.theta = {intercept, slope};
  fit.cost = 0.5 * rss;
  fit.residual_variance = rss / static_cast<double>(n - 2);
  double s2 = fit.residual_variance;
  // (X^T X)^-1 for the design [1, u]: var(slope) = s2/sxx, var(intercept) = s2 (1/n + mean^2/sxx).
  fit.theta_covariance = {s2 * (1.0 / n + mean_u * mean_u / sxx), -s2 * mean_u / sxx,
                          -s2 * mean_u / sxx, s2 / sxx};
  fit.best_start = 0;
  return fit;
}

FitSummary analyse_curve(const Curve& curve, std::span<const double> x, std::span<const double> y,
                         const CurveAnalysisOptions& options) {
  if (options.method == FitMethod::loglog_ols && curve.model != CurveModel::power_law)
    throw std::invalid_argument("method loglog_ols fits only the power_law model; use nls");
  const int parameters = curve_parameter_count(curve);
  const size_t n = x.size();
  const ResidualSpace space = fitting_space(options);
  const double tail = 0.5 * (1.0 - options.level);

  CurveFit fit = estimate(curve, x, y, options, {}, true, options.threads);
  std::vector<double> natural = natural_parameters(curve, fit.theta);
  std::vector<bool> logs = curve_log_parameters(curve);
  std::vector<std::string> names = curve_parameter_names(curve);

  FitSummary summary;
  summary.model = curve_name(curve);
  summary.method = options.method == FitMethod::loglog_ols ? "loglog_ols" : "nls";
  summary.level = options.level;
  summary.objective = fit.cost;
  summary.n_points = static_cast<int>(n);

  std::vector<double> fitted(n), residuals(n);
  for (size_t i = 0; i < n; ++i) {
    fitted[i] = curve_value(curve, fit.theta.data(), x[i]);
    residuals[i] = to_space(space, y[i]) - to_space(space, fitted[i]);
  }
  summary.r2 = r_squared(y, fitted);
  summary.r2_log = r_squared_log(y, fitted);
  summary.rmse = rmse(y, fitted);

  // Leave-one-out, warm-started at the full-data optimum.
  std::vector<double> loo_predictions(n, kNaN);
  parallel_for(static_cast<int>(n), options.threads, [&](int left_out) {
    std::vector<double> kept_x, kept_y;
    for (size_t i = 0; i < n; ++i)
      if (static_cast<int>(i) != left_out) kept_x.push_back(x[i]), kept_y.push_back(y[i]);
    try {
      CurveFit partial = estimate(curve, kept_x, kept_y, options, fit.theta, false, 1);
      loo_predictions[left_out] = curve_value(curve, partial.theta.data(), x[left_out]);
    } catch (const std::exception&) {
      // Too few points left for this model: the LOO RMSE is then undefined (NaN).
    }
  });
  summary.loo_rmse = rmse(y, loo_predictions);

  if (options.bootstrap > 0) {
    summary.interval_method = "bootstrap_percentile";
    std::vector<std::vector<double>> replicates(options.bootstrap);
    parallel_for(options.bootstrap, options.threads, [&](int r) {
      std::vector<size_t> indices = resample_indices(n, options.seed, static_cast<uint64_t>(r));
      std::vector<double> sample_x, sample_y;
      for (size_t i : indices) sample_x.push_back(x[i]), sample_y.push_back(y[i]);
      try {
        replicates[r] = estimate(curve, sample_x, sample_y, options, fit.theta, false, 1).theta;
      } catch (const std::exception&) {
        // A degenerate resample (e.g. one distinct x) has no estimate; it is left out below.
      }
    });
    std::vector<std::vector<double>> usable;
    for (auto& theta : replicates)
      if (!theta.empty()) usable.push_back(std::move(theta));
    summary.bootstrap_replicates = static_cast<int>(usable.size());
    for (int p = 0; p < parameters; ++p) {
      std::vector<double> values;
      for (const auto& theta : usable) values.push_back(logs[p] ? std::exp(theta[p]) : theta[p]);
      summary.params.push_back(bootstrap_estimate(names[p], natural[p], values, options.level));
    }
    for (double at : options.predict_at) {
      std::vector<double> draws;
      for (size_t r = 0; r < usable.size(); ++r) {
        RandomStream random(options.seed, (1ull << 40) + r);
        double residual = residuals[random.below(n)];
        draws.push_back(from_space(space, to_space(space, curve_value(curve, usable[r].data(), at)) + residual));
      }
      summary.predictions.push_back({at, curve_value(curve, fit.theta.data(), at), quantile(draws, tail),
                                     quantile(draws, 1.0 - tail)});
    }
    return summary;
  }

  summary.interval_method = "t";
  const int dof = static_cast<int>(n) - parameters;
  const double t = dof > 0 ? student_t_quantile(1.0 - tail, dof) : kNaN;
  const bool have_covariance = !fit.theta_covariance.empty();
  for (int p = 0; p < parameters; ++p) {
    double se_theta = have_covariance ? std::sqrt(fit.theta_covariance[p * parameters + p]) : kNaN;
    summary.params.push_back(t_estimate(names[p], fit.theta[p], se_theta, logs[p], t));
  }
  for (double at : options.predict_at) {
    std::vector<double> gradient = prediction_gradient(curve, space, fit.theta, at);
    double variance = fit.residual_variance;
    for (int i = 0; i < parameters; ++i)
      for (int j = 0; j < parameters; ++j)
        variance += gradient[i] * (have_covariance ? fit.theta_covariance[i * parameters + j] : kNaN) *
                    gradient[j];
    double center = to_space(space, curve_value(curve, fit.theta.data(), at));
    double half = t * std::sqrt(variance);
    summary.predictions.push_back({at, from_space(space, center), from_space(space, center - half),
                                   from_space(space, center + half)});
  }
  return summary;
}

}  // namespace plascale::fitting
