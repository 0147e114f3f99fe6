#include "fitting/curve.h"

#include <ceres/ceres.h>
#include <fmt/core.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <memory>
#include <stdexcept>

#include "fitting/least_squares.h"
#include "fitting/parallel.h"

namespace plascale::fitting {

Curve parse_curve(const std::string& name) {
  if (name == "power_law") return {CurveModel::power_law, 0};
  if (name == "saturating_power_law") return {CurveModel::saturating_power_law, 0};
  if (name == "broken_power_law") return {CurveModel::broken_power_law, 1};
  const std::string prefix = "broken_power_law:";
  if (name.rfind(prefix, 0) == 0) {
    std::string count = name.substr(prefix.size());
    bool digits = std::all_of(count.begin(), count.end(), [](unsigned char c) { return std::isdigit(c); });
    if (!count.empty() && count.size() < 3 && digits && std::stoi(count) >= 1)
      return {CurveModel::broken_power_law, std::stoi(count)};
  }
  throw std::invalid_argument(fmt::format(
      "unknown model '{}': allowed are power_law, saturating_power_law, broken_power_law, "
      "broken_power_law:K (K breaks, K >= 1) and chinchilla",
      name));
}

std::string curve_name(const Curve& curve) {
  switch (curve.model) {
    case CurveModel::power_law: return "power_law";
    case CurveModel::saturating_power_law: return "saturating_power_law";
    case CurveModel::broken_power_law:
      return curve.breaks == 1 ? "broken_power_law" : fmt::format("broken_power_law:{}", curve.breaks);
  }
  return "";
}

int curve_parameter_count(const Curve& curve) {
  switch (curve.model) {
    case CurveModel::power_law: return 2;
    case CurveModel::saturating_power_law: return 3;
    case CurveModel::broken_power_law: return 3 + 3 * curve.breaks;
  }
  return 0;
}

std::vector<std::string> curve_parameter_names(const Curve& curve) {
  switch (curve.model) {
    case CurveModel::power_law: return {"a", "b"};
    case CurveModel::saturating_power_law: return {"E", "A", "alpha"};
    case CurveModel::broken_power_law: {
      std::vector<std::string> names = {"a", "b", "c0"};
      for (int i = 1; i <= curve.breaks; ++i)
        for (const char* stem : {"d", "c", "f"}) names.push_back(fmt::format("{}{}", stem, i));
      return names;
    }
  }
  return {};
}

std::vector<bool> curve_log_parameters(const Curve& curve) {
  switch (curve.model) {
    case CurveModel::power_law: return {true, false};
    case CurveModel::saturating_power_law: return {true, true, false};
    case CurveModel::broken_power_law: {
      std::vector<bool> logs = {false, true, false};
      for (int i = 0; i < curve.breaks; ++i) logs.insert(logs.end(), {true, false, true});
      return logs;
    }
  }
  return {};
}

std::vector<double> natural_parameters(const Curve& curve, std::span<const double> theta) {
  std::vector<bool> logs = curve_log_parameters(curve);
  std::vector<double> natural(theta.begin(), theta.end());
  for (size_t i = 0; i < natural.size(); ++i)
    if (logs[i]) natural[i] = std::exp(natural[i]);
  return natural;
}

namespace {

double log_log_slope(std::span<const double> x, std::span<const double> y, double* intercept) {
  double mean_u = 0, mean_v = 0;
  size_t count = 0;
  for (size_t i = 0; i < x.size(); ++i)
    if (y[i] > 0) mean_u += std::log(x[i]), mean_v += std::log(y[i]), ++count;
  if (count < 2) return *intercept = 0.0;
  mean_u /= count, mean_v /= count;
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < x.size(); ++i)
    if (y[i] > 0) {
      double du = std::log(x[i]) - mean_u;
      sxy += du * (std::log(y[i]) - mean_v), sxx += du * du;
    }
  double slope = sxx > 0 ? sxy / sxx : 0.0;
  *intercept = mean_v - slope * mean_u;
  return slope;
}

struct CurveResidual {
  const Curve* curve;
  double x, y;
  bool log_space;
  template <typename T>
  bool operator()(T const* const* parameters, T* residual) const {
    T value = curve_value(*curve, parameters[0], x);
    if (log_space) {
      if (!(value > T(0.0))) return false;  // outside the model's domain: Ceres shrinks the step
      using std::log;
      residual[0] = log(value) - T(std::log(y));
    } else {
      residual[0] = value - T(y);
    }
    return true;
  }
};

void build_problem(ceres::Problem& problem, const Curve& curve, std::span<const double> x,
                   std::span<const double> y, const CurveFitOptions& options, double* theta) {
  const int parameters = curve_parameter_count(curve);
  for (size_t i = 0; i < x.size(); ++i) {
    auto* functor = new CurveResidual{&curve, x[i], y[i], options.space == ResidualSpace::log};
    auto* cost = new ceres::DynamicAutoDiffCostFunction<CurveResidual, 8>(functor);
    cost->AddParameterBlock(parameters);
    cost->SetNumResiduals(1);
    problem.AddResidualBlock(cost, make_loss(options.loss), theta);
  }
  for (int i = 0; i < parameters; ++i) {
    if (i < static_cast<int>(options.lower.size()) && !std::isnan(options.lower[i]))
      problem.SetParameterLowerBound(theta, i, options.lower[i]);
    if (i < static_cast<int>(options.upper.size()) && !std::isnan(options.upper[i]))
      problem.SetParameterUpperBound(theta, i, options.upper[i]);
  }
}

}  // namespace

