#include "worker/gpt_init.h"

#include "worker/rng.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace plascale {
namespace {

constexpr uint64_t kWordsPerNormal = 4;  // Rng::normal() draws two 64-bit uniforms

// Tensor t's stream; element i uses words [4i, 4i + 4), so any element can be drawn alone.
uint64_t tensor_key(uint64_t seed, int tensor_index) {
  return derive_seed(seed, "init", {static_cast<uint64_t>(tensor_index)});
}

}  // namespace

double init_std(const TensorInfo& tensor, int layers) {
  switch (tensor.kind) {
    case TensorKind::token_embedding:
    case TensorKind::position_embedding:
      return 0.02;
    case TensorKind::matrix: {
      const bool residual_projection =
          tensor.name.ends_with("attn.proj.weight") || tensor.name.ends_with("mlp.proj.weight");
      return residual_projection ? 0.02 / std::sqrt(2.0 * layers) : 0.02;
    }
    case TensorKind::bias:
    case TensorKind::norm_gain:
    case TensorKind::norm_bias:
      return 0.0;
  }
  return 0.0;
}

float init_normal(uint64_t key, int64_t index, double std) {
  Rng rng(RngState{key, kWordsPerNormal * static_cast<uint64_t>(index)});
  return static_cast<float>(std * rng.normal());
}

float init_value(const ParamLayout& layout, int layers, uint64_t seed, int tensor_index, int64_t index) {
  const TensorInfo& tensor = layout.tensors.at(tensor_index);
  if (tensor.kind == TensorKind::norm_gain) return 1.0f;
  const double std = init_std(tensor, layers);
  if (std == 0.0) return 0.0f;
  return init_normal(tensor_key(seed, tensor_index), index, std);
}

void init_gpt_parameters(const ParamLayout& layout, int layers, uint64_t seed, std::span<float> params) {
  if (static_cast<int64_t>(params.size()) != layout.total) {
    throw std::invalid_argument("init_gpt_parameters: buffer has " + std::to_string(params.size()) +
                                " elements, the layout needs " + std::to_string(layout.total));
  }
  constexpr int64_t kChunk = 4096;  // elements per task; each task jumps its stream to its start
  for (int t = 0; t < static_cast<int>(layout.tensors.size()); ++t) {
    const TensorInfo& tensor = layout.tensors[t];
    const double std = init_std(tensor, layers);
    float* values = params.data() + tensor.offset;
    if (std == 0.0) {
      const float constant = tensor.kind == TensorKind::norm_gain ? 1.0f : 0.0f;
      std::fill_n(values, tensor.size, constant);
      continue;
    }
    const uint64_t key = tensor_key(seed, t);
    const int64_t chunks = (tensor.size + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static)
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
      const int64_t begin = chunk * kChunk, end = std::min(tensor.size, begin + kChunk);
      Rng rng(RngState{key, kWordsPerNormal * static_cast<uint64_t>(begin)});
      for (int64_t i = begin; i < end; ++i) values[i] = static_cast<float>(std * rng.normal());
    }
  }
}

}  // namespace plascale
