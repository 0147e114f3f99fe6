#pragma once
// Effective rank (Roy & Vetterli 2007; REFERENCES.md 2) of a representation matrix
// [examples, units]: with singular values sigma_k and p_k = sigma_k / sum sigma,
//   erank = exp(-sum_k p_k ln p_k),   between 1 (rank one) and min(examples, units).
// The matrix is used as given (not mean-centred), as in the definition. A zero matrix has
// no singular spectrum; we return 0 for it.

#include <cstdint>
#include <span>

namespace plascale {

double effective_rank_from_singular_values(std::span<const double> singular_values);

// Singular values by Eigen's BDCSVD in double precision. matrix is row-major [rows, cols].
double effective_rank(std::span<const float> matrix, int64_t rows, int64_t cols);

}  // namespace plascale
