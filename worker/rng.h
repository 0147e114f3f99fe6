#pragma once
// Random streams for the training engine. Every random number in a run comes from a
// stream keyed by (run seed, purpose[, indices]) through derive_seed(), never from global
// state, so a stream's numbers do not depend on threads, on call order elsewhere, or on
// which other streams exist (DESIGN.md "Determinism").
//
// The generator is Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as
// 1, 2, 3", SC 2011), a counter-based generator: block b of stream `key` is
// philox4x32(counter = {b_lo, b_hi, 0, 0}, key = {key_lo, key_hi}), four 32-bit words.
// cuRAND implements the same function, so a CUDA backend can reproduce any stream, and
// a stream's state is just (key, words drawn): two integers saved in a checkpoint.

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string_view>

namespace plascale {

// The Philox4x32-10 bijection (checked against the Random123 known-answer vectors).
std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

// A well-mixed 64-bit key for the stream serving `purpose` (a fixed word such as "init",
// "train-data", "validation", "probe-data") of the run with `seed`; `indices` separate
// streams of the same purpose (source, task instance, sequence, ...). Stable across builds.
uint64_t derive_seed(uint64_t seed, std::string_view purpose,
                     std::initializer_list<uint64_t> indices = {});

// Four N(0, 1) numbers addressed by (key, a, b) with no stream state, for noise drawn at
// arbitrary positions in parallel (attention logits, shrink-and-perturb). With
// w = philox4x32({a, b, 0, 0}, key): Box-Muller in float on the word pairs (w0, w1) and
// (w2, w3), u1 = (w_even + 0.5) / 2^32 (never 0), u2 = w_odd / 2^32,
// r = sqrt(-2 ln u1); the pair gives r cos(2 pi u2), r sin(2 pi u2).
std::array<float, 4> philox_normals(uint64_t key, uint32_t a, uint32_t b);

// Exact position of a stream, for checkpoints.
struct RngState {
  uint64_t key = 0;
  uint64_t words_drawn = 0;  // 32-bit words consumed so far
};

class Rng {
 public:
  explicit Rng(uint64_t key) : Rng(RngState{key, 0}) {}
  explicit Rng(RngState state);

  uint32_t next_u32();
  uint64_t next_u64();                 // two words, low word first
  double uniform();                    // [0, 1) with 53 random bits (one u64)
  double uniform_open();               // (0, 1), never 0: safe for log()
  uint64_t below(uint64_t bound);      // unbiased integer in [0, bound); bound > 0
  double normal();                     // N(0, 1) by Box-Muller from two uniforms
  void fill_normal(std::span<float> out, double mean, double stddev);

  RngState state() const { return {key_, words_drawn_}; }

 private:
  void refill();

  uint64_t key_;
  uint64_t words_drawn_;
  uint64_t cached_block_;  // block index whose words are in block_words_ (~0 = none)
  std::array<uint32_t, 4> block_words_{};
};

}  // namespace plascale
