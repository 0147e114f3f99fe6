// Reproduces Epoch AI's replication of Chinchilla Approach 3 (REFERENCES.md section 3) on the
// 240 points Epoch kept from Hoffmann et al.'s Figure 4.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "fitting/chinchilla.h"

namespace plascale::fitting {
namespace {

std::vector<ChinchillaPoint> epoch_points() {
  return epoch_chinchilla_points(std::string(PLASCALE_SOURCE_DIR) + "/../shared/data/chinchilla_svg_extracted.csv");
}

TEST(Chinchilla, GridFitReproducesEpochWithinOnePercent) {
  std::vector<ChinchillaPoint> points = epoch_points();
  ASSERT_EQ(points.size(), 240u);
  ChinchillaOptions options;
  options.bootstrap = 300;
  options.seed = 7;
  options.leave_one_out = false;
  FitSummary fit = analyse_chinchilla(points, options);
  EXPECT_NEAR(fit.param("A").value, 477.8, 0.01 * 477.8);
  EXPECT_NEAR(fit.param("B").value, 2143.9, 0.01 * 2143.9);
  EXPECT_NEAR(fit.param("E").value, 1.817, 0.01 * 1.817);
  EXPECT_NEAR(fit.param("alpha").value, 0.347, 0.01 * 0.347);
  EXPECT_NEAR(fit.param("beta").value, 0.367, 0.01 * 0.367);
  // Epoch's bootstrap standard errors (4000 resamples), within 25%.
  EXPECT_NEAR(fit.param("E").se, 0.026, 0.25 * 0.026);
  EXPECT_NEAR(fit.param("alpha").se, 0.0154, 0.25 * 0.0154);
  EXPECT_NEAR(fit.param("beta").se, 0.0206, 0.25 * 0.0206);
  EXPECT_EQ(fit.bootstrap_replicates, 300);
  // Hoffmann's published values are the known wrong answer: the objective must prefer ours.
  ChinchillaFit hoffmann{std::log(406.4), std::log(410.7), std::log(1.69), 0.34, 0.28};
  EXPECT_LT(fit.objective, chinchilla_objective(points, hoffmann, options.huber_delta));
  ChinchillaFit ours{std::log(fit.param("A").value), std::log(fit.param("B").value),
                     std::log(fit.param("E").value), fit.param("alpha").value, fit.param("beta").value};
  EXPECT_NEAR(chinchilla_objective(points, ours, options.huber_delta), fit.objective, 1e-12);
}

TEST(Chinchilla, BootstrapIsDeterministicAcrossThreadCounts) {
  std::vector<ChinchillaPoint> points = epoch_points();
  ChinchillaOptions options;
  options.grid = {{0.5}, {0.5}, {0.5}, {5.0}, {5.0}};
  options.bootstrap = 16;
  options.seed = 3;
  options.leave_one_out = false;
  options.threads = 1;
  FitSummary one = analyse_chinchilla(points, options);
  options.threads = 2;
  FitSummary two = analyse_chinchilla(points, options);
  for (const char* name : {"A", "B", "E", "alpha", "beta"}) {
    EXPECT_EQ(one.param(name).value, two.param(name).value) << name;
    EXPECT_EQ(one.param(name).se, two.param(name).se) << name;
    EXPECT_EQ(one.param(name).ci_low, two.param(name).ci_low) << name;
  }
}

}  // namespace
}  // namespace plascale::fitting
