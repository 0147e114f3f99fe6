// The CPU backend's in-place edits for the mitigations (backend.h, "in-place edits"):
// re-initialising units, shrink-and-perturb, the L2-Init anchor and norm limits. Every
// loop writes each element independently or sums in a fixed order, so the results do not
// depend on the thread count.

#include "worker/cpu_backend.h"
#include "worker/cpu_parallel.h"
#include "worker/gpt_init.h"
#include "worker/rng.h"

#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <stdexcept>
#include <string>

namespace plascale {
namespace {

// Scaling by max / norm in float can land a rounding error above max; this margin keeps
// the limited norm at or below the bound.
constexpr double kNormMargin = 1.0 - 8 * static_cast<double>(FLT_EPSILON);

}  // namespace

void CpuBackend::outgoing_weight_magnitude(UnitKind kind, int layer, std::span<double> out) const {
  const BlockTensors& t = blocks_.at(layer);
  const int d = model_.d_model, hidden = model_.mlp_hidden, head_dim = d / model_.heads;
  const bool mlp = kind == UnitKind::mlp_unit;
  const int units = mlp ? hidden : model_.heads, width = mlp ? 1 : head_dim, in_cols = mlp ? hidden : d;
  if (static_cast<int>(out.size()) != units) throw std::invalid_argument("outgoing_weight_magnitude: wrong size");
  const float* weight = params_.data() + (mlp ? t.mlp_proj_weight : t.attn_proj_weight);
  std::fill(out.begin(), out.end(), 0.0);
  for (int k = 0; k < d; ++k) {
    const float* row = weight + static_cast<int64_t>(k) * in_cols;
    for (int c = 0; c < in_cols; ++c) out[c / width] += std::fabs(row[c]);
  }
  for (double& value : out) value /= static_cast<double>(d) * width;
}

void CpuBackend::reset_units(const UnitReset& reset) {
  const BlockTensors& t = blocks_.at(reset.layer);
  const int d = model_.d_model, hidden = model_.mlp_hidden, head_dim = d / model_.heads;
  const bool mlp = reset.kind == UnitKind::mlp_unit;
  const int units = mlp ? hidden : model_.heads, width = mlp ? 1 : head_dim;
  const int out_cols = mlp ? hidden : d;  // columns of the outgoing matrix
  if (!reset.mean_output.empty() && reset.mean_output.size() != reset.units.size() * width) {
    throw std::invalid_argument("reset_units: mean_output must hold units x " + std::to_string(width) + " values");
  }
  const std::string incoming_name = layer_tensor_name(reset.layer, mlp ? "mlp.fc.weight" : "attn.qkv.weight");
  const double incoming_std = init_std(layout_.at(incoming_name), model_.layers);
  const int64_t incoming = mlp ? t.fc_weight : t.qkv_weight, incoming_bias = mlp ? t.fc_bias : t.qkv_bias;
  const int64_t outgoing = mlp ? t.mlp_proj_weight : t.attn_proj_weight;
  const int64_t next_bias = mlp ? t.mlp_proj_bias : t.attn_proj_bias;
  auto clear = [&](int64_t element, float value) {
    params_[element] = value;
    adam_m_[element] = 0.0f;
    adam_v_[element] = 0.0f;
  };
  for (size_t i = 0; i < reset.units.size(); ++i) {
    const int unit = reset.units[i];
    if (unit < 0 || unit >= units) throw std::out_of_range("reset_units: unit " + std::to_string(unit));
    // Incoming rows: one for an MLP unit, head_dim rows in each of q, k and v for a head.
    for (int part = 0; part < (mlp ? 1 : 3); ++part) {
      for (int r = 0; r < width; ++r) {
        const int64_t row = mlp ? unit : static_cast<int64_t>(part) * d + static_cast<int64_t>(unit) * head_dim + r;
        for (int c = 0; c < d; ++c) {
          const int64_t element = row * d + c;
          clear(incoming + element, init_normal(reset.key, element, incoming_std));
        }
        clear(incoming_bias + row, 0.0f);
      }
    }
    // Outgoing columns unit * width .. (unit + 1) * width of every row of the next matrix.
    for (int k = 0; k < d; ++k) {
      for (int r = 0; r < width; ++r) {
        const int64_t element = outgoing + static_cast<int64_t>(k) * out_cols + static_cast<int64_t>(unit) * width + r;
        if (!reset.mean_output.empty()) params_[next_bias + k] += params_[element] * reset.mean_output[i * width + r];
        clear(element, 0.0f);
      }
    }
  }
}

void CpuBackend::shrink_perturb(std::span<const int> tensors, float shrink, float sigma, uint64_t key) {
  float* p = params_.data();
  for (int index : tensors) {
    const TensorInfo& tensor = layout_.tensors.at(index);
    const int64_t begin = tensor.offset, end = tensor.offset + tensor.size;
    // Groups of four flat elements share one philox_normals() call.
    const int64_t first_group = begin / 4, groups = (end + 3) / 4 - first_group;
#pragma omp parallel for schedule(static) num_threads(team_size(tensor.size * 16, threads_))
    for (int64_t g = 0; g < groups; ++g) {
      const uint64_t group = static_cast<uint64_t>(first_group + g);
      const std::array<float, 4> normals =
          sigma == 0.0f ? std::array<float, 4>{}
                        : philox_normals(key, static_cast<uint32_t>(group), static_cast<uint32_t>(group >> 32));
      for (int t = 0; t < 4; ++t) {
        const int64_t element = static_cast<int64_t>(group) * 4 + t;
        if (element >= begin && element < end) p[element] = shrink * p[element] + sigma * normals[t];
      }
    }
  }
}

void CpuBackend::keep_anchor() { anchor_ = params_; }

double CpuBackend::add_anchor_penalty(double strength) {
  if (anchor_.size() != params_.size()) throw std::logic_error("add_anchor_penalty: no anchor kept (keep_anchor)");
  constexpr int kChunks = 256;  // fixed chunks added in order: the same sum for any thread count
  double partial[kChunks];
  const int64_t count = layout_.total;
  const float gradient_scale = static_cast<float>(2.0 * strength);
#pragma omp parallel for schedule(static) num_threads(team_size(count, threads_))
  for (int chunk = 0; chunk < kChunks; ++chunk) {
    const int64_t begin = count * chunk / kChunks, end = count * (chunk + 1) / kChunks;
    double sum = 0.0;
    for (int64_t i = begin; i < end; ++i) {
      const float difference = params_[i] - anchor_[i];
      grads_[i] += gradient_scale * difference;
      sum += static_cast<double>(difference) * difference;
    }
    partial[chunk] = sum;
  }
  double total = 0.0;
  for (double value : partial) total += value;
  return strength * total;
}

int64_t CpuBackend::clamp_norm_gains(float max_gain) {
  int64_t clamped = 0;
  for (const TensorInfo& tensor : layout_.tensors) {
    if (tensor.kind != TensorKind::norm_gain) continue;
    for (int64_t i = tensor.offset; i < tensor.offset + tensor.size; ++i) {
      const float limited = std::clamp(params_[i], -max_gain, max_gain);
      clamped += limited != params_[i];
      params_[i] = limited;
    }
  }
  return clamped;
}

int64_t CpuBackend::limit_matrix_norms(float max_norm, bool per_tensor) {
  int64_t scaled = 0;
  for (const TensorInfo& tensor : layout_.tensors) {
    if (tensor.kind != TensorKind::matrix) continue;
    const int64_t rows = per_tensor ? 1 : tensor.shape[0];
    const int64_t cols = tensor.size / rows;
    float* p = params_.data() + tensor.offset;
    int64_t tensor_scaled = 0;
#pragma omp parallel for schedule(static) reduction(+ : tensor_scaled) num_threads(team_size(tensor.size, threads_))
    for (int64_t r = 0; r < rows; ++r) {
      float* values = p + r * cols;
      double square = 0.0;
      for (int64_t c = 0; c < cols; ++c) square += static_cast<double>(values[c]) * values[c];
      const double norm = std::sqrt(square);
      if (norm <= max_norm) continue;
      const float factor = static_cast<float>(max_norm / norm * kNormMargin);
      for (int64_t c = 0; c < cols; ++c) values[c] *= factor;
      ++tensor_scaled;
    }
    scaled += tensor_scaled;
  }
  return scaled;
}

}  // namespace plascale
