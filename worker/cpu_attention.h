#pragma once
// Fused causal multi-head attention on the CPU (fp32), flash-style: queries are processed
// one block at a time and only that block's scores (query_block x keys) ever exist, so
// memory is O(threads * query_block * T), not O(T^2). The forward stores each row's
// logsumexp; the backward recomputes the block's probabilities from it.
//
// Layouts (row-major): qkv [sequences, seq_len, 3d] with q, k, v in column ranges [0,d),
// [d,2d), [2d,3d) and head h in columns [h*head_dim, (h+1)*head_dim) of each; out and
// d_out [sequences, seq_len, d]; per-row statistics [sequences, heads, seq_len].
// Scores are q.k / sqrt(head_dim); query i sees keys 0..i.
// Work is split over (sequence, head) pairs with a static schedule: for a given thread
// count the results are bit-identical from run to run.

#include <cstdint>

namespace plascale {

struct AttentionShape {
  int sequences = 0;
  int seq_len = 0;
  int heads = 0;
  int head_dim = 0;
};

// Gaussian noise on the scores of block `layer` (the attention_noise mitigation; backend.h
// AttentionNoise says which numbers). std 0 = none. The backward must get the same noise
// as the forward.
struct ScoreNoise {
  float std = 0;
  uint64_t key = 0;
  int layer = 0;
};

// Writes out and lse. When entropy is not null it also writes the entropy (nats) of each
// row's attention distribution, H = lse - sum_j p_j s_j, from the same scores.
void attention_forward(const AttentionShape& shape, const float* qkv, float* out, float* lse, float* entropy,
                       int threads, const ScoreNoise& noise = {});

// Writes d_qkv (every element, overwriting) from d_out, given the forward's inputs,
// output and lse.
void attention_backward(const AttentionShape& shape, const float* qkv, const float* out, const float* lse,
                        const float* d_out, float* d_qkv, int threads, const ScoreNoise& noise = {});

}  // namespace plascale
