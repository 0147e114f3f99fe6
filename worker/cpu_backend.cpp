#include "worker/cpu_backend.h"

#include "worker/cpu_attention.h"
#include "worker/cpu_parallel.h"
#include "worker/gpt_init.h"

#include <Eigen/Core>
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace plascale {
namespace {

constexpr float kLayerNormEps = 1e-5f;
constexpr int kColumnChunk = 64;  // columns per task in column reductions

// ---- kernels ---------------------------------------------------------------------------

void layernorm_forward(float* out, float* mean, float* rstd, const float* in, const float* weight, const float* bias,
                       int64_t rows, int cols, int threads) {
#pragma omp parallel for schedule(static) num_threads(team_size(rows * cols, threads))
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * cols;
    double sum = 0.0;
    for (int c = 0; c < cols; ++c) sum += x[c];
    const double row_mean = sum / cols;
    double squares = 0.0;
    for (int c = 0; c < cols; ++c) squares += (x[c] - row_mean) * (x[c] - row_mean);
    const float row_rstd = static_cast<float>(1.0 / std::sqrt(squares / cols + kLayerNormEps));
    const float m = static_cast<float>(row_mean);
    float* y = out + r * cols;
    for (int c = 0; c < cols; ++c) y[c] = (x[c] - m) * row_rstd * weight[c] + bias[c];
    mean[r] = m;
    rstd[r] = row_rstd;
  }
}

// d_in += dx; d_weight += sum_rows d_out * xhat; d_bias += sum_rows d_out.
void layernorm_backward(float* d_in, float* d_weight, float* d_bias, const float* d_out, const float* in,
                        const float* weight, const float* mean, const float* rstd, int64_t rows, int cols,
                        int threads) {
#pragma omp parallel for schedule(static) num_threads(team_size(rows * cols, threads))
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = in + r * cols;
    const float* dy = d_out + r * cols;
    double sum_dxhat = 0.0, sum_dxhat_xhat = 0.0;
    for (int c = 0; c < cols; ++c) {
      const float xhat = (x[c] - mean[r]) * rstd[r];
      const float dxhat = dy[c] * weight[c];
      sum_dxhat += dxhat;
      sum_dxhat_xhat += dxhat * xhat;
    }
    const float mean_dxhat = static_cast<float>(sum_dxhat / cols);
    const float mean_dxhat_xhat = static_cast<float>(sum_dxhat_xhat / cols);
    float* dx = d_in + r * cols;
    for (int c = 0; c < cols; ++c) {
      const float xhat = (x[c] - mean[r]) * rstd[r];
      dx[c] += (dy[c] * weight[c] - mean_dxhat - xhat * mean_dxhat_xhat) * rstd[r];
    }
  }
  const int chunks = (cols + kColumnChunk - 1) / kColumnChunk;
#pragma omp parallel for schedule(static) num_threads(std::min(chunks, team_size(rows * cols, threads)))
  for (int chunk = 0; chunk < chunks; ++chunk) {
    const int c0 = chunk * kColumnChunk, c1 = std::min(cols, c0 + kColumnChunk);
    double gain[kColumnChunk] = {}, shift[kColumnChunk] = {};
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = in + r * cols;
      const float* dy = d_out + r * cols;
      for (int c = c0; c < c1; ++c) {
        gain[c - c0] += dy[c] * ((x[c] - mean[r]) * rstd[r]);
        shift[c - c0] += dy[c];
      }
    }
    for (int c = c0; c < c1; ++c) {
      d_weight[c] += static_cast<float>(gain[c - c0]);
      d_bias[c] += static_cast<float>(shift[c - c0]);
    }
  }
}

// out[rows, out_cols] = (residual) + in[rows, in_cols] weight[out_cols, in_cols]^T + bias
void linear_forward(float* out, const float* in, const float* weight, const float* bias, const float* residual,
                    int64_t rows, int in_cols, int out_cols, int threads) {
#pragma omp parallel for schedule(static) num_threads(team_size(rows * out_cols, threads))
  for (int64_t r = 0; r < rows; ++r) {
    float* y = out + r * out_cols;
    const float* skip = residual ? residual + r * out_cols : nullptr;
    for (int c = 0; c < out_cols; ++c) y[c] = (skip ? skip[c] : 0.0f) + bias[c];
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows), out_cols, in_cols, 1.0f, in, in_cols,
              weight, in_cols, 1.0f, out, out_cols);
}

