// The fused causal attention against a naive double-precision attention that materialises
// the whole softmax matrix: outputs, logsumexp, entropy, and the backward (the naive
// backward is the textbook softmax Jacobian).

#include "worker/cpu_attention.h"
#include "worker/rng.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

namespace plascale {
namespace {

struct NaiveAttention {
  std::vector<double> out, lse, entropy, d_qkv;
};

// Forward, and the backward for upstream gradient d_out.
NaiveAttention naive_attention(const AttentionShape& s, const std::vector<float>& qkv, const std::vector<float>& d_out) {
  const int d = s.heads * s.head_dim, T = s.seq_len;
  const double scale = 1.0 / std::sqrt(static_cast<double>(s.head_dim));
  NaiveAttention r;
  r.out.assign(static_cast<size_t>(s.sequences) * T * d, 0.0);
  r.lse.assign(static_cast<size_t>(s.sequences) * s.heads * T, 0.0);
  r.entropy = r.lse;
  r.d_qkv.assign(qkv.size(), 0.0);
  auto at = [&](int b, int t, int part, int h, int c) {
    return static_cast<size_t>((b * T + t) * 3 * d + part * d + h * s.head_dim + c);
  };
  for (int b = 0; b < s.sequences; ++b)
    for (int h = 0; h < s.heads; ++h) {
      std::vector<double> p(static_cast<size_t>(T) * T, 0.0);  // the full matrix, on purpose
      for (int i = 0; i < T; ++i) {
        std::vector<double> scores(i + 1);
        double max_score = -1e300;
        for (int j = 0; j <= i; ++j) {
          double dot = 0;
          for (int c = 0; c < s.head_dim; ++c) dot += double(qkv[at(b, i, 0, h, c)]) * qkv[at(b, j, 1, h, c)];
          scores[j] = dot * scale;
          max_score = std::max(max_score, scores[j]);
        }
        double sum = 0;
        for (double score : scores) sum += std::exp(score - max_score);
        const double lse = max_score + std::log(sum);
        double entropy = 0;
        for (int j = 0; j <= i; ++j) {
          p[i * T + j] = std::exp(scores[j] - lse);
          entropy -= p[i * T + j] * std::log(p[i * T + j]);
          for (int c = 0; c < s.head_dim; ++c) {
            r.out[(b * T + i) * d + h * s.head_dim + c] += p[i * T + j] * qkv[at(b, j, 2, h, c)];
          }
        }
        r.lse[(b * s.heads + h) * T + i] = lse;
        r.entropy[(b * s.heads + h) * T + i] = entropy;
      }
      for (int i = 0; i < T; ++i) {
        // dp_ij = d_out_i . v_j ; ds_ij = p_ij (dp_ij - sum_k p_ik dp_ik)
        std::vector<double> dp(i + 1);
        double weighted = 0;
        for (int j = 0; j <= i; ++j) {
          for (int c = 0; c < s.head_dim; ++c) dp[j] += double(d_out[(b * T + i) * d + h * s.head_dim + c]) * qkv[at(b, j, 2, h, c)];
          weighted += p[i * T + j] * dp[j];
        }
        for (int j = 0; j <= i; ++j) {
          const double ds = p[i * T + j] * (dp[j] - weighted) * scale;
          for (int c = 0; c < s.head_dim; ++c) {
            r.d_qkv[at(b, i, 0, h, c)] += ds * qkv[at(b, j, 1, h, c)];
            r.d_qkv[at(b, j, 1, h, c)] += ds * qkv[at(b, i, 0, h, c)];
            r.d_qkv[at(b, j, 2, h, c)] += p[i * T + j] * d_out[(b * T + i) * d + h * s.head_dim + c];
          }
        }
      }
    }
  return r;
}

std::vector<float> random_values(size_t count, double stddev, uint64_t seed) {
  std::vector<float> values(count);
  Rng(derive_seed(seed, "test-attention")).fill_normal(values, 0.0, stddev);
  return values;
}

// 150 positions = three query blocks of 64 (the last one partial).
TEST(CpuAttention, FusedMatchesNaiveForwardBackwardAndEntropy) {
  const AttentionShape shape{2, 150, 3, 8};
  const int d = shape.heads * shape.head_dim;
  const size_t tokens = static_cast<size_t>(shape.sequences) * shape.seq_len;
  const std::vector<float> qkv = random_values(tokens * 3 * d, 1.0, 1);
  const std::vector<float> d_out = random_values(tokens * d, 1.0, 2);
  const NaiveAttention naive = naive_attention(shape, qkv, d_out);

  std::vector<float> out(tokens * d), lse(naive.lse.size()), entropy(naive.lse.size()), d_qkv(qkv.size(), 123.0f);
  attention_forward(shape, qkv.data(), out.data(), lse.data(), entropy.data(), 2);
  attention_backward(shape, qkv.data(), out.data(), lse.data(), d_out.data(), d_qkv.data(), 2);
  for (size_t i = 0; i < out.size(); ++i) ASSERT_NEAR(out[i], naive.out[i], 2e-5) << i;
  for (size_t i = 0; i < lse.size(); ++i) ASSERT_NEAR(lse[i], naive.lse[i], 2e-5) << i;
  for (size_t i = 0; i < entropy.size(); ++i) ASSERT_NEAR(entropy[i], naive.entropy[i], 2e-5) << i;
  for (size_t i = 0; i < d_qkv.size(); ++i) ASSERT_NEAR(d_qkv[i], naive.d_qkv[i], 1e-4) << i;
}

TEST(CpuAttention, UniformKeysGiveMaximalEntropy) {
  // Identical keys: every query attends uniformly, so H(i) = ln(i + 1) exactly (H_max).
  const AttentionShape shape{1, 70, 1, 4};
  std::vector<float> qkv(70 * 12);
  for (int t = 0; t < 70; ++t)
    for (int c = 0; c < 4; ++c) {
      qkv[t * 12 + c] = 0.1f * (t % 5);  // queries vary
      qkv[t * 12 + 4 + c] = 0.7f;        // keys are all the same
      qkv[t * 12 + 8 + c] = static_cast<float>(t);
    }
  std::vector<float> out(70 * 4), lse(70), entropy(70);
  attention_forward(shape, qkv.data(), out.data(), lse.data(), entropy.data(), 1);
  for (int i = 0; i < 70; ++i) {
    EXPECT_NEAR(entropy[i], std::log(i + 1.0), 1e-5) << i;
    EXPECT_NEAR(out[i * 4], i / 2.0, 1e-4) << i;  // the mean of values 0..i
  }
}

TEST(CpuAttention, SameThreadsGiveIdenticalBits) {
  const AttentionShape shape{3, 100, 2, 16};
  const size_t tokens = 300;
  const std::vector<float> qkv = random_values(tokens * 96, 1.0, 3);
  const std::vector<float> d_out = random_values(tokens * 32, 1.0, 4);
  auto run = [&] {
    std::vector<float> out(tokens * 32), lse(600), d_qkv(qkv.size());
    attention_forward(shape, qkv.data(), out.data(), lse.data(), nullptr, 2);
    attention_backward(shape, qkv.data(), out.data(), lse.data(), d_out.data(), d_qkv.data(), 2);
    out.insert(out.end(), d_qkv.begin(), d_qkv.end());
    return out;
  };
  const std::vector<float> a = run(), b = run();
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
}

}  // namespace
}  // namespace plascale
