#include "fitting/chinchilla.h"

#include <ceres/ceres.h>
#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "fitting/csv.h"
#include "fitting/least_squares.h"
#include "fitting/parallel.h"
#include "fitting/statistics.h"

namespace plascale::fitting {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Parameter block order: a, b, e, alpha, beta.
using Theta = std::array<double, 5>;

Theta to_theta(const ChinchillaFit& fit) { return {fit.a, fit.b, fit.e, fit.alpha, fit.beta}; }

// One point's log-space residual with its analytic Jacobian (softmax weights of the LSE terms):
// the least-squares form of the objective, used for ceres::Covariance.
class LogLossResidual : public ceres::SizedCostFunction<1, 5> {
 public:
  LogLossResidual(const ChinchillaPoint& point)
      : log_params_(std::log(point.params)), log_tokens_(std::log(point.tokens)), log_loss_(std::log(point.loss)) {}

  bool Evaluate(double const* const* parameters, double* residuals, double** jacobians) const override {
    const double* t = parameters[0];
    double terms[3] = {t[0] - t[3] * log_params_, t[1] - t[4] * log_tokens_, t[2]};
    double largest = std::max({terms[0], terms[1], terms[2]});
    double weights[3], total = 0.0;
    for (int k = 0; k < 3; ++k) total += weights[k] = std::exp(terms[k] - largest);
    residuals[0] = largest + std::log(total) - log_loss_;
    if (jacobians && jacobians[0]) {
      double* j = jacobians[0];
      for (int k = 0; k < 3; ++k) j[k] = weights[k] / total;
      j[3] = -j[0] * log_params_;
      j[4] = -j[1] * log_tokens_;
    }
    return std::isfinite(residuals[0]);
  }

 private:
  double log_params_, log_tokens_, log_loss_;
};

void build_problem(ceres::Problem& problem, std::span<const ChinchillaPoint> points, double delta,
                   double* theta) {
  for (const ChinchillaPoint& point : points)
    problem.AddResidualBlock(new LogLossResidual(point), make_loss({RobustLoss::huber, delta}), theta);
}

// The whole objective sum_i Huber_delta(r_i) with its analytic gradient, for Ceres' line-search
// L-BFGS: Epoch's optimiser, and about 7x cheaper here than trust-region LM with one residual
// block per point (measured: 3.1 s vs 21.8 s for the 4,500-start grid on one core).
class HuberObjective : public ceres::FirstOrderFunction {
 public:
  HuberObjective(std::span<const ChinchillaPoint> points, double delta) : delta_(delta) {
    for (const ChinchillaPoint& point : points) {
      log_params_.push_back(std::log(point.params));
      log_tokens_.push_back(std::log(point.tokens));
      log_loss_.push_back(std::log(point.loss));
    }
  }
  int NumParameters() const override { return 5; }
  bool Evaluate(const double* t, double* cost, double* gradient) const override {
    double total = 0.0, g[5] = {0, 0, 0, 0, 0};
    const double floor_term = std::exp(t[2]);  // E, the same for every point
    for (size_t i = 0; i < log_loss_.size(); ++i) {
      // Two exponentials and a logarithm per point dominate the fit's time; the log-sum-exp
      // is rescaled by its largest term only when a line-search trial over- or underflows.
      double terms[2] = {t[0] - t[3] * log_params_[i], t[1] - t[4] * log_tokens_[i]};
      double w0 = std::exp(terms[0]), w1 = std::exp(terms[1]), w2 = floor_term;
      double sum = w0 + w1 + w2;
      double log_sum;
      if (std::isfinite(sum) && sum > 0.0) {
        log_sum = std::log(sum);
      } else {
        double largest = std::max({terms[0], terms[1], t[2]});
        w0 = std::exp(terms[0] - largest), w1 = std::exp(terms[1] - largest), w2 = std::exp(t[2] - largest);
        sum = w0 + w1 + w2;
        log_sum = largest + std::log(sum);
      }
      double residual = log_sum - log_loss_[i];
      bool inside = std::abs(residual) <= delta_;
      total += inside ? 0.5 * residual * residual : delta_ * (std::abs(residual) - 0.5 * delta_);
      double slope = (inside ? residual : std::copysign(delta_, residual)) / sum;  // Huber' / sum
      g[0] += slope * w0;
      g[1] += slope * w1;
      g[2] += slope * w2;
      g[3] -= slope * w0 * log_params_[i];
      g[4] -= slope * w1 * log_tokens_[i];
    }
    *cost = total;
    if (gradient) std::copy(g, g + 5, gradient);
    return std::isfinite(total);
  }

