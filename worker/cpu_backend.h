#pragma once
// The CPU backend: fp32, OpenMP (static schedules) and OpenBLAS sgemm, one readable path
// through forward, backward and the AdamW update in the style of llm.c. For a given thread
// count every result is bit-identical from run to run: loops are statically partitioned,
// nothing uses atomics, and every reduction runs in a fixed order.
// Activations are kept for the largest batch seen so far and reused.

#include "worker/backend.h"

#include <span>
#include <vector>

namespace plascale {

class CpuBackend final : public ModelBackend {
 public:
  // threads: OpenMP and OpenBLAS threads for every call; 0 = all cores. OpenBLAS's thread
  // count is process-wide, so each pass sets it to this backend's count before its sgemms.
  CpuBackend(const ModelConfig& model, int threads);

  const ModelConfig& config() const override { return model_; }
  const ParamLayout& layout() const override { return layout_; }
  int threads() const { return threads_; }

  void init_parameters(uint64_t seed) override;
  void read_buffer(BufferKind kind, int64_t offset, std::span<float> data) const override;
  void write_buffer(BufferKind kind, int64_t offset, std::span<const float> data) override;

  double forward_backward(const TokenBatch& batch, float grad_scale = 1.0f,
                          const TrainPassOptions& options = {}) override;
  double evaluate_loss(const TokenBatch& batch) override;
  void forward_logits(const TokenBatch& batch, std::span<float> logits) override;

  double grad_norm() override;
  void scale_gradients(float factor) override;
  void zero_gradients() override;
  void adamw_step(const AdamWStep& update) override;
  void reset_optimizer() override;
  void copy_from(const ModelBackend& other) override;
  ParameterStats parameter_stats() override;
  void capture(const TokenBatch& batch, const CaptureOptions& options, Capture& out) override;

  void outgoing_weight_magnitude(UnitKind kind, int layer, std::span<double> out) const override;
  void reset_units(const UnitReset& reset) override;
  void shrink_perturb(std::span<const int> tensors, float shrink, float sigma, uint64_t key) override;
  void keep_anchor() override;
  double add_anchor_penalty(double strength) override;
  int64_t clamp_norm_gains(float max_gain) override;
  int64_t limit_matrix_norms(float max_norm, bool per_tensor) override;

  // Direct views of the flat buffers (the CPU backend's buffers ARE host memory).
  std::span<float> buffer(BufferKind kind);
  std::span<const float> buffer(BufferKind kind) const;

 private:
  static constexpr int64_t kHeadRows = 512;  // tokens per output-head chunk

  // Offsets of one block's tensors in the flat buffers.
  struct BlockTensors {
    int64_t ln1_weight, ln1_bias, qkv_weight, qkv_bias, attn_proj_weight, attn_proj_bias;
    int64_t ln2_weight, ln2_bias, fc_weight, fc_bias, mlp_proj_weight, mlp_proj_bias;
  };
  // What one block's forward keeps for the backward ([tokens, width] row-major).
  struct LayerActivations {
    std::vector<float> ln1, ln1_mean, ln1_rstd;  // LayerNorm output and its row statistics
    std::vector<float> qkv;                      // [tokens, 3d]
    std::vector<float> attention;                // [tokens, d] attention output before proj
    std::vector<float> lse, entropy;             // [sequences, heads, seq_len]
    std::vector<float> after_attention;          // residual stream after x += attn(...)
    std::vector<float> ln2, ln2_mean, ln2_rstd;
    std::vector<float> fc, gelu;                 // [tokens, mlp_hidden] before / after GELU
    std::vector<float> output;                   // residual stream after the block
  };

  // Checks the batch and grows the activations to hold it.
  void prepare(const TokenBatch& batch, bool need_targets);
  // Embedding and every block; with record_entropy the attention also writes per-row
  // entropies. `pass` (training only) adds attention noise and activity sums.
  void forward_blocks(const TokenBatch& batch, bool record_entropy, const TrainPassOptions& pass = {});
  enum class HeadPass { loss, loss_and_gradient, logits };
  // Final LayerNorm, then the tied output head and the cross-entropy over chunks of
  // kHeadRows tokens, so that only one chunk's logits exist. Returns the mean loss (0 for
  // HeadPass::logits, which copies the logits to logits_out). loss_and_gradient also adds the
  // head's share of the wte gradient and leaves d(loss)/d(final LayerNorm output) in d_normed_.
  double output_head(const TokenBatch& batch, HeadPass pass, float grad_scale, std::span<float> logits_out);
  void backward(const TokenBatch& batch, const AttentionNoise& noise);

  ModelConfig model_;
  ParamLayout layout_;
  std::vector<BlockTensors> blocks_;
  int64_t wte_, wpe_, lnf_weight_, lnf_bias_;
  int threads_;
  std::vector<float> params_, grads_, adam_m_, adam_v_;
  std::vector<float> anchor_;  // theta_0 of L2-Init; empty until keep_anchor()
  std::vector<LayerActivations> layers_;
  std::vector<float> embedded_;  // [tokens, d] input of block 0
  std::vector<float> lnf_, lnf_mean_, lnf_rstd_;
  std::vector<float> logits_;    // [kHeadRows, vocab] one chunk; becomes d_logits in the backward
  std::vector<float> d_residual_, d_normed_, d_qkv_, d_attention_, d_hidden_;
  int64_t capacity_tokens_ = 0;
};

}  // namespace plascale
