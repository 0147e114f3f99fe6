#pragma once
// Small statistics toolbox shared by the fits: quantiles, distribution quantiles,
// goodness of fit, and the deterministic random stream the bootstraps draw from.

#include <cstdint>
#include <span>
#include <vector>

namespace plascale::fitting {

// Linear-interpolation quantile (type 7, as numpy's default) of unsorted values; q in [0, 1].
double quantile(std::vector<double> values, double q);

// Quantiles of the standard normal and of Student's t with `dof` degrees of freedom.
double normal_quantile(double p);
double student_t_quantile(double p, double dof);

// Coefficient of determination 1 - SS_res / SS_tot of `predicted` against `observed`.
double r_squared(std::span<const double> observed, std::span<const double> predicted);
// Same on log(observed) vs log(predicted); NaN when any value is not positive.
double r_squared_log(std::span<const double> observed, std::span<const double> predicted);
double rmse(std::span<const double> observed, std::span<const double> predicted);

// Counter-based random stream (SplitMix64): replicate r of seed s is the same on every
// machine and thread count, so parallel bootstraps reproduce exactly.
class RandomStream {
 public:
  RandomStream(uint64_t seed, uint64_t stream);
  uint64_t next();
  size_t below(size_t bound);  // uniform in [0, bound)
 private:
  uint64_t state_;
};

// Indices of one bootstrap resample of `count` items: replicate `replicate` under `seed`.
std::vector<size_t> resample_indices(size_t count, uint64_t seed, uint64_t replicate);

}  // namespace plascale::fitting