// d_in = d_out weight (overwritten); d_weight += d_out^T in; d_bias += column sums of d_out.
void linear_backward(float* d_in, float* d_weight, float* d_bias, const float* d_out, const float* in,
                     const float* weight, int64_t rows, int in_cols, int out_cols, int threads) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows), in_cols, out_cols, 1.0f, d_out,
              out_cols, weight, in_cols, 0.0f, d_in, in_cols);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out_cols, in_cols, static_cast<int>(rows), 1.0f, d_out,
              out_cols, in, in_cols, 1.0f, d_weight, in_cols);
  const int chunks = (out_cols + kColumnChunk - 1) / kColumnChunk;
#pragma omp parallel for schedule(static) num_threads(std::min(chunks, team_size(rows * out_cols, threads)))
  for (int chunk = 0; chunk < chunks; ++chunk) {
    const int c0 = chunk * kColumnChunk, c1 = std::min(out_cols, c0 + kColumnChunk);
    double sums[kColumnChunk] = {};
    for (int64_t r = 0; r < rows; ++r) {
      const float* dy = d_out + r * out_cols;
      for (int c = c0; c < c1; ++c) sums[c - c0] += dy[c];
    }
    for (int c = c0; c < c1; ++c) d_bias[c] += static_cast<float>(sums[c - c0]);
  }
}

// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
constexpr float kGeluScale = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float kGeluCubic = 0.044715f;

// Both GELU passes work on blocks of elements with Eigen's vectorised tanh (the scalar libm
// tanhf made GELU the most expensive part of a small model's step).
constexpr int64_t kGeluBlock = 1024;

void gelu_forward(float* out, const float* in, int64_t count, int threads) {
  const int64_t blocks = (count + kGeluBlock - 1) / kGeluBlock;
#pragma omp parallel for schedule(static) num_threads(team_size(count, threads))
  for (int64_t block = 0; block < blocks; ++block) {
    const int64_t begin = block * kGeluBlock, size = std::min(kGeluBlock, count - begin);
    const Eigen::Map<const Eigen::ArrayXf> x(in + begin, size);
    Eigen::Map<Eigen::ArrayXf> y(out + begin, size);
    y = 0.5f * x * (1.0f + (kGeluScale * (x + kGeluCubic * x.cube())).tanh());
  }
}

// d_inout: gradient w.r.t. the GELU output in, w.r.t. its input out.
void gelu_backward(float* d_inout, const float* in, int64_t count, int threads) {
  const int64_t blocks = (count + kGeluBlock - 1) / kGeluBlock;
#pragma omp parallel for schedule(static) num_threads(team_size(count, threads))
  for (int64_t block = 0; block < blocks; ++block) {
    const int64_t begin = block * kGeluBlock, size = std::min(kGeluBlock, count - begin);
    const Eigen::Map<const Eigen::ArrayXf> x(in + begin, size);
    Eigen::Map<Eigen::ArrayXf> d(d_inout + begin, size);
    float tanh_buffer[kGeluBlock];
    Eigen::Map<Eigen::ArrayXf> t(tanh_buffer, size);
    t = (kGeluScale * (x + kGeluCubic * x.cube())).tanh();
    d *= 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t.square()) * kGeluScale * (1.0f + 3.0f * kGeluCubic * x.square());
  }
}

// Sum of squares of data[0..count) in 256 fixed chunks, added in order: the same bits for
// any thread count.
double sum_of_squares(const float* data, int64_t count, int threads) {
  constexpr int kChunks = 256;
  double partial[kChunks];
#pragma omp parallel for schedule(static) num_threads(team_size(count, threads))
  for (int chunk = 0; chunk < kChunks; ++chunk) {
    const int64_t begin = count * chunk / kChunks, end = count * (chunk + 1) / kChunks;
    double sum = 0.0;
    for (int64_t i = begin; i < end; ++i) sum += static_cast<double>(data[i]) * data[i];
    partial[chunk] = sum;
  }
  double total = 0.0;
  for (double value : partial) total += value;
  return total;
}

