#include "fitting/least_squares.h"

#include <mutex>

namespace plascale::fitting {

ceres::LossFunction* make_loss(const RobustLoss& loss) {
  switch (loss.kind) {
    case RobustLoss::squared: return nullptr;
    case RobustLoss::huber: return new ceres::HuberLoss(loss.scale);
    case RobustLoss::cauchy: return new ceres::CauchyLoss(loss.scale);
  }
  return nullptr;
}

void quiet_ceres_logging() {
  static std::once_flag once;
  std::call_once(once, [] { FLAGS_minloglevel = google::GLOG_FATAL; });
}

ceres::Solver::Options solver_options(int max_iterations) {
  ceres::Solver::Options options;
  options.linear_solver_type = ceres::DENSE_QR;
  options.max_num_iterations = max_iterations;
  options.function_tolerance = 1e-12;
  options.gradient_tolerance = 1e-14;
  options.parameter_tolerance = 1e-12;
  options.num_threads = 1;  // parallelism is across starts and replicates, not inside one solve
  options.logging_type = ceres::SILENT;
  return options;
}

std::vector<double> parameter_covariance(ceres::Problem& problem, const double* block, int size) {
  ceres::Covariance::Options options;
  options.algorithm_type = ceres::DENSE_SVD;
  // null_space_rank 0 (the default): fail on a rank-deficient Jacobian, never pseudo-invert.
  ceres::Covariance covariance(options);
  std::vector<std::pair<const double*, const double*>> blocks = {{block, block}};
  if (!covariance.Compute(blocks, &problem)) return {};
  std::vector<double> matrix(static_cast<size_t>(size) * size);
  if (!covariance.GetCovarianceBlock(block, block, matrix.data())) return {};
  return matrix;
}

}  // namespace plascale::fitting
