#pragma once
// The Chinchilla loss law L(N, D) = E + A / N^alpha + B / D^beta, fitted as Hoffmann et al.'s
// Approach 3 in Epoch AI's replication (REFERENCES.md section 3): in log space,
//   log L = LSE(a - alpha log N, b - beta log D, e),  A = e^a, B = e^b, E = e^e,
// minimising sum_i Huber_delta(residual_i) with Ceres' line-search L-BFGS (Epoch's optimiser)
// from every start of a grid; the best final objective wins.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fitting/summary.h"

namespace plascale::fitting {

struct ChinchillaGrid {  // starting values; defaults are Epoch's grid (4,500 starts)
  std::vector<double> alpha = {0.0, 0.5, 1.0, 1.5, 2.0};
  std::vector<double> beta = {0.0, 0.5, 1.0, 1.5, 2.0};
  std::vector<double> e = {-1.0, -0.5, 0.0, 0.5, 1.0};
  std::vector<double> a = {0.0, 5.0, 10.0, 15.0, 20.0, 25.0};
  std::vector<double> b = {0.0, 5.0, 10.0, 15.0, 20.0, 25.0};
};

struct ChinchillaOptions {
  double huber_delta = 1e-3;   // on log-loss residuals
  ChinchillaGrid grid;
  int threads = 0;             // starts and replicates in parallel; 0 = all hardware threads
  int max_iterations = 1000;
  // L-BFGS stops when the objective's relative decrease or the gradient's largest entry falls
  // below these. scipy's L-BFGS-B defaults (Epoch's fit) are looser: ftol = 2.2e-9 relative to
  // max(|f|, 1), with f about 1e-3 here, and gtol = 1e-5.
  double function_tolerance = 1e-10;
  double gradient_tolerance = 1e-8;
  int bootstrap = 0;           // > 0: resample points; SEs = replicate SD, CIs = percentiles
  uint64_t seed = 0;
  double level = 0.95;
  bool leave_one_out = true;   // one warm-started refit per point
};

struct ChinchillaPoint {
  double params = 0.0;  // N
  double tokens = 0.0;  // D
  double loss = 0.0;    // L
};

struct ChinchillaFit {
  double a = 0.0, b = 0.0, e = 0.0, alpha = 0.0, beta = 0.0;
  double objective = 0.0;  // sum of Huber_delta over the points (Ceres cost)
  int best_start = -1;
  double predict(double params, double tokens) const;  // L(N, D)
};

// Epoch AI's replication data (REFERENCES.md section 3): the points of a CSV with columns
// `Model Size`, `Training FLOP` and `loss`, D = FLOPs / (6 N), less the five highest-loss
// points as Epoch drops them (245 rows -> 240 points).
std::vector<ChinchillaPoint> epoch_chinchilla_points(const std::string& csv_path);

// The minimised objective at `fit`: sum_i Huber_delta(log-space residual_i).
double chinchilla_objective(std::span<const ChinchillaPoint> points, const ChinchillaFit& fit, double huber_delta);

// Every grid start, in parallel; the lowest objective wins (ties: first in grid order).
ChinchillaFit fit_chinchilla(std::span<const ChinchillaPoint> points, const ChinchillaOptions& options);
// One L-BFGS solve from `start` (used for bootstrap and leave-one-out refits).
ChinchillaFit refit_chinchilla(std::span<const ChinchillaPoint> points, const ChinchillaFit& start,
                               const ChinchillaOptions& options);

// Grid fit plus uncertainty (bootstrap, or Ceres covariance when options.bootstrap == 0)
// and fit quality; parameters named A, B, E, alpha, beta.
FitSummary analyse_chinchilla(std::span<const ChinchillaPoint> points, const ChinchillaOptions& options);

}  // namespace plascale::fitting
