#pragma once
// The compute backend interface: everything the trainer, the probe, the diagnostics and
// the mitigations (worker/mitigations/) ask of the model. The CPU backend
// (worker/cpu_backend.h, fp32, OpenMP + OpenBLAS) is the reference; the CUDA backend will
// implement the same calls and must match it. A backend owns four flat float buffers with
// the layout of gpt_layout(model) (worker/param_layout.h): parameters, gradients, AdamW
// first and second moments. The host reads and edits them through read_buffer/write_buffer.
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
  bool decay_norm_gains = false;  // also decay LayerNorm gains (the weight_decay mitigation)
};

// Gaussian noise on the attention logits of a training pass (the attention_noise
// mitigation). Score (query i, key j) of sequence b, head h in block l becomes
//   q.k / sqrt(head_dim) + std * philox_normals(pair_key, i, j / 4)[j % 4]   (worker/rng.h)
// with pair_key = derive_seed(key, "attention-noise", {l, b * heads + h}), so the backward
// sees the same noise as the forward and a CUDA backend draws the same numbers.
struct AttentionNoise {
  float std = 0;  // 0 = no noise
  uint64_t key = 0;
};

// Per-unit activation sums of training passes, added up over calls (continual backprop
// and ReDo read them). Means are sums / tokens.
struct ActivitySums {
  int64_t tokens = 0;
  // [layer][mlp_hidden]: sums over tokens of |GELU output| and of the GELU output.
  std::vector<std::vector<double>> mlp_abs, mlp;
  // [layer][d]: the same for the attention output before attn.proj (head h owns columns
  // h * head_dim .. (h + 1) * head_dim).
  std::vector<std::vector<double>> attention_abs, attention;

  // Zero sums shaped for `model`.
  void reset(const ModelConfig& model);
};

// What a training forward/backward adds for the mitigations; the defaults add nothing.
struct TrainPassOptions {
  AttentionNoise noise;
  ActivitySums* activity = nullptr;  // when set, this batch's sums are added to it
};

// Units whose weights a mitigation re-initialises (continual backprop, ReDo).
enum class UnitKind {
  mlp_unit,        // hidden unit i of a block's MLP: incoming row i of mlp.fc.weight and
                   // mlp.fc.bias[i], outgoing column i of mlp.proj.weight
  attention_head,  // head h: incoming rows of attn.qkv.weight for its q, k and v columns
                   // (rows part * d + h * head_dim + r, part = 0, 1, 2) and those
                   // attn.qkv.bias entries, outgoing columns h * head_dim .. of attn.proj.weight
};

struct UnitReset {
  UnitKind kind = UnitKind::mlp_unit;
  int layer = 0;
  std::vector<int> units;  // distinct unit (or head) indices
  // Stream of the redrawn incoming weights: element e (row-major index within the tensor)
  // becomes init_normal(key, e, init_std(tensor)) (worker/gpt_init.h).
  uint64_t key = 0;
  // Empty, or the units' mean outputs (units.size() x width, width 1 for MLP units and
  // head_dim for heads): bias correction adds outgoing weights x mean output to the next
  // bias (mlp.proj.bias or attn.proj.bias) before the outgoing weights are zeroed.
  std::vector<float> mean_output;
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
  // gradient). Returns the batch's mean loss. Only this training pass ever takes attention
  // noise; the evaluation calls below never do.
  virtual double forward_backward(const TokenBatch& batch, float grad_scale = 1.0f,
                                  const TrainPassOptions& options = {}) = 0;
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

  // ---- in-place edits of the mitigations (worker/mitigations/) ----

  // out[unit] = mean |outgoing weight| of each unit of block `layer`: for MLP unit i the
  // mean over k of |mlp.proj.weight[k, i]|, for head h the mean over its head_dim columns
  // of attn.proj.weight. out.size() = mlp_hidden or heads.
  virtual void outgoing_weight_magnitude(UnitKind kind, int layer, std::span<double> out) const = 0;
  // Re-initialises the units: incoming weights redrawn (see UnitReset::key), incoming
  // biases 0, optional bias correction, outgoing weights 0, and both AdamW moments of every
  // one of those weights and incoming biases 0 (the next bias's moments are kept).
  virtual void reset_units(const UnitReset& reset) = 0;
  // theta <- shrink * theta + sigma * N(0, 1) on every element of the listed tensors
  // (indices into layout().tensors); flat element e draws
  // philox_normals(key, lo32(e / 4), hi32(e / 4))[e % 4] (worker/rng.h).
  virtual void shrink_perturb(std::span<const int> tensors, float shrink, float sigma, uint64_t key) = 0;
  // Keeps a copy of the current parameters as theta_0 (L2-Init).
  virtual void keep_anchor() = 0;
  // Adds strength * ||theta - theta_0||^2 to the objective: gradients += 2 strength
  // (theta - theta_0) over every parameter. Returns the penalty (summed in double in a
  // fixed order). Throws std::logic_error when no anchor is kept.
  virtual double add_anchor_penalty(double strength) = 0;
  // Clamps every LayerNorm gain to [-max_gain, max_gain]; returns how many elements changed.
  virtual int64_t clamp_norm_gains(float max_gain) = 0;
  // Scales every Linear weight matrix (per_tensor) or every row of one (a unit's incoming
  // weights) whose L2 norm exceeds max_norm down to max_norm; returns how many were scaled.
  virtual int64_t limit_matrix_norms(float max_norm, bool per_tensor) = 0;
};

struct BackendOptions {
  Backend kind = Backend::cpu;
  int threads = 0;  // CPU threads for OpenMP and OpenBLAS; 0 = all cores
};

// Throws std::invalid_argument for a bad model config, std::runtime_error for a backend this
// build does not have.
std::unique_ptr<ModelBackend> make_backend(const ModelConfig& model, const BackendOptions& options);

}  // namespace plascale
