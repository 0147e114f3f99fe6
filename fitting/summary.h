#pragma once
// What every fit reports, and its two renderings: the JSON object of `plascale fit --json`
// (docs/cli.md) and a plain-text table.

#include <string>
#include <string_view>
#include <vector>

namespace plascale::fitting {

struct ParameterEstimate {
  std::string name;
  double value = 0.0;
  double se = 0.0;       // standard error (Ceres covariance / OLS, or bootstrap SD)
  double ci_low = 0.0;   // two-sided interval at FitSummary::level
  double ci_high = 0.0;
};

struct Prediction {
  double x = 0.0;
  double y = 0.0;   // fitted curve at x
  double lo = 0.0;  // prediction interval at FitSummary::level (includes point scatter)
  double hi = 0.0;
};

struct FitSummary {
  std::string model;            // power_law, saturating_power_law, broken_power_law, chinchilla
  std::string method;           // loglog_ols or nls (curves), huber_lbfgs (chinchilla)
  std::string interval_method;  // "t" (standard errors, Student t) or "bootstrap_percentile"
  double level = 0.95;
  int bootstrap_replicates = 0;
  std::vector<ParameterEstimate> params;
  double objective = 0.0;       // minimised cost of the chosen start (method's own objective)
  double r2 = 0.0;              // in the original space of y
  double r2_log = 0.0;          // on log y vs log prediction
  double rmse = 0.0;            // original space
  double loo_rmse = 0.0;        // leave-one-out: refit without point i, predict point i
  int n_points = 0;
  std::vector<Prediction> predictions;

  const ParameterEstimate& param(std::string_view name) const;  // throws if absent
};

// A parameter from bootstrap replicates of its value: SD and percentile interval.
ParameterEstimate bootstrap_estimate(std::string name, double value, const std::vector<double>& replicates,
                                     double level);
// A parameter from its fitted coordinate `theta` with standard error `se_theta` and the
// two-sided quantile `t`; when theta is log(value) the interval is mapped through exp and
// the standard error by the delta method.
ParameterEstimate t_estimate(std::string name, double theta, double se_theta, bool log_parametrised,
                             double t);

std::string to_json(const FitSummary& summary);
std::string to_table(const FitSummary& summary);

// A JSON number, NaN/inf as null (strings: double_quoted() in sweeps/format.h).
std::string json_number(double value);

}  // namespace plascale::fitting
