#include "worker/diagnostics/attention_entropy.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace plascale {
namespace {

void check_range(int query_begin, int query_end, int seq_len) {
  if (query_begin < 0 || query_end <= query_begin || query_end > seq_len) {
    throw std::invalid_argument("attention entropy: query range [" + std::to_string(query_begin) + ", " +
                                std::to_string(query_end) + ") must satisfy 0 <= begin < end <= " +
                                std::to_string(seq_len));
  }
}

}  // namespace

double softmax_entropy(std::span<const float> logits) {
  if (logits.empty()) throw std::invalid_argument("softmax_entropy: no logits");
  // With m = max s, Z = sum exp(s_j - m): H = log Z + m - sum p_j s_j = log Z - sum p_j (s_j - m).
  const double max_logit = *std::max_element(logits.begin(), logits.end());
  double partition = 0, weighted = 0;
  for (float logit : logits) {
    const double shifted = logit - max_logit;
    const double weight = std::exp(shifted);
    partition += weight;
    if (weight > 0) weighted += weight * shifted;  // a -inf (masked) logit contributes 0, not NaN
  }
  return std::log(partition) - weighted / partition;
}

std::vector<double> causal_row_entropies(std::span<const float> scores, int seq_len) {
  if (static_cast<int64_t>(scores.size()) != int64_t{seq_len} * seq_len) {
    throw std::invalid_argument("causal_row_entropies: scores must be seq_len x seq_len");
  }
  std::vector<double> entropies(seq_len);
  for (int t = 0; t < seq_len; ++t) {
    entropies[t] = softmax_entropy(scores.subspan(static_cast<size_t>(t) * seq_len, static_cast<size_t>(t) + 1));
  }
  return entropies;
}

double max_attention_entropy(int query_begin, int query_end) {
  check_range(query_begin, query_end, query_end);
  double total = 0;
  for (int t = query_begin; t < query_end; ++t) total += std::log(static_cast<double>(t) + 1.0);
  return total / (query_end - query_begin);
}

std::vector<double> head_entropies(std::span<const double> position_entropy, int heads, int seq_len,
                                   int query_begin, int query_end) {
  if (static_cast<int64_t>(position_entropy.size()) != int64_t{heads} * seq_len) {
    throw std::invalid_argument("head_entropies: expected heads x seq_len = " + std::to_string(heads) + " x " +
                                std::to_string(seq_len) + " entropies, got " +
                                std::to_string(position_entropy.size()));
  }
  check_range(query_begin, query_end, seq_len);
  std::vector<double> means(heads, 0.0);
  for (int h = 0; h < heads; ++h) {
    for (int t = query_begin; t < query_end; ++t) means[h] += position_entropy[static_cast<size_t>(h) * seq_len + t];
    means[h] /= query_end - query_begin;
  }
  return means;
}

HeadCounts classify_heads(std::span<const double> head_entropy, double max_entropy, double lazy_fraction,
                          double collapsed_fraction) {
  HeadCounts counts;
  for (double entropy : head_entropy) {
    counts.lazy += entropy > lazy_fraction * max_entropy;
    counts.collapsed += entropy < collapsed_fraction * max_entropy;
  }
  return counts;
}

}  // namespace plascale
