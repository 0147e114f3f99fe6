#pragma once
// Attention entropy per head (REFERENCES.md 1). Query position t (0-based) of a causal head
// attends to keys 0..t, t + 1 of them, so its entropy lies in [0, ln(t + 1)]. Over the
// query range [begin, end):
//   H(head) = mean over t of H_t,   H_t = -sum_j p_tj ln p_tj   (nats)
//   H_max   = mean over t of ln(t + 1)
// This is REFERENCES.md's "mean of ln(i) over the query positions i" with i the 1-based
// position, i.e. the number of visible keys. A head is lazy if H > lazy_fraction * H_max
// (attention smeared evenly) and collapsed if H < collapsed_fraction * H_max (one key).

#include <cstdint>
#include <span>
#include <vector>

namespace plascale {

// Entropy (nats) of softmax(logits), computed stably as logsumexp(s) - sum_j p_j s_j.
double softmax_entropy(std::span<const float> logits);

// Reference for the fused attention: entropies [seq_len] of every query row of one head's
// pre-softmax causal scores [seq_len, seq_len] (row t uses columns 0..t; the rest ignored).
std::vector<double> causal_row_entropies(std::span<const float> scores, int seq_len);

// H_max of the query range [query_begin, query_end), 0 <= begin < end.
double max_attention_entropy(int query_begin, int query_end);

// Mean entropy of every head over [query_begin, query_end) from per-position entropies
// [heads, seq_len] (as in LayerCapture::attention_entropy).
std::vector<double> head_entropies(std::span<const double> position_entropy, int heads, int seq_len,
                                   int query_begin, int query_end);

struct HeadCounts {
  int lazy = 0;
  int collapsed = 0;
};
HeadCounts classify_heads(std::span<const double> head_entropy, double max_entropy,
                          double lazy_fraction, double collapsed_fraction);

}  // namespace plascale
