#include "worker/cpu_attention.h"

#include "worker/cpu_parallel.h"
#include "worker/rng.h"

#include <cblas.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <vector>

namespace plascale {
namespace {

constexpr int kQueryBlock = 64;

// Pointers to one (sequence, head) pair's columns inside the qkv-shaped buffers.
struct HeadView {
  int64_t qkv_stride;  // 3d
  int64_t out_stride;  // d
  int64_t q, k, v;     // element offsets of row 0 of q, k, v
  int64_t o;           // element offset of row 0 in out-shaped buffers
  int64_t stat;        // element offset of row 0 in [sequences, heads, seq_len] buffers
};

HeadView head_view(const AttentionShape& s, int pair) {
  const int b = pair / s.heads;
  const int h = pair % s.heads;
  const int64_t d = static_cast<int64_t>(s.heads) * s.head_dim;
  HeadView view;
  view.qkv_stride = 3 * d;
  view.out_stride = d;
  view.q = static_cast<int64_t>(b) * s.seq_len * 3 * d + static_cast<int64_t>(h) * s.head_dim;
  view.k = view.q + d;
  view.v = view.q + 2 * d;
  view.o = static_cast<int64_t>(b) * s.seq_len * d + static_cast<int64_t>(h) * s.head_dim;
  view.stat = static_cast<int64_t>(pair) * s.seq_len;
  return view;
}

// scores[rows, keys] = scale * Q[i0 .. i0+rows) K[0 .. keys)^T
void block_scores(const AttentionShape& s, const HeadView& view, const float* qkv, int i0, int rows, int keys,
                  float scale, float* scores) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, keys, s.head_dim, scale,
              qkv + view.q + i0 * view.qkv_stride, view.qkv_stride, qkv + view.k, view.qkv_stride, 0.0f, scores,
              keys);
}

// Adds the noise of rows i0 .. i0+rows (keys 0..i) of one (sequence, head) pair; the added
// noise does not change the gradient with respect to the clean score.
void add_score_noise(const ScoreNoise& noise, int pair, int i0, int rows, int keys, float* scores) {
  if (noise.std == 0.0f) return;
  const uint64_t key =
      derive_seed(noise.key, "attention-noise", {static_cast<uint64_t>(noise.layer), static_cast<uint64_t>(pair)});
  for (int r = 0; r < rows; ++r) {
    const int i = i0 + r;
    float* row = scores + static_cast<int64_t>(r) * keys;
    for (int j0 = 0; j0 <= i; j0 += 4) {
      const std::array<float, 4> normals = philox_normals(key, static_cast<uint32_t>(i), static_cast<uint32_t>(j0 / 4));
      for (int t = 0; t < 4 && j0 + t <= i; ++t) row[j0 + t] += noise.std * normals[t];
    }
  }
}

// Multiply-adds of one pass, for sizing the thread team.
int64_t work(const AttentionShape& s) {
  return static_cast<int64_t>(s.sequences) * s.heads * s.seq_len * s.seq_len * s.head_dim;
}

}  // namespace

void attention_forward(const AttentionShape& s, const float* qkv, float* out, float* lse, float* entropy,
                       int threads, const ScoreNoise& noise) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
  const int pairs = s.sequences * s.heads;
#pragma omp parallel num_threads(team_size(work(s), threads))
  {
    std::vector<float> scores(static_cast<size_t>(kQueryBlock) * s.seq_len);
#pragma omp for schedule(static)
    for (int pair = 0; pair < pairs; ++pair) {
      const HeadView view = head_view(s, pair);
      for (int i0 = 0; i0 < s.seq_len; i0 += kQueryBlock) {
        const int rows = std::min(kQueryBlock, s.seq_len - i0);
        const int keys = i0 + rows;
        block_scores(s, view, qkv, i0, rows, keys, scale, scores.data());
        add_score_noise(noise, pair, i0, rows, keys, scores.data());
        for (int r = 0; r < rows; ++r) {
          const int i = i0 + r;
          float* row = scores.data() + static_cast<int64_t>(r) * keys;
          float max_score = -std::numeric_limits<float>::infinity();
          for (int j = 0; j <= i; ++j) max_score = std::max(max_score, row[j]);
          double sum = 0.0;
          for (int j = 0; j <= i; ++j) sum += std::exp(row[j] - max_score);
          const float row_lse = max_score + static_cast<float>(std::log(sum));
          double expected_score = 0.0;
          for (int j = 0; j <= i; ++j) {
            const float p = std::exp(row[j] - row_lse);
            expected_score += static_cast<double>(p) * row[j];
            row[j] = p;
          }
          std::fill(row + i + 1, row + keys, 0.0f);
          lse[view.stat + i] = row_lse;
          if (entropy) entropy[view.stat + i] = static_cast<float>(row_lse - expected_score);
        }
        // out[i0 .. i0+rows) = P V
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, s.head_dim, keys, 1.0f, scores.data(), keys,
                    qkv + view.v, view.qkv_stride, 0.0f, out + view.o + i0 * view.out_stride, view.out_stride);
      }
    }
  }
}

