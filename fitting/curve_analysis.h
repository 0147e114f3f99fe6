#pragma once
// A complete one-variable fit: estimate, uncertainty, fit quality and extrapolation,
// as `plascale fit --csv` reports it.

#include <cstdint>
#include <span>
#include <vector>

#include "fitting/curve.h"
#include "fitting/summary.h"

namespace plascale::fitting {

enum class FitMethod {
  loglog_ols,  // ordinary least squares of log y on log x (power_law only; the reference study's method)
  nls,         // Ceres nonlinear least squares in CurveFitOptions::space
};

struct CurveAnalysisOptions {
  FitMethod method = FitMethod::nls;
  CurveFitOptions nls;              // nls only
  int bootstrap = 0;                // > 0: resample points this many times; CIs become percentiles
  uint64_t seed = 0;                // bootstrap stream
  double level = 0.95;              // two-sided level of every interval
  std::vector<double> predict_at;   // x values to extrapolate to
  int threads = 0;                  // 0 = all hardware threads
};

// Power law by OLS in log-log space: theta = (log a, b), covariance s^2 (X^T X)^-1 with s^2 the
// residual variance of log y. Throws std::invalid_argument on fewer than 3 points, non-positive
// values or a single distinct x.
CurveFit fit_power_law_loglog(std::span<const double> x, std::span<const double> y);

// Without bootstrap, intervals are t intervals from the standard errors (dof = n - p), mapped
// through exp for log-parametrised values, and predictions carry t prediction intervals (delta
// method plus residual scatter, in the fitting space). With bootstrap, parameter intervals are
// percentiles of the refits (each warm-started at the full-data optimum), standard errors their
// SD, and prediction intervals percentiles of refit predictions plus a resampled residual.
FitSummary analyse_curve(const Curve& curve, std::span<const double> x, std::span<const double> y,
                         const CurveAnalysisOptions& options);

}  // namespace plascale::fitting
