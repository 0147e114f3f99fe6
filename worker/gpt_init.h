#pragma once
// GPT-2 style initialisation of the flat parameter buffer, shared by every backend so that
// the CPU and CUDA backends start from the same numbers:
//   matrices and both embeddings ~ N(0, 0.02^2); the two residual projections
//   (attn.proj.weight, mlp.proj.weight) ~ N(0, (0.02 / sqrt(2 * layers))^2);
//   Linear biases 0; LayerNorm gains 1, LayerNorm biases 0.
// Element i of tensor t is normal number i of the stream derive_seed(seed, "init", {t})
// (worker/rng.h), so the result does not depend on threads and any element can be re-drawn.

#include "worker/param_layout.h"

#include <cstdint>
#include <span>

namespace plascale {

// Standard deviation of the initial values of `tensor` (0 for biases and LayerNorm tensors).
double init_std(const TensorInfo& tensor, int layers);

// std * normal number `index` of stream `key` (words 4 index .. 4 index + 3): how element
// `index` of a tensor is drawn at initialisation (key derive_seed(seed, "init", {tensor}))
// and how the mitigations redraw or perturb elements with keys of their own.
float init_normal(uint64_t key, int64_t index, double std);

// The initial value of element `index` (within the tensor) of tensor number `tensor_index`
// of `layout` for this seed.
float init_value(const ParamLayout& layout, int layers, uint64_t seed, int tensor_index,
                 int64_t index);

// Fills params (layout.total elements) with the initial values.
void init_gpt_parameters(const ParamLayout& layout, int layers, uint64_t seed,
                         std::span<float> params);

}  // namespace plascale
