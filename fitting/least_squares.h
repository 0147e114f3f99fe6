#pragma once
// Ceres settings shared by every least-squares fit in this module.

#include <ceres/ceres.h>

#include <vector>

#include "fitting/curve.h"

namespace plascale::fitting {

// The Ceres loss for a RobustLoss, or nullptr for plain squares. Ceres applies rho to the
// squared residual s = r^2 and minimises 1/2 sum rho(s); HuberLoss(delta) then gives
// 1/2 r^2 inside |r| <= delta and delta (|r| - delta/2) outside, the textbook Huber (and
// scipy.special.huber), so costs compare one-to-one with scipy fits.
ceres::LossFunction* make_loss(const RobustLoss& loss);

// Levenberg-Marquardt with tight tolerances: scaling-law parameters are compared to
// references at 1%, so stopping at Ceres' default 1e-6 relative decrease is too early.
ceres::Solver::Options solver_options(int max_iterations);

// Ceres logs through glog: its line search warns about degenerate interpolation polynomials
// (harmless during multi-start fits) and Covariance logs an error for a rank-deficient
// Jacobian, which callers report as NaN standard errors. Raises glog's threshold to fatal,
// once; call from the main thread before starting solver threads.
void quiet_ceres_logging();

// Covariance (row-major, size x size) of one parameter block at its current value, from
// ceres::Covariance at unit residual variance; empty when the Jacobian is rank deficient.
std::vector<double> parameter_covariance(ceres::Problem& problem, const double* block, int size);

}  // namespace plascale::fitting
