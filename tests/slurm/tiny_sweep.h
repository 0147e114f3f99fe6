#pragma once
// A sweep small enough to train on the test machine in seconds per run: two sizes of a
// one-layer model on two synthetic languages, no mitigation.

#include <string>

namespace plascale::slurm {

inline std::string tiny_sweep_yaml(const std::string& extra = "") {
  return R"(name: tiny
model: {context: 16, vocab: 64}
sizes:
  - {name: a, layers: 1, d_model: 16, heads: 2}
  - {name: b, layers: 1, d_model: 24, heads: 2}
data:
  synthetic: {seed: 1, order: 1, branching: 4}
  sources:
    - {name: l0, kind: synthetic, language: 0}
    - {name: l1, kind: synthetic, language: 1}
    - {name: held, kind: synthetic, language: 9}
  schedule: {kind: continual, order: [l0, l1], tokens_per_task: 16K, cycles: 2}
probe: {source: held, steps: 4, eval_interval: 2, eval_sequences: 4, every_tasks: 1}
training: {lr: 3e-3, batch_tokens: 256}
diagnostics: {every_tokens: 8K, sample_sequences: 2}
checkpoint: {every_tokens: 4K}
resources: {cpus: 1}
)" + extra;
}

}  // namespace plascale::slurm
