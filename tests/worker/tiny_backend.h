#pragma once
// A tiny model on the CPU backend with random tokens: what the backend and mitigation
// tests exercise every path of in microseconds.

#include <cstdint>
#include <vector>

#include "worker/cpu_backend.h"
#include "worker/rng.h"

namespace plascale::testing {

inline ModelConfig tiny_model() {
  ModelConfig model;
  model.layers = 2;
  model.d_model = 8;
  model.heads = 2;
  model.context = 8;
  model.vocab = 11;
  model.mlp_hidden = 12;  // not 4 * d_model: the width is configurable
  return model;
}

struct Tokens {
  std::vector<int32_t> inputs, targets;
  int sequences = 0, seq_len = 0;
  TokenBatch batch() const { return {inputs, targets, sequences, seq_len}; }
};

inline Tokens random_tokens(int sequences, int seq_len, int vocab, uint64_t seed) {
  Rng rng(derive_seed(seed, "test-tokens"));
  Tokens tokens;
  tokens.sequences = sequences;
  tokens.seq_len = seq_len;
  for (int i = 0; i < sequences * seq_len; ++i) {
    tokens.inputs.push_back(static_cast<int32_t>(rng.below(vocab)));
    tokens.targets.push_back(static_cast<int32_t>(rng.below(vocab)));
  }
  return tokens;
}

// GPT-2 init plus noise on every parameter, so that biases, LayerNorm shifts and gains are
// not at their trivial values and every path carries gradient.
inline void init_perturbed(CpuBackend& backend, uint64_t seed, double noise) {
  backend.init_parameters(seed);
  Rng rng(derive_seed(seed, "test-noise"));
  for (float& value : backend.buffer(BufferKind::parameters)) value += static_cast<float>(noise * rng.normal());
}

}  // namespace plascale::testing
