#pragma once
// One-variable curve models and their nonlinear least-squares fit with Ceres.
//
// Each model is fitted in a parametrisation `theta` where positive scales live in log
// space (so the optimiser cannot make them negative and steps are relative); results are
// reported in the natural parameters named by curve_parameter_names().
//
//   power_law             y = a x^b                          theta = (log a, b)
//   saturating_power_law  y = E + A x^-alpha                 theta = (log E, log A, alpha)
//   broken_power_law      y = a + b x^-c0 prod_i (1 + (x/d_i)^(1/f_i))^(-c_i f_i)
//                         (Caballero et al. 2022)            theta = (a, log b, c0,
//                                                            log d_1, c_1, log f_1, ...)

#include <ceres/jet.h>

#include <cmath>
#include <span>
#include <string>
#include <vector>

namespace plascale::fitting {

enum class CurveModel { power_law, saturating_power_law, broken_power_law };

struct Curve {
  CurveModel model = CurveModel::power_law;
  int breaks = 1;  // broken_power_law only
};

// Parses "power_law", "saturating_power_law", "broken_power_law" (one break) or
// "broken_power_law:K"; throws std::invalid_argument naming the allowed values.
Curve parse_curve(const std::string& name);
std::string curve_name(const Curve& curve);

int curve_parameter_count(const Curve& curve);
std::vector<std::string> curve_parameter_names(const Curve& curve);
// Whether theta[i] is the log of natural parameter i.
std::vector<bool> curve_log_parameters(const Curve& curve);
std::vector<double> natural_parameters(const Curve& curve, std::span<const double> theta);

// The model's value at x > 0 (T = double or a Ceres Jet).
template <typename T>
T curve_value(const Curve& curve, const T* theta, double x) {
  using std::exp;
  using std::log1p;
  const double log_x = std::log(x);
  switch (curve.model) {
    case CurveModel::power_law:
      return exp(theta[0] + theta[1] * log_x);
    case CurveModel::saturating_power_law:
      return exp(theta[0]) + exp(theta[1] - theta[2] * log_x);
    case CurveModel::broken_power_law: {
      T log_term = theta[1] - theta[2] * log_x;
      for (int i = 0; i < curve.breaks; ++i) {
        const T* brk = theta + 3 + 3 * i;
        T f = exp(brk[2]);
        T z = (log_x - brk[0]) / f;
        // log(1 + e^z), evaluated without overflow for large z.
        T softplus = z > T(0.0) ? z + log1p(exp(-z)) : log1p(exp(z));
        log_term -= brk[1] * f * softplus;
      }
      return theta[0] + exp(log_term);
    }
  }
  return T(0.0);
}

enum class ResidualSpace { linear, log };  // residual y - f(x), or log y - log f(x)

struct RobustLoss {
  enum Kind { squared, huber, cauchy };
  Kind kind = squared;
  double scale = 1.0;  // Huber delta / Cauchy scale, in residual units
};

struct CurveFitOptions {
  ResidualSpace space = ResidualSpace::linear;
  RobustLoss loss;
  std::vector<std::vector<double>> starts;  // theta starting points; empty = default_curve_starts
  std::vector<double> lower, upper;         // bounds on theta; empty or NaN entry = unbounded
  int threads = 0;                          // starts solved in parallel; 0 = all hardware threads
  int max_iterations = 500;
  bool covariance = true;                   // compute theta_covariance with ceres::Covariance
};

struct CurveFit {
  std::vector<double> theta;
  // Covariance of theta, row-major p x p, scaled by the residual variance in the fitting
  // space (sum r^2 / (n - p)); empty when not requested or rank deficient.
  std::vector<double> theta_covariance;
  double cost = 0.0;        // Ceres cost at the optimum: 1/2 sum rho(r_i^2)
  double residual_variance = 0.0;
  int best_start = -1;      // index into the starts tried
};

// A grid of plausible starts built from the data (log-log slope, range of y and x).
std::vector<std::vector<double>> default_curve_starts(const Curve& curve, std::span<const double> x,
                                                      std::span<const double> y);

// Multi-start Ceres Levenberg-Marquardt fit; the lowest final cost wins (ties: first start).
// x must be positive; in log space y must be positive too.
CurveFit fit_curve(const Curve& curve, std::span<const double> x, std::span<const double> y,
                   const CurveFitOptions& options);

}  // namespace plascale::fitting
