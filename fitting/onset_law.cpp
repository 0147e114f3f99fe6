#include "fitting/onset_law.h"

#include <ceres/ceres.h>
#include <fmt/core.h>

#include <Eigen/Dense>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>

#include "fitting/curve_analysis.h"
#include "fitting/least_squares.h"
#include "fitting/statistics.h"

namespace plascale::fitting {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// log P(Z > z) and the inverse Mills ratio phi(z) / P(Z > z) for a standard normal Z; the
// asymptotic forms take over where erfc underflows.
void normal_tail(double z, double* log_survival, double* mills) {
  if (z < 30.0) {
    double survival = 0.5 * std::erfc(z / std::sqrt(2.0));
    *log_survival = std::log(survival);
    *mills = std::exp(-0.5 * z * z) / std::sqrt(2.0 * M_PI) / survival;
  } else {
    *log_survival = -0.5 * z * z - std::log(z * std::sqrt(2.0 * M_PI)) + std::log1p(-1.0 / (z * z));
    *mills = z + 1.0 / z;
  }
}

// Negative log-likelihood of theta = (log a, b, log sigma), constants dropped.
class CensoredLikelihood : public ceres::FirstOrderFunction {
 public:
  explicit CensoredLikelihood(std::span<const OnsetObservation> observations) {
    for (const OnsetObservation& o : observations)
      points_.push_back({std::log(o.params), std::log(o.onset_tokens), o.censored});
  }
  int NumParameters() const override { return 3; }
  bool Evaluate(const double* theta, double* cost, double* gradient) const override {
    double sigma = std::exp(theta[2]);
    double total = 0.0, g[3] = {0, 0, 0};
    for (const Point& p : points_) {
      double z = (p.log_tokens - theta[0] - theta[1] * p.log_params) / sigma;
      double d_mean, d_log_sigma;  // derivatives of this point's term
      if (p.censored) {
        double log_survival, mills;
        normal_tail(z, &log_survival, &mills);
        total -= log_survival;
        d_mean = -mills / sigma;
        d_log_sigma = -mills * z;
      } else {
        total += theta[2] + 0.5 * z * z;
        d_mean = -z / sigma;
        d_log_sigma = 1.0 - z * z;
      }
      g[0] += d_mean;
      g[1] += d_mean * p.log_params;
      g[2] += d_log_sigma;
    }
    *cost = total;
    if (gradient) std::copy(g, g + 3, gradient);
    return std::isfinite(total);
  }

 private:
  struct Point {
    double log_params, log_tokens;
    bool censored;
  };
  std::vector<Point> points_;
};

void check_observations(std::span<const OnsetObservation> observations) {
  std::set<double> sizes;
  int degraded = 0;
  for (const OnsetObservation& o : observations) {
    if (!(o.params > 0.0 && o.onset_tokens > 0.0))
      throw std::invalid_argument(fmt::format(
          "onset law: a run has params {} and onset tokens {}; both must be positive", o.params, o.onset_tokens));
    sizes.insert(o.params);
    degraded += !o.censored;
  }
  if (observations.size() < 3 || sizes.size() < 2 || degraded < 1)
    throw std::invalid_argument(fmt::format(
        "onset law needs at least 3 runs over at least 2 sizes with at least 1 degraded run; got {} runs, "
        "{} sizes, {} degraded",
        observations.size(), sizes.size(), degraded));
}

}  // namespace

const char* censoring_treatment_name(CensoringTreatment treatment) {
  return treatment == CensoringTreatment::tobit ? "tobit" : "drop";
}

