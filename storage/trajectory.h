#pragma once
// What a run records: trajectory rows (one per measurement point) and probe results,
// as written by RunFileWriter and read back by StudyReader. Layout: docs/storage.md.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace plascale {

// A per-layer or per-source metric at one point, e.g. dormant_fraction[layer] or
// val_loss[source]. `columns` names the entries (source names); leave it empty when the
// position is the label (layer index).
struct VectorMetric {
  std::vector<double> values;
  std::vector<std::string> columns;
};

// A per-layer, per-head metric at one point, e.g. attn_entropy; values are row-major.
struct MatrixMetric {
  int64_t rows = 0;  // layers
  int64_t cols = 0;  // heads
  std::vector<double> values;
};

// One measurement point. The first row fixes the metrics and their shapes; later rows may
// add metrics (earlier points read as NaN) or leave some out (NaN at this point), but a
// metric's shape and column names never change.
struct TrajectoryRow {
  int64_t step = 0;    // optimizer steps taken
  int64_t tokens = 0;  // training tokens seen; must not decrease along a run
  std::map<std::string, double> scalars;         // train_loss, lr, grad_norm, ...
  std::map<std::string, VectorMetric> vectors;   // dormant_fraction, val_loss by source, ...
  std::map<std::string, MatrixMetric> matrices;  // attn_entropy, ...
};

// A metric read back: shape[0] is the number of points, values are row-major doubles.
struct MetricSeries {
  std::vector<size_t> shape;
  std::vector<double> values;
  std::vector<std::string> columns;  // the `columns` attribute naming axis 1, if any

  // Entries per point (1 for a scalar metric, layers for a vector, layers*heads for a matrix).
  size_t row_size() const;
  // The value at `point`, entry `index` within that point's row.
  double at(size_t point, size_t index = 0) const { return values[point * row_size() + index]; }
};

struct Trajectory {
  std::vector<int64_t> step;
  std::vector<int64_t> tokens;
  std::map<std::string, MetricSeries> metrics;  // every metric except step and tokens

  size_t points() const { return tokens.size(); }
};

// Probe results: entry i is the probe taken after tokens[i] training tokens.
struct Probe {
  std::vector<int64_t> tokens;       // [probes]
  std::vector<double> auc;           // [probes] area under the probe's validation-loss curve
  std::vector<double> curves;        // [probes x evals], row-major probe validation losses
  std::vector<int64_t> curve_steps;  // [evals] probe optimizer step of each evaluation
  double scratch_auc = 0;            // the same probe from a fresh initialisation,
  std::vector<double> scratch_curve; //   if has_scratch_baseline
  bool has_scratch_baseline = false;

  size_t probes() const { return tokens.size(); }
};

}  // namespace plascale
