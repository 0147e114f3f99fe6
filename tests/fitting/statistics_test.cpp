#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "fitting/parallel.h"
#include "fitting/statistics.h"

namespace plascale::fitting {
namespace {

TEST(Statistics, QuantileInterpolatesLikeNumpy) {
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2}, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(quantile({4, 1, 3, 2}, 1.0), 4.0);
  EXPECT_DOUBLE_EQ(quantile({10, 20}, 0.25), 12.5);
}

TEST(Statistics, DistributionQuantilesMatchScipy) {
  // scipy.stats.t.ppf / norm.ppf
  EXPECT_NEAR(student_t_quantile(0.975, 10), 2.2281388519649385, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.975, 1), 12.706204736432095, 1e-8);
  EXPECT_NEAR(student_t_quantile(0.995, 3.5), 5.085702223526865, 1e-8);
  // dof = 4 has a closed form (scipy 1.10's ppf is off by 5e-9 here; its cdf agrees with this).
  EXPECT_NEAR(student_t_quantile(0.05, 4), -2.131846786326651, 1e-12);
  EXPECT_NEAR(normal_quantile(0.975), 1.959963984540054, 1e-12);
  EXPECT_THROW(normal_quantile(1.0), std::invalid_argument);
}

TEST(Statistics, GoodnessOfFit) {
  std::vector<double> observed = {1, 2, 3, 4}, predicted = {1, 2, 3, 5};
  EXPECT_DOUBLE_EQ(r_squared(observed, predicted), 1.0 - 1.0 / 5.0);
  EXPECT_DOUBLE_EQ(rmse(observed, predicted), 0.5);
  EXPECT_TRUE(std::isnan(r_squared_log(observed, std::vector<double>{1, 2, 3, -1})));
}

TEST(Statistics, ResamplesAreReproducibleAndUniform) {
  EXPECT_EQ(resample_indices(50, 9, 3), resample_indices(50, 9, 3));
  EXPECT_NE(resample_indices(50, 9, 3), resample_indices(50, 9, 4));
  EXPECT_NE(resample_indices(50, 9, 3), resample_indices(50, 10, 3));
  std::vector<int> counts(10);
  for (size_t index : resample_indices(100000, 1, 0)) ++counts[index % 10];
  for (int count : counts) EXPECT_NEAR(count, 10000, 500);
}

TEST(Parallel, RunsEveryIndexOnceAndRethrows) {
  std::vector<std::atomic<int>> hits(1000);
  parallel_for(1000, 4, [&](int i) { ++hits[i]; });
  for (auto& hit : hits) EXPECT_EQ(hit.load(), 1);
  EXPECT_THROW(parallel_for(100, 3, [](int i) { if (i == 42) throw std::runtime_error("x"); }),
               std::runtime_error);
}

}  // namespace
}  // namespace plascale::fitting
