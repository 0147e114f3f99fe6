#include "sweeps/cost.h"

namespace plascale {

double flops_per_token(const ModelConfig& model) {
  return 6.0 * static_cast<double>(total_params(model)) +
         6.0 * model.layers * static_cast<double>(model.context) * model.d_model;
}

int64_t probe_count(const RunSpec& spec) {
  const ProbeConfig& probe = spec.probe;
  if (!probe.enabled) return 0;
  int64_t probes = (probe.at_start ? 1 : 0) + (probe.scratch_baseline ? 1 : 0);
  if (probe.every_tokens > 0) probes += spec.token_budget / probe.every_tokens;
  if (probe.every_tasks > 0 && spec.schedule.kind == ScheduleKind::continual && spec.schedule.tokens_per_task > 0)
    probes += spec.token_budget / spec.schedule.tokens_per_task / probe.every_tasks;
  return probes;
}

double estimated_flops(const RunSpec& spec) {
  double per_token = flops_per_token(spec.model);
  double probe_tokens = static_cast<double>(probe_count(spec)) * spec.probe.steps *
                        static_cast<double>(spec.training.batch_tokens);
  return (static_cast<double>(spec.token_budget) + probe_tokens) * per_token;
}

double estimated_gpu_hours(double flops, const GpuAssumptions& gpu) {
  return flops / (gpu.mfu * gpu.peak_tflops * 1e12) / 3600.0;
}

}  // namespace plascale
