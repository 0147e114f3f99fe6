#include "fitting/summary.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "fitting/statistics.h"
#include "sweeps/format.h"

namespace plascale::fitting {

const ParameterEstimate& FitSummary::param(std::string_view name) const {
  for (const ParameterEstimate& estimate : params)
    if (estimate.name == name) return estimate;
  throw std::out_of_range(fmt::format("fit has no parameter named '{}'", name));
}

ParameterEstimate bootstrap_estimate(std::string name, double value, const std::vector<double>& replicates,
                                     double level) {
  double mean = 0.0, squares = 0.0;
  for (double replicate : replicates) mean += replicate;
  mean /= static_cast<double>(replicates.size());
  for (double replicate : replicates) squares += (replicate - mean) * (replicate - mean);
  double tail = 0.5 * (1.0 - level);
  return {std::move(name), value, std::sqrt(squares / static_cast<double>(replicates.size() - 1)),
          quantile(replicates, tail), quantile(replicates, 1.0 - tail)};
}

ParameterEstimate t_estimate(std::string name, double theta, double se_theta, bool log_parametrised,
                             double t) {
  double low = theta - t * se_theta, high = theta + t * se_theta;
  if (!log_parametrised) return {std::move(name), theta, se_theta, low, high};
  double value = std::exp(theta);
  return {std::move(name), value, value * se_theta, std::exp(low), std::exp(high)};
}

std::string json_number(double value) {
  if (!std::isfinite(value)) return "null";
  return fmt::format("{}", value);  // shortest text that reads back to the same double
}

std::string to_json(const FitSummary& summary) {
  std::string out = "{";
  out += fmt::format("\"model\": {}, \"method\": {}, \"interval_method\": {}, \"level\": {}, ",
                     double_quoted(summary.model), double_quoted(summary.method),
                     double_quoted(summary.interval_method), json_number(summary.level));
  out += fmt::format("\"bootstrap_replicates\": {}, \"params\": {{", summary.bootstrap_replicates);
  for (size_t i = 0; i < summary.params.size(); ++i) {
    const ParameterEstimate& p = summary.params[i];
    out += fmt::format("{}{}: {{\"value\": {}, \"se\": {}, \"ci_low\": {}, \"ci_high\": {}}}",
                       i ? ", " : "", double_quoted(p.name), json_number(p.value), json_number(p.se),
                       json_number(p.ci_low), json_number(p.ci_high));
  }
  out += fmt::format("}}, \"objective\": {}, \"r2\": {}, \"r2_log\": {}, \"rmse\": {}, ",
                     json_number(summary.objective), json_number(summary.r2),
                     json_number(summary.r2_log), json_number(summary.rmse));
  out += fmt::format("\"loo_rmse\": {}, \"n_points\": {}, \"predictions\": [",
                     json_number(summary.loo_rmse), summary.n_points);
  for (size_t i = 0; i < summary.predictions.size(); ++i) {
    const Prediction& p = summary.predictions[i];
    out += fmt::format("{}{{\"x\": {}, \"y\": {}, \"lo\": {}, \"hi\": {}}}", i ? ", " : "",
                       json_number(p.x), json_number(p.y), json_number(p.lo), json_number(p.hi));
  }
  return out + "]}";
}

std::string to_table(const FitSummary& summary) {
  int percent = static_cast<int>(std::lround(summary.level * 100));
  std::string out = fmt::format("{} fit by {} ({} points; intervals: {}{})\n", summary.model,
                                summary.method, summary.n_points, summary.interval_method,
                                summary.bootstrap_replicates
                                    ? fmt::format(", {} replicates", summary.bootstrap_replicates)
                                    : "");
  out += fmt::format("  {:<8} {:>14} {:>12} {:>14} {:>14}\n", "param", "value", "se",
                     fmt::format("{}% low", percent), fmt::format("{}% high", percent));
  for (const ParameterEstimate& p : summary.params)
    out += fmt::format("  {:<8} {:>14.6g} {:>12.4g} {:>14.6g} {:>14.6g}\n", p.name, p.value, p.se,
                       p.ci_low, p.ci_high);
  out += fmt::format("  objective {:.6g}  R2 {:.4f}  R2(log) {:.4f}  RMSE {:.4g}  LOO-RMSE {:.4g}\n",
                     summary.objective, summary.r2, summary.r2_log, summary.rmse, summary.loo_rmse);
  bool unidentified = std::any_of(summary.params.begin(), summary.params.end(),
                                  [](const ParameterEstimate& p) { return std::isnan(p.se); });
  if (unidentified)
    out += "  se nan: these data do not identify every parameter (rank-deficient Jacobian); "
           "try --bootstrap or a model with fewer parameters\n";
  if (!summary.predictions.empty())
    out += fmt::format("  {:>14} {:>14} {:>14} {:>14}\n", "x", "predicted",
                       fmt::format("{}% low", percent), fmt::format("{}% high", percent));
  for (const Prediction& p : summary.predictions)
    out += fmt::format("  {:>14.6g} {:>14.6g} {:>14.6g} {:>14.6g}\n", p.x, p.y, p.lo, p.hi);
  return out;
}

}  // namespace plascale::fitting