// abs_sums[c] += sum over rows of |x[r, c]|, sums[c] += sum of x[r, c] (double, rows in order).
void add_column_sums(const float* x, int64_t rows, int cols, double* abs_sums, double* sums, int threads) {
  const int chunks = (cols + kColumnChunk - 1) / kColumnChunk;
#pragma omp parallel for schedule(static) num_threads(std::min(chunks, team_size(rows * cols, threads)))
  for (int chunk = 0; chunk < chunks; ++chunk) {
    const int c0 = chunk * kColumnChunk, c1 = std::min(cols, c0 + kColumnChunk);
    double abs_part[kColumnChunk] = {}, part[kColumnChunk] = {};
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = x + r * cols;
      for (int c = c0; c < c1; ++c) {
        abs_part[c - c0] += std::fabs(row[c]);
        part[c - c0] += row[c];
      }
    }
    for (int c = c0; c < c1; ++c) {
      abs_sums[c] += abs_part[c - c0];
      sums[c] += part[c - c0];
    }
  }
}

void check_tokens(std::span<const int32_t> tokens, int vocab, const char* what) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= vocab) {
      throw std::out_of_range(std::string("batch ") + what + "[" + std::to_string(i) + "] = " +
                              std::to_string(tokens[i]) + " is outside the vocabulary [0, " + std::to_string(vocab) +
                              ")");
    }
  }
}

}  // namespace

// ---- construction and buffers ----------------------------------------------------------

CpuBackend::CpuBackend(const ModelConfig& model, int threads)
    : model_(model), layout_(gpt_layout(model)), threads_(threads > 0 ? threads : omp_get_num_procs()) {
  params_.assign(layout_.total, 0.0f);
  grads_.assign(layout_.total, 0.0f);
  adam_m_.assign(layout_.total, 0.0f);
  adam_v_.assign(layout_.total, 0.0f);
  wte_ = layout_.at("wte").offset;
  wpe_ = layout_.at("wpe").offset;
  lnf_weight_ = layout_.at("lnf.weight").offset;
  lnf_bias_ = layout_.at("lnf.bias").offset;
  for (int l = 0; l < model_.layers; ++l) {
    auto offset = [&](const char* suffix) { return layout_.at(layer_tensor_name(l, suffix)).offset; };
    blocks_.push_back({offset("ln1.weight"), offset("ln1.bias"), offset("attn.qkv.weight"), offset("attn.qkv.bias"),
                       offset("attn.proj.weight"), offset("attn.proj.bias"), offset("ln2.weight"), offset("ln2.bias"),
                       offset("mlp.fc.weight"), offset("mlp.fc.bias"), offset("mlp.proj.weight"),
                       offset("mlp.proj.bias")});
  }
  layers_.resize(model_.layers);
}

void CpuBackend::init_parameters(uint64_t seed) {
  init_gpt_parameters(layout_, model_.layers, seed, params_);
  zero_gradients();
  reset_optimizer();
}

std::span<float> CpuBackend::buffer(BufferKind kind) {
  switch (kind) {
    case BufferKind::parameters: return params_;
    case BufferKind::gradients: return grads_;
    case BufferKind::adam_m: return adam_m_;
    case BufferKind::adam_v: return adam_v_;
  }
  throw std::invalid_argument("unknown buffer kind");
}

std::span<const float> CpuBackend::buffer(BufferKind kind) const {
  return const_cast<CpuBackend*>(this)->buffer(kind);
}

void CpuBackend::read_buffer(BufferKind kind, int64_t offset, std::span<float> data) const {
  std::span<const float> source = buffer(kind);
  if (offset < 0 || offset + static_cast<int64_t>(data.size()) > static_cast<int64_t>(source.size())) {
    throw std::out_of_range("read_buffer: range outside the buffer");
  }
  std::copy_n(source.begin() + offset, data.size(), data.begin());
}

void CpuBackend::write_buffer(BufferKind kind, int64_t offset, std::span<const float> data) {
  std::span<float> target = buffer(kind);
  if (offset < 0 || offset + static_cast<int64_t>(data.size()) > static_cast<int64_t>(target.size())) {
    throw std::out_of_range("write_buffer: range outside the buffer");
  }
  std::copy(data.begin(), data.end(), target.begin() + offset);
}