 private:
  double delta_;
  std::vector<double> log_params_, log_tokens_, log_loss_;
};

ChinchillaFit solve(std::span<const ChinchillaPoint> points, Theta theta, const ChinchillaOptions& options) {
  ceres::GradientProblem problem(new HuberObjective(points, options.huber_delta));
  ceres::GradientProblemSolver::Options solver;
  solver.line_search_direction_type = ceres::LBFGS;
  solver.max_num_iterations = options.max_iterations;
  solver.function_tolerance = options.function_tolerance;
  solver.gradient_tolerance = options.gradient_tolerance;
  solver.parameter_tolerance = 1e-12;
  solver.logging_type = ceres::SILENT;
  ceres::GradientProblemSolver::Summary summary;
  ceres::Solve(solver, problem, theta.data(), &summary);
  ChinchillaFit fit{theta[0], theta[1], theta[2], theta[3], theta[4]};
  fit.objective = summary.IsSolutionUsable() && std::isfinite(summary.final_cost)
                      ? summary.final_cost
                      : std::numeric_limits<double>::infinity();
  return fit;
}

void check_points(std::span<const ChinchillaPoint> points) {
  for (size_t i = 0; i < points.size(); ++i)
    if (!(points[i].params > 0 && points[i].tokens > 0 && points[i].loss > 0))
      throw std::invalid_argument(fmt::format(
          "chinchilla fit: point {} has N = {}, D = {}, L = {}; all must be positive", i,
          points[i].params, points[i].tokens, points[i].loss));
  if (points.size() < 6)
    throw std::invalid_argument(
        fmt::format("chinchilla fit needs at least 6 points for 5 parameters, got {}", points.size()));
}

}  // namespace

double ChinchillaFit::predict(double params, double tokens) const {
  return std::exp(e) + std::exp(a - alpha * std::log(params)) + std::exp(b - beta * std::log(tokens));
}

double chinchilla_objective(std::span<const ChinchillaPoint> points, const ChinchillaFit& fit,
                            double huber_delta) {
  double objective = 0.0;
  for (const ChinchillaPoint& point : points) {
    double residual = std::abs(std::log(fit.predict(point.params, point.tokens) / point.loss));
    objective += residual <= huber_delta ? 0.5 * residual * residual : huber_delta * (residual - 0.5 * huber_delta);
  }
  return objective;
}

ChinchillaFit fit_chinchilla(std::span<const ChinchillaPoint> points, const ChinchillaOptions& options) {
  check_points(points);
  quiet_ceres_logging();
  std::vector<Theta> starts;
  const ChinchillaGrid& grid = options.grid;
  for (double alpha : grid.alpha)
    for (double beta : grid.beta)
      for (double e : grid.e)
        for (double a : grid.a)
          for (double b : grid.b) starts.push_back({a, b, e, alpha, beta});
  if (starts.empty()) throw std::invalid_argument("chinchilla fit: the start grid is empty");
  std::vector<ChinchillaFit> fits(starts.size());
  parallel_for(static_cast<int>(starts.size()), options.threads,
               [&](int s) { fits[s] = solve(points, starts[s], options); });
  size_t best = 0;
  for (size_t s = 1; s < fits.size(); ++s)
    if (fits[s].objective < fits[best].objective) best = s;
  if (!std::isfinite(fits[best].objective))
    throw std::runtime_error("chinchilla fit failed from every grid start");
  fits[best].best_start = static_cast<int>(best);
  return fits[best];
}

ChinchillaFit refit_chinchilla(std::span<const ChinchillaPoint> points, const ChinchillaFit& start,
                               const ChinchillaOptions& options) {
  return solve(points, to_theta(start), options);
}

