#include "worker/diagnostics/effective_rank.h"

#include <Eigen/Dense>
#include <Eigen/SVD>

#include <cmath>
#include <stdexcept>
#include <string>

namespace plascale {

double effective_rank_from_singular_values(std::span<const double> singular_values) {
  double total = 0;
  for (double sigma : singular_values) {
    if (sigma < 0) throw std::invalid_argument("effective_rank: negative singular value");
    total += sigma;
  }
  if (!(total > 0)) return 0.0;
  double entropy = 0;
  for (double sigma : singular_values) {
    if (sigma > 0) {
      const double p = sigma / total;
      entropy -= p * std::log(p);
    }
  }
  return std::exp(entropy);
}

double effective_rank(std::span<const float> matrix, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0 || static_cast<int64_t>(matrix.size()) != rows * cols) {
    throw std::invalid_argument("effective_rank: matrix of " + std::to_string(matrix.size()) +
                                " values is not " + std::to_string(rows) + " x " + std::to_string(cols));
  }
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Eigen::MatrixXd values = Eigen::Map<const RowMajor>(matrix.data(), rows, cols).cast<double>();
  const Eigen::BDCSVD<Eigen::MatrixXd> svd(values);  // singular values only
  const Eigen::VectorXd sigma = svd.singularValues();
  return effective_rank_from_singular_values(std::span<const double>(sigma.data(), static_cast<size_t>(sigma.size())));
}

}  // namespace plascale