void CpuBackend::prepare(const TokenBatch& batch, bool need_targets) {
  if (batch.sequences < 1 || batch.seq_len < 1 || batch.seq_len > model_.context) {
    throw std::invalid_argument("batch of " + std::to_string(batch.sequences) + " sequences of " +
                                std::to_string(batch.seq_len) + " tokens: need at least one sequence and 1.." +
                                std::to_string(model_.context) + " tokens each");
  }
  const int64_t tokens = static_cast<int64_t>(batch.sequences) * batch.seq_len;
  if (static_cast<int64_t>(batch.inputs.size()) != tokens ||
      (need_targets && static_cast<int64_t>(batch.targets.size()) != tokens)) {
    throw std::invalid_argument("batch inputs/targets must hold sequences * seq_len = " + std::to_string(tokens) +
                                " tokens");
  }
  check_tokens(batch.inputs, model_.vocab, "inputs");
  if (need_targets) check_tokens(batch.targets, model_.vocab, "targets");
  openblas_set_num_threads(threads_);
  if (tokens <= capacity_tokens_) return;
  capacity_tokens_ = tokens;
  const int64_t d = model_.d_model, hidden = model_.mlp_hidden;
  const int64_t rows_per_head = tokens * model_.heads;
  for (LayerActivations& a : layers_) {
    a.ln1.resize(tokens * d);
    a.ln1_mean.resize(tokens);
    a.ln1_rstd.resize(tokens);
    a.qkv.resize(tokens * 3 * d);
    a.attention.resize(tokens * d);
    a.lse.resize(rows_per_head);
    a.entropy.resize(rows_per_head);
    a.after_attention.resize(tokens * d);
    a.ln2.resize(tokens * d);
    a.ln2_mean.resize(tokens);
    a.ln2_rstd.resize(tokens);
    a.fc.resize(tokens * hidden);
    a.gelu.resize(tokens * hidden);
    a.output.resize(tokens * d);
  }
  embedded_.resize(tokens * d);
  lnf_.resize(tokens * d);
  lnf_mean_.resize(tokens);
  lnf_rstd_.resize(tokens);
  logits_.resize(std::min(tokens, kHeadRows) * model_.vocab);
  d_residual_.resize(tokens * d);
  d_normed_.resize(tokens * d);
  d_qkv_.resize(tokens * 3 * d);
  d_attention_.resize(tokens * d);
  d_hidden_.resize(tokens * hidden);
}

// ---- forward ---------------------------------------------------------------------------

void CpuBackend::forward_blocks(const TokenBatch& batch, bool record_entropy, const TrainPassOptions& pass) {
  const int64_t tokens = static_cast<int64_t>(batch.sequences) * batch.seq_len;
  const int d = model_.d_model, hidden = model_.mlp_hidden;
  const float* p = params_.data();
#pragma omp parallel for schedule(static) num_threads(team_size(tokens * d, threads_))
  for (int64_t row = 0; row < tokens; ++row) {
    const float* token = p + wte_ + static_cast<int64_t>(batch.inputs[row]) * d;
    const float* position = p + wpe_ + (row % batch.seq_len) * d;
    float* x = embedded_.data() + row * d;
    for (int c = 0; c < d; ++c) x[c] = token[c] + position[c];
  }
  const AttentionShape shape{batch.sequences, batch.seq_len, model_.heads, d / model_.heads};
  for (int l = 0; l < model_.layers; ++l) {
    const BlockTensors& t = blocks_[l];
    LayerActivations& a = layers_[l];
    const float* input = l == 0 ? embedded_.data() : layers_[l - 1].output.data();
    layernorm_forward(a.ln1.data(), a.ln1_mean.data(), a.ln1_rstd.data(), input, p + t.ln1_weight, p + t.ln1_bias,
                      tokens, d, threads_);
    linear_forward(a.qkv.data(), a.ln1.data(), p + t.qkv_weight, p + t.qkv_bias, nullptr, tokens, d, 3 * d, threads_);
    attention_forward(shape, a.qkv.data(), a.attention.data(), a.lse.data(),
                      record_entropy ? a.entropy.data() : nullptr, threads_, {pass.noise.std, pass.noise.key, l});
    linear_forward(a.after_attention.data(), a.attention.data(), p + t.attn_proj_weight, p + t.attn_proj_bias, input,
                   tokens, d, d, threads_);
    layernorm_forward(a.ln2.data(), a.ln2_mean.data(), a.ln2_rstd.data(), a.after_attention.data(),
                      p + t.ln2_weight, p + t.ln2_bias, tokens, d, threads_);
    linear_forward(a.fc.data(), a.ln2.data(), p + t.fc_weight, p + t.fc_bias, nullptr, tokens, d, hidden, threads_);
    gelu_forward(a.gelu.data(), a.fc.data(), tokens * hidden, threads_);
    linear_forward(a.output.data(), a.gelu.data(), p + t.mlp_proj_weight, p + t.mlp_proj_bias,
                   a.after_attention.data(), tokens, hidden, d, threads_);
    if (ActivitySums* sums = pass.activity) {
      add_column_sums(a.gelu.data(), tokens, hidden, sums->mlp_abs.at(l).data(), sums->mlp.at(l).data(), threads_);
      add_column_sums(a.attention.data(), tokens, d, sums->attention_abs.at(l).data(), sums->attention.at(l).data(),
                      threads_);
    }
  }
  if (pass.activity) pass.activity->tokens += tokens;
}

