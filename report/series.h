#pragma once
// The numbers behind the figures, as pure functions of a study's runs and fits, so that
// what each data file holds can be checked without drawing anything.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "fitting/onset_law.h"
#include "storage/trajectory.h"

namespace plascale::report {

// Probe AUC in percent, both normalisations of REFERENCES.md section 1:
// vs_first = 100 (AUC_k / AUC_0 - 1), vs_scratch = 100 (AUC_k / scratch AUC - 1), NaN
// without a scratch baseline.
struct NormalisedAuc {
  std::vector<double> tokens, vs_first, vs_scratch;
};
NormalisedAuc normalised_auc(const Probe& probe);

// One run's y over x, NaN where it was not measured.
struct Series {
  std::vector<double> x, y;
};

// Across seeds: at every x any run has a finite y, the mean, min and max of those ys and
// how many runs contributed.
struct SeedBand {
  std::vector<double> x, mean, low, high;
  std::vector<int> runs;
};
SeedBand seed_band(std::span<const Series> series);

// A trajectory metric as one series per run: entry `column` of each point, or the mean of
// the point's finite entries when column is nullopt. Empty when the run lacks the metric.
Series metric_series(const Trajectory& trajectory, const std::string& metric, std::optional<size_t> column);

// One coloured cell of a layer-by-tokens heatmap: tokens [x_low, x_high), layer `layer`.
struct HeatCell {
  double x_low = 0.0, x_high = 0.0;
  int layer = 0;
  double value = 0.0;
};
// Cells of a per-layer metric (e.g. dormant_fraction) at every point where it was measured;
// a cell spans half-way to its neighbouring measurements.
std::vector<HeatCell> layer_heatmap(const Trajectory& trajectory, const std::string& metric);

// The fitted onset law a P^b over `params` with its confidence band (the mean's interval at
// `level`, from the covariance of (log a, b) and t on used - 2 degrees of freedom).
struct LawCurve {
  std::vector<double> params, tokens, low, high;
};
LawCurve law_curve(const fitting::OnsetLaw& law, std::span<const double> params, double level);

// `count` points spaced evenly in log between low and high (both > 0).
std::vector<double> log_grid(double low, double high, int count);

// Mean of the finite entries of the metric at the last point that has one, with that
// point's tokens: a run's final loss for the loss-law figure (as fitting uses it).
std::optional<std::pair<double, double>> final_value(const Trajectory& trajectory, const std::string& metric);

}  // namespace plascale::report
