#include "fitting/onset.h"

#include <fmt/core.h>

#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <vector>

#include "fitting/statistics.h"

namespace plascale::fitting {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Vertex of the least-squares parabola through (x, y), if it is a minimum within [low, high].
// x is rescaled to [-1, 1] first so the 3x3 normal equations stay well conditioned.
std::optional<double> parabola_minimum(std::span<const double> x, std::span<const double> y, double low,
                                       double high) {
  double center = 0.5 * (low + high), scale = 0.5 * (high - low);
  if (!(scale > 0.0)) return std::nullopt;
  double m[3][4] = {};  // normal equations [X^T X | X^T y] for the basis 1, s, s^2
  for (size_t i = 0; i < x.size(); ++i) {
    double s = (x[i] - center) / scale;
    double basis[3] = {1.0, s, s * s};
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) m[r][c] += basis[r] * basis[c];
      m[r][3] += basis[r] * y[i];
    }
  }
  for (int pivot = 0; pivot < 3; ++pivot) {  // Gaussian elimination with partial pivoting
    int best = pivot;
    for (int r = pivot + 1; r < 3; ++r)
      if (std::abs(m[r][pivot]) > std::abs(m[best][pivot])) best = r;
    if (std::abs(m[best][pivot]) < 1e-12 * static_cast<double>(x.size())) return std::nullopt;
    for (int c = 0; c < 4; ++c) std::swap(m[pivot][c], m[best][c]);
    for (int r = 0; r < 3; ++r) {
      if (r == pivot) continue;
      double factor = m[r][pivot] / m[pivot][pivot];
      for (int c = pivot; c < 4; ++c) m[r][c] -= factor * m[pivot][c];
    }
  }
  double linear = m[1][3] / m[1][1], quadratic = m[2][3] / m[2][2];
  if (!(quadratic > 0.0)) return std::nullopt;
  double vertex = center + scale * (-linear / (2.0 * quadratic));
  if (!(vertex >= low && vertex <= high)) return std::nullopt;
  return vertex;
}

}  // namespace

const char* onset_status_name(OnsetStatus status) {
  switch (status) {
    case OnsetStatus::degraded: return "degraded";
    case OnsetStatus::censored: return "censored";
    case OnsetStatus::too_few_probes: return "too_few_probes";
  }
  return "";
}

Onset find_onset(std::span<const double> tokens, std::span<const double> auc, const OnsetOptions& options) {
  if (tokens.size() != auc.size())
    throw std::invalid_argument(fmt::format("find_onset: {} token counts but {} AUC values", tokens.size(), auc.size()));
  const size_t n = tokens.size();
  Onset onset;
  onset.tokens = onset.smooth_tokens = onset.smooth_low = onset.smooth_high = kNaN;
  onset.last_probe_tokens = n ? tokens[n - 1] : kNaN;
  if (n < 3) return onset;
  size_t best = 1;
  double best_average = kNaN;
  for (size_t k = 1; k + 1 < n; ++k) {
    double average = (auc[k - 1] + auc[k] + auc[k + 1]) / 3.0;
    if (k == 1 || average < best_average) best = k, best_average = average;  // first minimum wins ties
  }
  if (best == n - 2) {
    onset.status = OnsetStatus::censored;
    return onset;
  }
  onset.status = OnsetStatus::degraded;
  onset.probe_index = static_cast<int>(best);
  onset.tokens = tokens[best];

  size_t first = best > static_cast<size_t>(options.smooth_half_width) ? best - options.smooth_half_width : 0;
  size_t last = std::min(n - 1, best + options.smooth_half_width);
  std::span<const double> window_tokens = tokens.subspan(first, last - first + 1);
  std::span<const double> window_auc = auc.subspan(first, last - first + 1);
  double low = window_tokens.front(), high = window_tokens.back();
  std::optional<double> vertex = parabola_minimum(window_tokens, window_auc, low, high);
  if (!vertex) return onset;
  onset.smooth_tokens = *vertex;
  std::vector<double> replicates;
  int undetermined = 0;
  for (int r = 0; r < options.bootstrap; ++r) {
    std::vector<double> sample_tokens, sample_auc;
    for (size_t i : resample_indices(window_tokens.size(), options.seed, static_cast<uint64_t>(r))) {
      sample_tokens.push_back(window_tokens[i]);
      sample_auc.push_back(window_auc[i]);
    }
    std::optional<double> replicate = parabola_minimum(sample_tokens, sample_auc, low, high);
    if (replicate)
      replicates.push_back(*replicate);
    else
      ++undetermined;
  }
  // When more resamples than the interval's tail mass have no minimum in the window, the data
  // do not locate the minimum better than the window itself: report the window.
  if (undetermined > (1.0 - options.level) * options.bootstrap || replicates.empty()) {
    onset.smooth_low = low;
    onset.smooth_high = high;
  } else {
    double tail = 0.5 * (1.0 - options.level);
    onset.smooth_low = quantile(replicates, tail);
    onset.smooth_high = quantile(replicates, 1.0 - tail);
  }
  return onset;
}

}  // namespace plascale::fitting
