#pragma once
// The layout table of the GPT model's flat buffers. Parameters, gradients and both AdamW
// moments are each ONE contiguous float array with this layout (DESIGN.md "Parameters in
// one buffer"); norms, checkpoints, mitigations and the CPU/CUDA comparison index them
// through it.
//
// Tensor order and names (PyTorch-style; every Linear weight is [out, in], y = x W^T + b):
//   wte                      [vocab, d]        token embedding, tied with the output head
//   wpe                      [context, d]      learned absolute positions
//   h.<l>.ln1.weight/.bias   [d]               LayerNorm before attention
//   h.<l>.attn.qkv.weight    [3d, d]           rows: all of q, then k, then v; head j uses
//   h.<l>.attn.qkv.bias      [3d]                columns j*d/heads .. (j+1)*d/heads of each
//   h.<l>.attn.proj.weight   [d, d]
//   h.<l>.attn.proj.bias     [d]
//   h.<l>.ln2.weight/.bias   [d]
//   h.<l>.mlp.fc.weight      [mlp_hidden, d]
//   h.<l>.mlp.fc.bias        [mlp_hidden]
//   h.<l>.mlp.proj.weight    [d, mlp_hidden]
//   h.<l>.mlp.proj.bias      [d]
//   lnf.weight/.bias         [d]               final LayerNorm
// Each layer's tensors are contiguous, so one layer is one slice of the buffer.

#include "sweeps/run_spec.h"

#include <cstdint>
#include <string>
#include <vector>

namespace plascale {

enum class TensorKind {
  token_embedding,     // wte
  position_embedding,  // wpe
  matrix,              // Linear weights
  bias,                // Linear biases
  norm_gain,           // LayerNorm weights
  norm_bias,           // LayerNorm biases
};

struct TensorInfo {
  std::string name;
  TensorKind kind = TensorKind::matrix;
  int layer = -1;              // block index; -1 for wte, wpe and lnf
  std::vector<int64_t> shape;  // row-major
  int64_t offset = 0;          // first element in the flat buffer
  int64_t size = 0;            // elements

  // AdamW decays every 2-D tensor (Linear weights and both embeddings, as GPT-2, nanoGPT
  // and llm.c do) and never LayerNorm gains, LayerNorm biases or Linear biases.
  bool weight_decay() const { return shape.size() >= 2; }
  // Counted in the non-embedding parameters (REFERENCES.md 1): everything but wte and wpe.
  bool nonembedding() const {
    return kind != TensorKind::token_embedding && kind != TensorKind::position_embedding;
  }
};

struct ParamLayout {
  std::vector<TensorInfo> tensors;  // in buffer order, no gaps
  int64_t total = 0;                // elements of the whole buffer

  // The tensor with this name; throws std::out_of_range naming it when absent.
  const TensorInfo& at(const std::string& name) const;
  // Index into `tensors` of the tensor that holds flat element `element`.
  int tensor_of(int64_t element) const;
};

// Throws std::invalid_argument when the config is not a buildable model (a dimension < 1,
// heads not dividing d_model).
void validate_model_config(const ModelConfig& model);

// The layout of the GPT model described above. Its non-embedding total equals
// nonembedding_params(model) and its total equals total_params(model).
ParamLayout gpt_layout(const ModelConfig& model);

// Standard tensor name for block `layer`, e.g. layer_tensor_name(2, "mlp.fc.weight").
std::string layer_tensor_name(int layer, const std::string& suffix);

}  // namespace plascale
