#include "fitting/statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace plascale::fitting {

double quantile(std::vector<double> values, double q) {
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(values.begin(), values.end());
  double position = q * static_cast<double>(values.size() - 1);
  size_t below = static_cast<size_t>(std::floor(position));
  size_t above = std::min(below + 1, values.size() - 1);
  double fraction = position - static_cast<double>(below);
  return values[below] + fraction * (values[above] - values[below]);
}

namespace {

// Bisection on a monotone CDF: 200 halvings reach double precision from any bracket.
template <typename Cdf>
double invert_cdf(Cdf cdf, double p) {
  double low = -1.0, high = 1.0;
  while (cdf(low) > p) low *= 2.0;
  while (cdf(high) < p) high *= 2.0;
  for (int i = 0; i < 200 && high - low > 1e-15 * std::max(1.0, std::abs(low)); ++i) {
    double middle = 0.5 * (low + high);
    (cdf(middle) < p ? low : high) = middle;
  }
  return 0.5 * (low + high);
}

// Regularised incomplete beta I_x(a, b) by its continued fraction (modified Lentz).
double incomplete_beta(double x, double a, double b) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  if (x > (a + 1.0) / (a + b + 2.0)) return 1.0 - incomplete_beta(1.0 - x, b, a);
  double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) +
                     b * std::log1p(-x);
  const double tiny = 1e-300;
  double c = 1.0, d = 1.0 - (a + b) * x / (a + 1.0);
  d = 1.0 / (std::abs(d) < tiny ? tiny : d);
  double fraction = d;
  for (int m = 1; m < 500; ++m) {
    for (int half = 0; half < 2; ++half) {
      double numerator = half == 0
                             ? m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m))
                             : -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
      d = 1.0 + numerator * d;
      d = 1.0 / (std::abs(d) < tiny ? tiny : d);
      c = 1.0 + numerator / c;
      if (std::abs(c) < tiny) c = tiny;
      fraction *= c * d;
      if (half == 1 && std::abs(c * d - 1.0) < 1e-15) return std::exp(log_front) * fraction / a;
    }
  }
  return std::exp(log_front) * fraction / a;
}

}  // namespace

double normal_quantile(double p) {
  if (!(p > 0.0 && p < 1.0)) throw std::invalid_argument("normal_quantile: p must be in (0, 1)");
  return invert_cdf([](double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }, p);
}

double student_t_quantile(double p, double dof) {
  if (!(p > 0.0 && p < 1.0)) throw std::invalid_argument("student_t_quantile: p must be in (0, 1)");
  if (!(dof > 0.0)) return std::numeric_limits<double>::quiet_NaN();
  auto cdf = [dof](double t) {
    double tail = 0.5 * incomplete_beta(dof / (dof + t * t), 0.5 * dof, 0.5);
    return t < 0.0 ? tail : 1.0 - tail;
  };
  return invert_cdf(cdf, p);
}

double r_squared(std::span<const double> observed, std::span<const double> predicted) {
  double mean = 0.0;
  for (double value : observed) mean += value;
  mean /= static_cast<double>(observed.size());
  double residual = 0.0, total = 0.0;
  for (size_t i = 0; i < observed.size(); ++i) {
    residual += (observed[i] - predicted[i]) * (observed[i] - predicted[i]);
    total += (observed[i] - mean) * (observed[i] - mean);
  }
  return 1.0 - residual / total;
}

double r_squared_log(std::span<const double> observed, std::span<const double> predicted) {
  std::vector<double> log_observed, log_predicted;
  for (size_t i = 0; i < observed.size(); ++i) {
    if (!(observed[i] > 0.0 && predicted[i] > 0.0)) return std::numeric_limits<double>::quiet_NaN();
    log_observed.push_back(std::log(observed[i]));
    log_predicted.push_back(std::log(predicted[i]));
  }
  return r_squared(log_observed, log_predicted);
}

double rmse(std::span<const double> observed, std::span<const double> predicted) {
  double sum = 0.0;
  for (size_t i = 0; i < observed.size(); ++i)
    sum += (observed[i] - predicted[i]) * (observed[i] - predicted[i]);
  return std::sqrt(sum / static_cast<double>(observed.size()));
}

RandomStream::RandomStream(uint64_t seed, uint64_t stream)
    : state_(seed * 0x9E3779B97F4A7C15ull ^ (stream + 0x632BE59BD9B4E019ull) * 0xBF58476D1CE4E5B9ull) {}

uint64_t RandomStream::next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

size_t RandomStream::below(size_t bound) {
  // Multiply-shift maps 64 random bits onto [0, bound) with negligible bias for small bounds.
  return static_cast<size_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
}

std::vector<size_t> resample_indices(size_t count, uint64_t seed, uint64_t replicate) {
  RandomStream random(seed, replicate);
  std::vector<size_t> indices(count);
  for (size_t& index : indices) index = random.below(count);
  return indices;
}

}  // namespace plascale::fitting