namespace {

// Cross-entropy of `rows` logit rows against their targets into losses[row]. With
// write_gradient the logits become d_scale * (softmax - onehot), i.e. the gradient of
// d_scale * the summed loss.
void cross_entropy_rows(float* logits, const int32_t* targets, double* losses, int64_t rows, int vocab,
                        bool write_gradient, float d_scale, int threads) {
#pragma omp parallel for schedule(static) num_threads(team_size(rows * vocab, threads))
  for (int64_t row = 0; row < rows; ++row) {
    float* z = logits + row * vocab;
    // kLanes independent running maxima / sums let the compiler vectorise both passes
    // without reassociating anything; the lanes are combined in a fixed order.
    constexpr int kLanes = 16;
    float lane_max[kLanes];
    std::fill_n(lane_max, kLanes, z[0]);
    int v = 0;
    for (; v + kLanes <= vocab; v += kLanes)
      for (int lane = 0; lane < kLanes; ++lane) lane_max[lane] = std::max(lane_max[lane], z[v + lane]);
    float max_logit = z[0];
    for (float lane : lane_max) max_logit = std::max(max_logit, lane);
    for (; v < vocab; ++v) max_logit = std::max(max_logit, z[v]);
    const int target = targets[row];
    const float target_logit = z[target];
    double sum = 0.0;
    if (write_gradient) {  // keep exp(logit - max) for the gradient: one exp per logit
      float lane_sum[kLanes] = {};
      v = 0;
      for (; v + kLanes <= vocab; v += kLanes)
        for (int lane = 0; lane < kLanes; ++lane) {
          z[v + lane] = std::exp(z[v + lane] - max_logit);
          lane_sum[lane] += z[v + lane];
        }
      for (float lane : lane_sum) sum += lane;
      for (; v < vocab; ++v) {
        z[v] = std::exp(z[v] - max_logit);
        sum += z[v];
      }
      const float probability_scale = static_cast<float>(d_scale / sum);
      for (int v = 0; v < vocab; ++v) z[v] *= probability_scale;
      z[target] -= d_scale;
    } else {
      for (int v = 0; v < vocab; ++v) sum += std::exp(z[v] - max_logit);
    }
    losses[row] = max_logit + std::log(sum) - target_logit;
  }
}

}  // namespace

double CpuBackend::output_head(const TokenBatch& batch, HeadPass pass, float grad_scale,
                               std::span<float> logits_out) {
  const int64_t tokens = static_cast<int64_t>(batch.sequences) * batch.seq_len;
  const int d = model_.d_model, vocab = model_.vocab;
  const float* p = params_.data();
  layernorm_forward(lnf_.data(), lnf_mean_.data(), lnf_rstd_.data(), layers_.back().output.data(), p + lnf_weight_,
                    p + lnf_bias_, tokens, d, threads_);
  std::vector<double> losses(pass == HeadPass::logits ? 0 : tokens);
  const float d_scale = grad_scale / static_cast<float>(tokens);
  for (int64_t first = 0; first < tokens; first += kHeadRows) {
    const int rows = static_cast<int>(std::min(kHeadRows, tokens - first));
    const float* normed = lnf_.data() + first * d;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, vocab, d, 1.0f, normed, d, p + wte_, d, 0.0f,
                logits_.data(), vocab);
    if (pass == HeadPass::logits) {
      std::copy_n(logits_.begin(), static_cast<int64_t>(rows) * vocab, logits_out.begin() + first * vocab);
      continue;
    }
    const bool gradient = pass == HeadPass::loss_and_gradient;
    cross_entropy_rows(logits_.data(), batch.targets.data() + first, losses.data() + first, rows, vocab, gradient,
                       d_scale, threads_);
    if (gradient) {  // logits = normed wte^T: wte gets d_logits^T normed, normed gets d_logits wte
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, vocab, d, rows, 1.0f, logits_.data(), vocab, normed, d,
                  1.0f, grads_.data() + wte_, d);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, d, vocab, 1.0f, logits_.data(), vocab, p + wte_, d,
                  0.0f, d_normed_.data() + first * d, d);
    }
  }
  double total = 0.0;
  for (double loss : losses) total += loss;
  return total / static_cast<double>(tokens);
}