FitSummary analyse_chinchilla(std::span<const ChinchillaPoint> points, const ChinchillaOptions& options) {
  ChinchillaFit fit = fit_chinchilla(points, options);
  const size_t n = points.size();
  const double tail = 0.5 * (1.0 - options.level);
  const char* names[5] = {"A", "B", "E", "alpha", "beta"};
  const bool logs[5] = {true, true, true, false, false};
  // Report order A, B, E, alpha, beta = theta order a, b, e, alpha, beta.
  Theta theta = to_theta(fit);

  FitSummary summary;
  summary.model = "chinchilla";
  summary.method = "huber_lbfgs";  // Huber objective in log space, Ceres L-BFGS from the grid
  summary.level = options.level;
  summary.objective = fit.objective;
  summary.n_points = static_cast<int>(n);
  std::vector<double> observed(n), fitted(n);
  for (size_t i = 0; i < n; ++i) {
    observed[i] = points[i].loss;
    fitted[i] = fit.predict(points[i].params, points[i].tokens);
  }
  summary.r2 = r_squared(observed, fitted);
  summary.r2_log = r_squared_log(observed, fitted);
  summary.rmse = rmse(observed, fitted);
  summary.loo_rmse = kNaN;
  if (options.leave_one_out) {
    std::vector<double> loo(n);
    parallel_for(static_cast<int>(n), options.threads, [&](int left_out) {
      std::vector<ChinchillaPoint> kept(points.begin(), points.end());
      kept.erase(kept.begin() + left_out);
      loo[left_out] = refit_chinchilla(kept, fit, options).predict(points[left_out].params, points[left_out].tokens);
    });
    summary.loo_rmse = rmse(observed, loo);
  }

  if (options.bootstrap > 0) {
    summary.interval_method = "bootstrap_percentile";
    std::vector<ChinchillaFit> replicates(options.bootstrap);
    parallel_for(options.bootstrap, options.threads, [&](int r) {
      std::vector<ChinchillaPoint> sample;
      for (size_t i : resample_indices(n, options.seed, static_cast<uint64_t>(r))) sample.push_back(points[i]);
      replicates[r] = refit_chinchilla(sample, fit, options);
    });
    std::vector<Theta> usable;
    for (const ChinchillaFit& replicate : replicates)
      if (std::isfinite(replicate.objective)) usable.push_back(to_theta(replicate));
    summary.bootstrap_replicates = static_cast<int>(usable.size());
    for (int p = 0; p < 5; ++p) {
      std::vector<double> values;
      for (const Theta& replicate : usable) values.push_back(logs[p] ? std::exp(replicate[p]) : replicate[p]);
      summary.params.push_back(
          bootstrap_estimate(names[p], logs[p] ? std::exp(theta[p]) : theta[p], values, options.level));
    }
    return summary;
  }

  summary.interval_method = "t";
  ceres::Problem problem;
  build_problem(problem, points, options.huber_delta, theta.data());
  std::vector<double> covariance = parameter_covariance(problem, theta.data(), 5);
  double sum_squares = 0.0;
  for (size_t i = 0; i < n; ++i) sum_squares += std::pow(std::log(fitted[i] / observed[i]), 2);
  const double residual_variance = sum_squares / static_cast<double>(n - 5);
  const double t = student_t_quantile(1.0 - tail, static_cast<double>(n - 5));
  for (int p = 0; p < 5; ++p) {
    double se = covariance.empty() ? kNaN : std::sqrt(covariance[p * 5 + p] * residual_variance);
    summary.params.push_back(t_estimate(names[p], theta[p], se, logs[p], t));
  }
  return summary;
}

std::vector<ChinchillaPoint> epoch_chinchilla_points(const std::string& csv_path) {
  CsvTable table = read_csv(csv_path);
  std::vector<double> params = numeric_column(table, "Model Size", Domain::positive);
  std::vector<double> flops = numeric_column(table, "Training FLOP", Domain::positive);
  std::vector<double> loss = numeric_column(table, "loss", Domain::positive);
  std::vector<ChinchillaPoint> points;
  for (size_t i = 0; i < params.size(); ++i) points.push_back({params[i], flops[i] / (6.0 * params[i]), loss[i]});
  std::stable_sort(points.begin(), points.end(), [](const auto& l, const auto& r) { return l.loss < r.loss; });
  points.resize(points.size() > 5 ? points.size() - 5 : 0);
  return points;
}

}  // namespace plascale::fitting
