#pragma once
// A naive double-precision forward of the GPT model described in worker/backend.h, written
// for clarity (plain loops, materialised attention matrices) to check the CPU backend
// against: its loss, its gradients (by finite differences of this loss) and its captured
// diagnostics.

#include "worker/param_layout.h"

#include <cmath>
#include <cstdint>
#include <vector>

namespace plascale::testing {

struct ReferenceForward {
  double loss = 0;
  std::vector<double> logits;                // [tokens, vocab]
  std::vector<std::vector<double>> gelu;     // per layer [tokens, hidden]
  std::vector<std::vector<double>> entropy;  // per layer [sequences, heads, seq_len]
  std::vector<std::vector<double>> output;   // per layer [tokens, d]
};

inline void reference_layernorm(std::vector<double>& out, const std::vector<double>& in, const double* gain,
                                const double* shift, int64_t rows, int cols) {
  out.assign(in.size(), 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int c = 0; c < cols; ++c) mean += in[r * cols + c] / cols;
    for (int c = 0; c < cols; ++c) var += (in[r * cols + c] - mean) * (in[r * cols + c] - mean) / cols;
    const double rstd = 1.0 / std::sqrt(var + 1e-5);
    for (int c = 0; c < cols; ++c) out[r * cols + c] = (in[r * cols + c] - mean) * rstd * gain[c] + shift[c];
  }
}

// out[r, o] = bias[o] + sum_i in[r, i] weight[o, i]
inline std::vector<double> reference_linear(const std::vector<double>& in, const double* weight, const double* bias,
                                            int64_t rows, int in_cols, int out_cols) {
  std::vector<double> out(rows * out_cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int o = 0; o < out_cols; ++o) {
      double sum = bias ? bias[o] : 0.0;
      for (int i = 0; i < in_cols; ++i) sum += in[r * in_cols + i] * weight[static_cast<int64_t>(o) * in_cols + i];
      out[r * out_cols + o] = sum;
    }
  return out;
}

inline ReferenceForward reference_forward(const ModelConfig& m, const ParamLayout& layout,
                                          const std::vector<double>& params, const std::vector<int32_t>& inputs,
                                          const std::vector<int32_t>& targets, int sequences, int seq_len) {
  const int d = m.d_model, hidden = m.mlp_hidden, heads = m.heads, head_dim = d / heads;
  const int64_t tokens = static_cast<int64_t>(sequences) * seq_len;
  auto tensor = [&](const std::string& name) { return params.data() + layout.at(name).offset; };
  ReferenceForward result;
  std::vector<double> x(tokens * d);
  for (int64_t r = 0; r < tokens; ++r)
    for (int c = 0; c < d; ++c)
      x[r * d + c] = tensor("wte")[inputs[r] * d + c] + tensor("wpe")[(r % seq_len) * d + c];
  for (int l = 0; l < m.layers; ++l) {
    auto t = [&](const char* suffix) { return tensor(layer_tensor_name(l, suffix)); };
    std::vector<double> normed;
    reference_layernorm(normed, x, t("ln1.weight"), t("ln1.bias"), tokens, d);
    const std::vector<double> qkv = reference_linear(normed, t("attn.qkv.weight"), t("attn.qkv.bias"), tokens, d, 3 * d);
    std::vector<double> attention(tokens * d, 0.0);
    std::vector<double> entropy(static_cast<int64_t>(sequences) * heads * seq_len);
    for (int b = 0; b < sequences; ++b)
      for (int h = 0; h < heads; ++h)
        for (int i = 0; i < seq_len; ++i) {
          const double* q = &qkv[(b * seq_len + i) * 3 * d + h * head_dim];
          std::vector<double> scores(i + 1);
          double max_score = -1e300;
          for (int j = 0; j <= i; ++j) {
            const double* k = &qkv[(b * seq_len + j) * 3 * d + d + h * head_dim];
            double dot = 0;
            for (int c = 0; c < head_dim; ++c) dot += q[c] * k[c];
            scores[j] = dot / std::sqrt(static_cast<double>(head_dim));
            max_score = std::max(max_score, scores[j]);
          }
          double sum = 0;
          for (double s : scores) sum += std::exp(s - max_score);
          double h_row = 0;
          for (int j = 0; j <= i; ++j) {
            const double p = std::exp(scores[j] - max_score) / sum;
            if (p > 0) h_row -= p * std::log(p);
            const double* v = &qkv[(b * seq_len + j) * 3 * d + 2 * d + h * head_dim];
            for (int c = 0; c < head_dim; ++c) attention[(b * seq_len + i) * d + h * head_dim + c] += p * v[c];
          }
          entropy[(static_cast<int64_t>(b) * heads + h) * seq_len + i] = h_row;
        }
    const std::vector<double> projected =
        reference_linear(attention, t("attn.proj.weight"), t("attn.proj.bias"), tokens, d, d);
    for (int64_t i = 0; i < tokens * d; ++i) x[i] += projected[i];
    reference_layernorm(normed, x, t("ln2.weight"), t("ln2.bias"), tokens, d);
    std::vector<double> fc = reference_linear(normed, t("mlp.fc.weight"), t("mlp.fc.bias"), tokens, d, hidden);
    for (double& value : fc) {
      value = 0.5 * value * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (value + 0.044715 * value * value * value)));
    }
    const std::vector<double> mlp = reference_linear(fc, t("mlp.proj.weight"), t("mlp.proj.bias"), tokens, hidden, d);
    for (int64_t i = 0; i < tokens * d; ++i) x[i] += mlp[i];
    result.gelu.push_back(fc);
    result.entropy.push_back(entropy);
    result.output.push_back(x);
  }
  std::vector<double> normed;
  reference_layernorm(normed, x, tensor("lnf.weight"), tensor("lnf.bias"), tokens, d);
  result.logits = reference_linear(normed, tensor("wte"), nullptr, tokens, d, m.vocab);
  if (!targets.empty()) {
    for (int64_t r = 0; r < tokens; ++r) {
      const double* row = &result.logits[r * m.vocab];
      double max_logit = row[0];
      for (int v = 1; v < m.vocab; ++v) max_logit = std::max(max_logit, row[v]);
      double sum = 0;
      for (int v = 0; v < m.vocab; ++v) sum += std::exp(row[v] - max_logit);
      result.loss += (max_logit + std::log(sum) - row[targets[r]]) / static_cast<double>(tokens);
    }
  }
  return result;
}

}  // namespace plascale::testing