// ---- backward --------------------------------------------------------------------------

void CpuBackend::backward(const TokenBatch& batch, const AttentionNoise& noise) {
  const int64_t tokens = static_cast<int64_t>(batch.sequences) * batch.seq_len;
  const int d = model_.d_model, hidden = model_.mlp_hidden;
  const float* p = params_.data();
  float* g = grads_.data();

  // output_head() left d(loss)/d(final LayerNorm output) in d_normed_ and added the head's
  // share of the wte gradient.
  std::fill_n(d_residual_.begin(), tokens * d, 0.0f);
  layernorm_backward(d_residual_.data(), g + lnf_weight_, g + lnf_bias_, d_normed_.data(), layers_.back().output.data(),
                     p + lnf_weight_, lnf_mean_.data(), lnf_rstd_.data(), tokens, d, threads_);

  const AttentionShape shape{batch.sequences, batch.seq_len, model_.heads, d / model_.heads};
  for (int l = model_.layers - 1; l >= 0; --l) {
    const BlockTensors& t = blocks_[l];
    const LayerActivations& a = layers_[l];
    const float* input = l == 0 ? embedded_.data() : layers_[l - 1].output.data();
    // d_residual_ holds d(loss)/d(block output); it flows unchanged through both skips.
    linear_backward(d_hidden_.data(), g + t.mlp_proj_weight, g + t.mlp_proj_bias, d_residual_.data(), a.gelu.data(),
                    p + t.mlp_proj_weight, tokens, hidden, d, threads_);
    gelu_backward(d_hidden_.data(), a.fc.data(), tokens * hidden, threads_);
    linear_backward(d_normed_.data(), g + t.fc_weight, g + t.fc_bias, d_hidden_.data(), a.ln2.data(),
                    p + t.fc_weight, tokens, d, hidden, threads_);
    layernorm_backward(d_residual_.data(), g + t.ln2_weight, g + t.ln2_bias, d_normed_.data(),
                       a.after_attention.data(), p + t.ln2_weight, a.ln2_mean.data(), a.ln2_rstd.data(), tokens, d,
                       threads_);
    linear_backward(d_attention_.data(), g + t.attn_proj_weight, g + t.attn_proj_bias, d_residual_.data(),
                    a.attention.data(), p + t.attn_proj_weight, tokens, d, d, threads_);
    attention_backward(shape, a.qkv.data(), a.attention.data(), a.lse.data(), d_attention_.data(), d_qkv_.data(),
                       threads_, {noise.std, noise.key, l});
    linear_backward(d_normed_.data(), g + t.qkv_weight, g + t.qkv_bias, d_qkv_.data(), a.ln1.data(),
                    p + t.qkv_weight, tokens, d, 3 * d, threads_);
    layernorm_backward(d_residual_.data(), g + t.ln1_weight, g + t.ln1_bias, d_normed_.data(), input,
                       p + t.ln1_weight, a.ln1_mean.data(), a.ln1_rstd.data(), tokens, d, threads_);
  }

  // Embeddings: each task owns a range of columns and walks the tokens in order, so the
  // scatter-add into repeated token rows has no races and a fixed order.
  const int chunks = (d + kColumnChunk - 1) / kColumnChunk;
#pragma omp parallel for schedule(static) num_threads(std::min(chunks, team_size(tokens * d, threads_)))
  for (int chunk = 0; chunk < chunks; ++chunk) {
    const int c0 = chunk * kColumnChunk, c1 = std::min(d, c0 + kColumnChunk);
    for (int64_t row = 0; row < tokens; ++row) {
      const float* dx = d_residual_.data() + row * d;
      float* token = g + wte_ + static_cast<int64_t>(batch.inputs[row]) * d;
      float* position = g + wpe_ + (row % batch.seq_len) * d;
      for (int c = c0; c < c1; ++c) {
        token[c] += dx[c];
        position[c] += dx[c];
      }
    }
  }
}