std::vector<std::vector<double>> default_curve_starts(const Curve& curve, std::span<const double> x,
                                                      std::span<const double> y) {
  double intercept = 0.0;
  double slope = log_log_slope(x, y, &intercept);
  double y_min = *std::min_element(y.begin(), y.end());
  double x_min = *std::min_element(x.begin(), x.end());
  double x_max = *std::max_element(x.begin(), x.end());
  std::vector<std::vector<double>> starts;
  switch (curve.model) {
    case CurveModel::power_law:
      starts.push_back({intercept, slope});
      break;
    case CurveModel::saturating_power_law:
      for (double floor_fraction : {0.1, 0.5, 0.9})
        for (double alpha : {0.1, 0.3, 0.6, 1.0}) {
          double floor = std::max(y_min * floor_fraction, 1e-12);
          // Put the curve through the smallest-x point: A = (y(x_min) - E) x_min^alpha.
          double excess = std::max(y_min * (1.0 - floor_fraction), 1e-12);
          starts.push_back({std::log(floor), std::log(excess) + alpha * std::log(x_min), alpha});
        }
      break;
    case CurveModel::broken_power_law:
      for (double position : {0.25, 0.5, 0.75})
        for (double change : {-0.5, 0.5}) {
          std::vector<double> theta = {0.0, intercept, -slope};
          for (int i = 0; i < curve.breaks; ++i) {
            double fraction = (position + i) / curve.breaks;
            theta.push_back(std::log(x_min) + fraction * (std::log(x_max) - std::log(x_min)));
            theta.push_back(change);
            theta.push_back(0.0);
          }
          starts.push_back(theta);
        }
      break;
  }
  return starts;
}

CurveFit fit_curve(const Curve& curve, std::span<const double> x, std::span<const double> y,
                   const CurveFitOptions& options) {
  const int parameters = curve_parameter_count(curve);
  if (x.size() != y.size()) throw std::invalid_argument("fit_curve: x and y differ in length");
  quiet_ceres_logging();
  std::vector<std::vector<double>> starts =
      options.starts.empty() ? default_curve_starts(curve, x, y) : options.starts;
  std::vector<double> costs(starts.size(), std::numeric_limits<double>::infinity());
  std::vector<std::vector<double>> solutions = starts;
  parallel_for(static_cast<int>(starts.size()), options.threads, [&](int s) {
    if (static_cast<int>(solutions[s].size()) != parameters)
      throw std::invalid_argument(fmt::format("fit_curve: start {} has {} values, the model needs {}",
                                              s, solutions[s].size(), parameters));
    ceres::Problem problem;
    build_problem(problem, curve, x, y, options, solutions[s].data());
    ceres::Solver::Summary summary;
    ceres::Solve(solver_options(options.max_iterations), &problem, &summary);
    if (summary.IsSolutionUsable() && std::isfinite(summary.final_cost)) costs[s] = summary.final_cost;
  });
  size_t best = std::min_element(costs.begin(), costs.end()) - costs.begin();
  if (!std::isfinite(costs[best]))
    throw std::runtime_error(fmt::format("fit of {} failed from all {} starts", curve_name(curve),
                                         starts.size()));
  CurveFit fit;
  fit.theta = solutions[best];
  fit.cost = costs[best];
  fit.best_start = static_cast<int>(best);
  double sum_squares = 0.0;
  for (size_t i = 0; i < x.size(); ++i) {
    double value = curve_value(curve, fit.theta.data(), x[i]);
    double r = options.space == ResidualSpace::log ? std::log(value / y[i]) : value - y[i];
    sum_squares += r * r;
  }
  int dof = static_cast<int>(x.size()) - parameters;
  fit.residual_variance = dof > 0 ? sum_squares / dof : std::numeric_limits<double>::quiet_NaN();
  if (options.covariance && dof > 0) {
    ceres::Problem problem;
    build_problem(problem, curve, x, y, options, fit.theta.data());
    fit.theta_covariance = parameter_covariance(problem, fit.theta.data(), parameters);
    // Ceres returns (J^T J)^-1 for unit residual variance; scale by the estimated one.
    for (double& entry : fit.theta_covariance) entry *= fit.residual_variance;
  }
  return fit;
}

}  // namespace plascale::fitting