void attention_backward(const AttentionShape& s, const float* qkv, const float* out, const float* lse,
                        const float* d_out, float* d_qkv, int threads, const ScoreNoise& noise) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
  const int pairs = s.sequences * s.heads;
#pragma omp parallel num_threads(team_size(work(s), threads))
  {
    std::vector<float> probs(static_cast<size_t>(kQueryBlock) * s.seq_len);
    std::vector<float> d_scores(static_cast<size_t>(kQueryBlock) * s.seq_len);
#pragma omp for schedule(static)
    for (int pair = 0; pair < pairs; ++pair) {
      const HeadView view = head_view(s, pair);
      for (int t = 0; t < s.seq_len; ++t) {
        std::fill_n(d_qkv + view.k + t * view.qkv_stride, s.head_dim, 0.0f);
        std::fill_n(d_qkv + view.v + t * view.qkv_stride, s.head_dim, 0.0f);
      }
      for (int i0 = 0; i0 < s.seq_len; i0 += kQueryBlock) {
        const int rows = std::min(kQueryBlock, s.seq_len - i0);
        const int keys = i0 + rows;
        block_scores(s, view, qkv, i0, rows, keys, scale, probs.data());
        add_score_noise(noise, pair, i0, rows, keys, probs.data());
        for (int r = 0; r < rows; ++r) {
          const int i = i0 + r;
          float* row = probs.data() + static_cast<int64_t>(r) * keys;
          const float row_lse = lse[view.stat + i];
          for (int j = 0; j <= i; ++j) row[j] = std::exp(row[j] - row_lse);
          std::fill(row + i + 1, row + keys, 0.0f);
        }
        const float* d_out_block = d_out + view.o + i0 * view.out_stride;
        // dP = dO V^T
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, keys, s.head_dim, 1.0f, d_out_block,
                    view.out_stride, qkv + view.v, view.qkv_stride, 0.0f, d_scores.data(), keys);
        // dS = P * (dP - rowsum(P * dP)) * scale, with rowsum(P * dP) = dO_i . O_i
        for (int r = 0; r < rows; ++r) {
          const int i = i0 + r;
          const float* o_row = out + view.o + i * view.out_stride;
          const float* d_o_row = d_out_block + r * view.out_stride;
          double dot = 0.0;
          for (int c = 0; c < s.head_dim; ++c) dot += static_cast<double>(o_row[c]) * d_o_row[c];
          const float* p_row = probs.data() + static_cast<int64_t>(r) * keys;
          float* ds_row = d_scores.data() + static_cast<int64_t>(r) * keys;
          for (int j = 0; j < keys; ++j) ds_row[j] = p_row[j] * (ds_row[j] - static_cast<float>(dot)) * scale;
        }
        // dQ = dS K;  dK += dS^T Q;  dV += P^T dO
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, s.head_dim, keys, 1.0f, d_scores.data(), keys,
                    qkv + view.k, view.qkv_stride, 0.0f, d_qkv + view.q + i0 * view.qkv_stride, view.qkv_stride);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, keys, s.head_dim, rows, 1.0f, d_scores.data(), keys,
                    qkv + view.q + i0 * view.qkv_stride, view.qkv_stride, 1.0f, d_qkv + view.k, view.qkv_stride);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, keys, s.head_dim, rows, 1.0f, probs.data(), keys,
                    d_out_block, view.out_stride, 1.0f, d_qkv + view.v, view.qkv_stride);
      }
    }
  }
}

}  // namespace plascale