// ---- the public passes -----------------------------------------------------------------

double CpuBackend::forward_backward(const TokenBatch& batch, float grad_scale, const TrainPassOptions& options) {
  prepare(batch, true);
  if (options.activity && (static_cast<int>(options.activity->mlp_abs.size()) != model_.layers ||
                           static_cast<int>(options.activity->attention_abs.size()) != model_.layers)) {
    throw std::invalid_argument("forward_backward: activity sums are not shaped for this model (ActivitySums::reset)");
  }
  forward_blocks(batch, false, options);
  const double loss = output_head(batch, HeadPass::loss_and_gradient, grad_scale, {});
  backward(batch, options.noise);
  return loss;
}

double CpuBackend::evaluate_loss(const TokenBatch& batch) {
  prepare(batch, true);
  forward_blocks(batch, false);
  return output_head(batch, HeadPass::loss, 1.0f, {});
}

void CpuBackend::forward_logits(const TokenBatch& batch, std::span<float> logits) {
  prepare(batch, false);
  const int64_t tokens = static_cast<int64_t>(batch.sequences) * batch.seq_len;
  if (static_cast<int64_t>(logits.size()) != tokens * model_.vocab) {
    throw std::invalid_argument("forward_logits: output must hold tokens * vocab floats");
  }
  forward_blocks(batch, false);
  output_head(batch, HeadPass::logits, 1.0f, logits);
}

double CpuBackend::grad_norm() { return std::sqrt(sum_of_squares(grads_.data(), layout_.total, threads_)); }

void CpuBackend::scale_gradients(float factor) {
  float* g = grads_.data();
#pragma omp parallel for schedule(static) num_threads(team_size(layout_.total, threads_))
  for (int64_t i = 0; i < layout_.total; ++i) g[i] *= factor;
}

void CpuBackend::zero_gradients() { std::fill(grads_.begin(), grads_.end(), 0.0f); }

void CpuBackend::reset_optimizer() {
  std::fill(adam_m_.begin(), adam_m_.end(), 0.0f);
  std::fill(adam_v_.begin(), adam_v_.end(), 0.0f);
}

void CpuBackend::adamw_step(const AdamWStep& u) {
  if (u.step < 1) throw std::invalid_argument("adamw_step: step must be 1-based, got " + std::to_string(u.step));
  const float beta1 = static_cast<float>(u.beta1), beta2 = static_cast<float>(u.beta2);
  const float one_minus_beta1 = static_cast<float>(1.0 - u.beta1), one_minus_beta2 = static_cast<float>(1.0 - u.beta2);
  const float step_size = static_cast<float>(u.lr / (1.0 - std::pow(u.beta1, static_cast<double>(u.step))));
  const float correction2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(u.beta2, static_cast<double>(u.step))));
  const float eps = static_cast<float>(u.eps);
  // One parallel region for the whole buffer; tensors touch disjoint memory, so no barrier
  // between them (nowait).
#pragma omp parallel num_threads(team_size(layout_.total, threads_))
  for (const TensorInfo& tensor : layout_.tensors) {
    const bool decayed = tensor.weight_decay() || (u.decay_norm_gains && tensor.kind == TensorKind::norm_gain);
    const float decay = decayed ? static_cast<float>(1.0 - u.lr * u.weight_decay) : 1.0f;
    float* p = params_.data() + tensor.offset;
    const float* g = grads_.data() + tensor.offset;
    float* m = adam_m_.data() + tensor.offset;
    float* v = adam_v_.data() + tensor.offset;
#pragma omp for schedule(static) nowait
    for (int64_t i = 0; i < tensor.size; ++i) {
      m[i] = m[i] * beta1 + g[i] * one_minus_beta1;
      v[i] = v[i] * beta2 + g[i] * g[i] * one_minus_beta2;
      const float denominator = std::sqrt(v[i]) / correction2_sqrt + eps;
      p[i] = p[i] * decay - step_size * m[i] / denominator;
    }
  }
}

