#pragma once
// The compute backend interface: everything the trainer, the probe, the diagnostics and
// (later) the mitigations ask of the model. The CPU backend (worker/cpu_backend.h, fp32,
// OpenMP + OpenBLAS) is the reference; the CUDA backend will implement the same calls and
// must match it. A backend owns four flat float buffers with the layout of
// gpt_layout(model) (worker/param_layout.h): parameters, gradients, AdamW first and second
// moments. The host reads and edits them through read_buffer/write_buffer.
//
// The model (see param_layout.h for tensor names): token + position embedding; per block
// x += attn(ln1(x)); x += mlp(ln2(x)) with causal multi-head attention (scale 1/sqrt(head
// dim)) and MLP fc -> GELU (tanh approximation, as GPT-2, llm.c and PyTorch's
// nn.GELU(approximate="tanh")) -> proj; final LayerNorm (eps 1e-5); logits = x wte^T (tied);
// loss = cross-entropy averaged over every token of the batch.

#include "sweeps/run_spec.h"
#include "worker/param_layout.h"

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace plascale {

// `sequences` rows of `seq_len` tokens each, row-major. targets[i] is the token that
// follows inputs[i]. seq_len may be shorter than the model's context (positions start at 0).
// Token ids must lie in [0, vocab); the backend checks and throws std::out_of_range.
struct TokenBatch {
  std::span<const int32_t> inputs;
  std::span<const int32_t> targets;  // may be empty for calls that need no loss
  int sequences = 0;
  int seq_len = 0;
};

enum class BufferKind { parameters, gradients, adam_m, adam_v };

// One AdamW update (PyTorch torch.optim.AdamW semantics, decoupled weight decay):
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   p *= 1 - lr * weight_decay          (only tensors with TensorInfo::weight_decay())
//   p -= lr / (1 - b1^step) * m / (sqrt(v) / sqrt(1 - b2^step) + eps)
struct AdamWStep {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;
  int64_t step = 1;  // 1-based count of updates since the last reset_optimizer(); the caller
                     // owns it (and checkpoints it) and increments it before each call
};

// Per-tensor statistics of the parameters, in layout order.
struct ParameterStats {
  std::vector<double> tensor_l2;     // L2 norm of each tensor (LayerNorm gains/biases included)
  double nonembedding_abs_mean = 0;  // mean |theta| over every non-embedding parameter
};

struct CaptureOptions {
  // How many block-output rows (tokens) to keep per layer for effective rank: evenly spaced
  // over the batch's tokens (row r = token floor(r * tokens / residual_rows)); capped at the
  // batch's token count.
  int residual_rows = 256;
};

// What one diagnostics forward pass sees inside each block.
struct LayerCapture {
  std::vector<double> mlp_abs_mean;      // [mlp_hidden] mean over tokens of |GELU output|
  std::vector<int64_t> mlp_zero_tokens;  // [mlp_hidden] tokens where the GELU output == 0
  // [heads, seq_len] entropy in nats of the attention distribution of query position i,
  // averaged over the batch's sequences; computed inside the fused attention from the
  // scores (H = logsumexp(s) - sum_j p_j s_j), never from a stored T x T matrix.
  std::vector<double> attention_entropy;
  std::vector<float> residual;  // [rows, d] residual stream after the block
};

struct Capture {
  int64_t tokens = 0;      // tokens the means are over
  int seq_len = 0;
  int residual_rows = 0;
  std::vector<LayerCapture> layers;
};

class ModelBackend {
 public:
  virtual ~ModelBackend() = default;

  virtual const ModelConfig& config() const = 0;
  virtual const ParamLayout& layout() const = 0;

  // Fills the parameters with init_gpt_parameters(layout(), layers, seed) (worker/gpt_init.h),
  // zeroes gradients and moments.
  virtual void init_parameters(uint64_t seed) = 0;

  // Host access to a range [offset, offset + data.size()) of one flat buffer. In-place edits
  // (re-initialising units with init_value(), zeroing their moments, checkpoint restore) are
  // read-modify-write through these; throws std::out_of_range for a range outside the buffer.
  virtual void read_buffer(BufferKind kind, int64_t offset, std::span<float> data) const = 0;
  virtual void write_buffer(BufferKind kind, int64_t offset, std::span<const float> data) = 0;

  // Forward and backward on the batch. ADDS grad_scale * d(mean loss)/d(theta) to the
  // gradient buffer (so k micro-batches with grad_scale 1/k accumulate the full batch's
  // gradient). Returns the batch's mean loss.
  virtual double forward_backward(const TokenBatch& batch, float grad_scale = 1.0f) = 0;
  // Mean loss without touching gradients.
  virtual double evaluate_loss(const TokenBatch& batch) = 0;
  // Logits [sequences * seq_len, vocab] (for cross-checks; targets unused).
  virtual void forward_logits(const TokenBatch& batch, std::span<float> logits) = 0;

  virtual double grad_norm() = 0;  // global L2 norm of the gradient buffer
  virtual void scale_gradients(float factor) = 0;
  virtual void zero_gradients() = 0;

  virtual void adamw_step(const AdamWStep& update) = 0;
  virtual void reset_optimizer() = 0;  // zero both moments

  // Parameters and both moments become those of `other` (same model config); gradients are
  // zeroed. The probe's model copy.
  virtual void copy_from(const ModelBackend& other) = 0;

  virtual ParameterStats parameter_stats() = 0;

  // A forward pass recording per-layer diagnostics (targets unused).
  virtual void capture(const TokenBatch& batch, const CaptureOptions& options, Capture& out) = 0;
};

struct BackendOptions {
  Backend kind = Backend::cpu;
  int threads = 0;  // CPU threads for OpenMP and OpenBLAS; 0 = all cores
};

// Throws std::invalid_argument for a bad model config, std::runtime_error for a backend this
// build does not have.
std::unique_ptr<ModelBackend> make_backend(const ModelConfig& model, const BackendOptions& options);

}  // namespace plascale
