#pragma once
// The cost model `plan` prints and the scheduler sorts by (largest first).
// Convention (llm.c, REFERENCES.md section 4): training FLOPs per token =
// 6 x total parameters + 6 x layers x context x d_model (attention scores).

#include <cstdint>

#include "sweeps/run_spec.h"

namespace plascale {

double flops_per_token(const ModelConfig& model);

// Probes a run performs: at_start + every every_tokens + after every every_tasks tasks,
// plus the scratch baseline; 0 when the probe is disabled.
int64_t probe_count(const RunSpec& spec);

// token_budget x flops_per_token + probes x probe steps x batch_tokens x flops_per_token.
double estimated_flops(const RunSpec& spec);

struct GpuAssumptions {
  double mfu = 0.40;           // model FLOPs utilisation actually reached
  double peak_tflops = 989.0;  // H100 SXM dense bf16 peak
};

// GPU-hours summed over the run's GPUs: flops / (mfu x peak) / 3600.
double estimated_gpu_hours(double flops, const GpuAssumptions& gpu = {});

}  // namespace plascale