void CpuBackend::copy_from(const ModelBackend& other) {
  if (other.layout().total != layout_.total || other.config().layers != model_.layers ||
      other.config().d_model != model_.d_model || other.config().vocab != model_.vocab) {
    throw std::invalid_argument("copy_from: the other backend's model differs from this one");
  }
  other.read_buffer(BufferKind::parameters, 0, params_);
  other.read_buffer(BufferKind::adam_m, 0, adam_m_);
  other.read_buffer(BufferKind::adam_v, 0, adam_v_);
  zero_gradients();
}

ParameterStats CpuBackend::parameter_stats() {
  const int tensors = static_cast<int>(layout_.tensors.size());
  std::vector<double> squares(tensors), abs_sums(tensors);
#pragma omp parallel for schedule(static) num_threads(team_size(layout_.total, threads_))
  for (int t = 0; t < tensors; ++t) {
    const TensorInfo& tensor = layout_.tensors[t];
    const float* p = params_.data() + tensor.offset;
    double square = 0.0, abs_sum = 0.0;
    for (int64_t i = 0; i < tensor.size; ++i) {
      square += static_cast<double>(p[i]) * p[i];
      abs_sum += std::fabs(p[i]);
    }
    squares[t] = square;
    abs_sums[t] = abs_sum;
  }
  ParameterStats stats;
  double abs_total = 0.0;
  int64_t counted = 0;
  for (int t = 0; t < tensors; ++t) {
    stats.tensor_l2.push_back(std::sqrt(squares[t]));
    if (layout_.tensors[t].nonembedding()) {
      abs_total += abs_sums[t];
      counted += layout_.tensors[t].size;
    }
  }
  stats.nonembedding_abs_mean = abs_total / static_cast<double>(counted);
  return stats;
}

void CpuBackend::capture(const TokenBatch& batch, const CaptureOptions& options, Capture& out) {
  prepare(batch, false);
  forward_blocks(batch, true);
  const int64_t tokens = static_cast<int64_t>(batch.sequences) * batch.seq_len;
  const int d = model_.d_model, hidden = model_.mlp_hidden, heads = model_.heads, seq_len = batch.seq_len;
  const int rows = static_cast<int>(std::min<int64_t>(std::max(options.residual_rows, 0), tokens));
  out.tokens = tokens;
  out.seq_len = seq_len;
  out.residual_rows = rows;
  out.layers.assign(model_.layers, LayerCapture{});
  for (int l = 0; l < model_.layers; ++l) {
    const LayerActivations& a = layers_[l];
    LayerCapture& c = out.layers[l];
    c.mlp_abs_mean.assign(hidden, 0.0);
    c.mlp_zero_tokens.assign(hidden, 0);
    const int chunks = (hidden + kColumnChunk - 1) / kColumnChunk;
#pragma omp parallel for schedule(static) num_threads(std::min(chunks, team_size(tokens * hidden, threads_)))
    for (int chunk = 0; chunk < chunks; ++chunk) {
      const int u0 = chunk * kColumnChunk, u1 = std::min(hidden, u0 + kColumnChunk);
      for (int64_t row = 0; row < tokens; ++row) {
        const float* h = a.gelu.data() + row * hidden;
        for (int u = u0; u < u1; ++u) {
          c.mlp_abs_mean[u] += std::fabs(h[u]);
          c.mlp_zero_tokens[u] += h[u] == 0.0f;
        }
      }
      for (int u = u0; u < u1; ++u) c.mlp_abs_mean[u] /= static_cast<double>(tokens);
    }
    c.attention_entropy.assign(static_cast<size_t>(heads) * seq_len, 0.0);
    for (int b = 0; b < batch.sequences; ++b) {
      for (int64_t i = 0; i < static_cast<int64_t>(heads) * seq_len; ++i) {
        c.attention_entropy[i] += a.entropy[static_cast<int64_t>(b) * heads * seq_len + i];
      }
    }
    for (double& value : c.attention_entropy) value /= batch.sequences;
    c.residual.resize(static_cast<size_t>(rows) * d);
    for (int r = 0; r < rows; ++r) {
      const int64_t token = static_cast<int64_t>(r) * tokens / rows;
      std::copy_n(a.output.begin() + token * d, d, c.residual.begin() + static_cast<int64_t>(r) * d);
    }
  }
}

}  // namespace plascale
