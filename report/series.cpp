#include "report/series.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "fitting/statistics.h"

namespace plascale::report {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}

NormalisedAuc normalised_auc(const Probe& probe) {
  NormalisedAuc out;
  if (probe.probes() == 0) return out;
  const double first = probe.auc[0];
  const double scratch = probe.has_scratch_baseline ? probe.scratch_auc : kNaN;
  for (size_t k = 0; k < probe.probes(); ++k) {
    out.tokens.push_back(static_cast<double>(probe.tokens[k]));
    out.vs_first.push_back(100.0 * (probe.auc[k] / first - 1.0));
    out.vs_scratch.push_back(100.0 * (probe.auc[k] / scratch - 1.0));
  }
  return out;
}

SeedBand seed_band(std::span<const Series> series) {
  std::map<double, std::vector<double>> at;
  for (const Series& run : series)
    for (size_t i = 0; i < run.x.size(); ++i)
      if (std::isfinite(run.y[i])) at[run.x[i]].push_back(run.y[i]);
  SeedBand band;
  for (const auto& [x, ys] : at) {
    double sum = 0.0;
    for (double y : ys) sum += y;
    band.x.push_back(x);
    band.mean.push_back(sum / ys.size());
    band.low.push_back(*std::min_element(ys.begin(), ys.end()));
    band.high.push_back(*std::max_element(ys.begin(), ys.end()));
    band.runs.push_back(static_cast<int>(ys.size()));
  }
  return band;
}

Series metric_series(const Trajectory& trajectory, const std::string& metric, std::optional<size_t> column) {
  Series out;
  auto found = trajectory.metrics.find(metric);
  if (found == trajectory.metrics.end()) return out;
  const MetricSeries& values = found->second;
  for (size_t point = 0; point < trajectory.points(); ++point) {
    double y = kNaN;
    if (column) {
      if (*column < values.row_size()) y = values.at(point, *column);
    } else {
      double sum = 0.0;
      int count = 0;
      for (size_t entry = 0; entry < values.row_size(); ++entry)
        if (std::isfinite(values.at(point, entry))) sum += values.at(point, entry), ++count;
      if (count > 0) y = sum / count;
    }
    out.x.push_back(static_cast<double>(trajectory.tokens[point]));
    out.y.push_back(y);
  }
  return out;
}

std::vector<HeatCell> layer_heatmap(const Trajectory& trajectory, const std::string& metric) {
  std::vector<HeatCell> cells;
  auto found = trajectory.metrics.find(metric);
  if (found == trajectory.metrics.end()) return cells;
  const MetricSeries& values = found->second;
  std::vector<size_t> measured;
  for (size_t point = 0; point < trajectory.points(); ++point) {
    bool any = false;
    for (size_t layer = 0; layer < values.row_size(); ++layer) any = any || std::isfinite(values.at(point, layer));
    if (any) measured.push_back(point);
  }
  auto tokens = [&](size_t i) { return static_cast<double>(trajectory.tokens[measured[i]]); };
  for (size_t i = 0; i < measured.size(); ++i) {
    // Half-way to each neighbour; the ends mirror their single neighbour's gap (1 token if alone).
    const double before = i > 0 ? tokens(i) - tokens(i - 1) : (measured.size() > 1 ? tokens(1) - tokens(0) : 1.0);
    const double after =
        i + 1 < measured.size() ? tokens(i + 1) - tokens(i) : (measured.size() > 1 ? before : 1.0);
    for (size_t layer = 0; layer < values.row_size(); ++layer)
      cells.push_back({tokens(i) - before / 2, tokens(i) + after / 2, static_cast<int>(layer),
                       values.at(measured[i], layer)});
  }
  return cells;
}

LawCurve law_curve(const fitting::OnsetLaw& law, std::span<const double> params, double level) {
  LawCurve curve;
  const double t = fitting::student_t_quantile(0.5 + level / 2, std::max(1, law.used - 2));
  for (double p : params) {
    const double x = std::log(p);
    const double centre = std::log(law.a) + law.b * x;
    const double variance = law.covariance[0] + 2 * x * law.covariance[1] + x * x * law.covariance[3];
    const double half = t * std::sqrt(std::max(0.0, variance));
    curve.params.push_back(p);
    curve.tokens.push_back(std::exp(centre));
    curve.low.push_back(std::exp(centre - half));
    curve.high.push_back(std::exp(centre + half));
  }
  return curve;
}

std::vector<double> log_grid(double low, double high, int count) {
  std::vector<double> grid;
  for (int i = 0; i < count; ++i)
    grid.push_back(std::exp(std::log(low) + (std::log(high) - std::log(low)) * i / std::max(1, count - 1)));
  return grid;
}

std::optional<std::pair<double, double>> final_value(const Trajectory& trajectory, const std::string& metric) {
  const Series series = metric_series(trajectory, metric, std::nullopt);
  for (size_t i = series.y.size(); i-- > 0;)
    if (std::isfinite(series.y[i])) return std::make_pair(series.y[i], series.x[i]);
  return std::nullopt;
}

}  // namespace plascale::report