CurveFit fit_censored_power_law(std::span<const OnsetObservation> observations) {
  check_observations(observations);
  quiet_ceres_logging();
  // Start from OLS on the degraded runs (or all runs as if degraded, if too few).
  std::vector<double> params, tokens;
  for (const OnsetObservation& o : observations)
    if (!o.censored) params.push_back(o.params), tokens.push_back(o.onset_tokens);
  if (params.size() < 3 || std::set<double>(params.begin(), params.end()).size() < 2) {
    params.clear(), tokens.clear();
    for (const OnsetObservation& o : observations) params.push_back(o.params), tokens.push_back(o.onset_tokens);
  }
  CurveFit start = fit_power_law_loglog(params, tokens);
  double theta[3] = {start.theta[0], start.theta[1], 0.5 * std::log(std::max(start.residual_variance, 1e-6))};

  ceres::GradientProblem problem(new CensoredLikelihood(observations));
  ceres::GradientProblemSolver::Options solver;
  solver.line_search_direction_type = ceres::LBFGS;
  solver.max_num_iterations = 1000;
  solver.function_tolerance = 1e-14;
  solver.gradient_tolerance = 1e-12;
  solver.parameter_tolerance = 1e-14;
  solver.logging_type = ceres::SILENT;
  ceres::GradientProblemSolver::Summary summary;
  ceres::Solve(solver, problem, theta, &summary);
  if (!summary.IsSolutionUsable())
    throw std::runtime_error("onset law: the censored likelihood fit did not converge: " + summary.message);

  // Observed information: Hessian of the negative log-likelihood by central differences of
  // the analytic gradient.
  Eigen::Matrix3d hessian;
  for (int j = 0; j < 3; ++j) {
    double step = 1e-5 * std::max(1.0, std::abs(theta[j]));
    double up[3] = {theta[0], theta[1], theta[2]}, down[3] = {theta[0], theta[1], theta[2]};
    up[j] += step;
    down[j] -= step;
    double cost, g_up[3], g_down[3];
    problem.Evaluate(up, &cost, g_up);
    problem.Evaluate(down, &cost, g_down);
    for (int i = 0; i < 3; ++i) hessian(i, j) = (g_up[i] - g_down[i]) / (2.0 * step);
  }
  hessian = 0.5 * (hessian + hessian.transpose()).eval();
  // Censored runs can leave the likelihood without a maximum (e.g. every degraded run at one
  // size and the censored ones unable to pin the slope): the optimiser then drifts and the
  // information matrix is (nearly) singular. Say so instead of reporting that drift.
  Eigen::SelfAdjointEigenSolver<Eigen::Matrix3d> curvature(hessian);
  Eigen::Vector3d eigenvalues = curvature.eigenvalues();  // ascending
  if (!std::isfinite(theta[0] + theta[1] + theta[2]) || !(eigenvalues(0) > 1e-9 * eigenvalues(2)))
    throw std::invalid_argument(
        "onset law: the degraded and censored runs do not determine the law (the censored likelihood has no "
        "maximum); more runs must degrade, at more sizes");
  const double n = static_cast<double>(observations.size());
  const double correction = n / (n - 2.0);
  Eigen::Matrix3d covariance = hessian.inverse() * correction;
  CurveFit fit;
  fit.theta = {theta[0], theta[1]};
  fit.theta_covariance = {covariance(0, 0), covariance(0, 1), covariance(1, 0), covariance(1, 1)};
  fit.residual_variance = std::exp(2.0 * theta[2]) * correction;
  fit.cost = summary.final_cost;
  fit.best_start = 0;
  return fit;
}

OnsetLaw fit_onset_law(std::span<const OnsetObservation> observations, const OnsetLawOptions& options) {
  OnsetLaw law;
  std::vector<OnsetObservation> used;
  for (const OnsetObservation& o : observations) {
    ++law.runs;
    o.censored ? ++law.censored : ++law.degraded;
    if (!o.censored || options.censoring == CensoringTreatment::tobit) used.push_back(o);
  }
  law.used = static_cast<int>(used.size());
  check_observations(used);
  auto estimate = [&](std::span<const OnsetObservation> runs) {
    bool any_censored = false;
    for (const OnsetObservation& o : runs) any_censored |= o.censored;
    if (any_censored) return fit_censored_power_law(runs);
    std::vector<double> params, tokens;
    for (const OnsetObservation& o : runs) params.push_back(o.params), tokens.push_back(o.onset_tokens);
    return fit_power_law_loglog(params, tokens);
  };
  CurveFit fit = estimate(used);
  if (law.censored == 0)
    law.censoring = "no censored runs; OLS in log-log space";
  else if (options.censoring == CensoringTreatment::drop)
    law.censoring = fmt::format("{} censored run(s) dropped; OLS in log-log space on the {} degraded", law.censored,
                                law.degraded);
  else
    law.censoring = fmt::format(
        "{} censored run(s) kept as onset > last probe in a censored log-normal likelihood (Tobit)", law.censored);

  const double dof = static_cast<double>(used.size()) - 2.0;
  const double t = student_t_quantile(0.5 + 0.5 * options.level, dof);
  law.a = std::exp(fit.theta[0]);
  law.b = fit.theta[1];
  std::copy(fit.theta_covariance.begin(), fit.theta_covariance.end(), law.covariance);
  law.se_log_a = std::sqrt(law.covariance[0]);
  law.se_b = std::sqrt(law.covariance[3]);
  law.b_low = law.b - t * law.se_b;
  law.b_high = law.b + t * law.se_b;
  law.sigma = std::sqrt(fit.residual_variance);
  for (double params : options.predict_at) {
    double u = std::log(params);
    double center = fit.theta[0] + fit.theta[1] * u;
    double variance = law.covariance[0] + 2.0 * u * law.covariance[1] + u * u * law.covariance[3] +
                      fit.residual_variance;
    double half = t * std::sqrt(variance);
    law.predictions.push_back({params, std::exp(center), std::exp(center - half), std::exp(center + half)});
  }

  std::vector<double> observed, fitted, left_out;
  for (size_t i = 0; i < used.size(); ++i) {
    if (used[i].censored) continue;
    observed.push_back(used[i].onset_tokens);
    fitted.push_back(law.a * std::pow(used[i].params, law.b));
    std::vector<OnsetObservation> rest = used;
    rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(i));
    try {
      CurveFit partial = estimate(rest);
      left_out.push_back(std::exp(partial.theta[0] + partial.theta[1] * std::log(used[i].params)));
    } catch (const std::invalid_argument&) {
      left_out.push_back(kNaN);  // too few runs left: LOO RMSE undefined
    }
  }
  law.r2 = r_squared(observed, fitted);
  law.rmse = rmse(observed, fitted);
  law.loo_rmse = rmse(observed, left_out);
  return law;
}

}  // namespace plascale::fitting
