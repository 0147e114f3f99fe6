#include "worker/probe.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "worker/lr_schedule.h"
#include "worker/rng.h"
#include "worker/train_step.h"

namespace plascale {

std::vector<int64_t> probe_curve_steps(const ProbeConfig& probe) {
  if (probe.steps < 1 || probe.eval_interval < 1) {
    throw std::invalid_argument("probe: steps and eval_interval must be at least 1");
  }
  std::vector<int64_t> steps;
  for (int64_t step = 0; step < probe.steps; step += probe.eval_interval) steps.push_back(step);
  steps.push_back(probe.steps);
  return steps;
}

double trapezoid_auc(std::span<const int64_t> steps, std::span<const double> losses) {
  if (steps.size() != losses.size()) throw std::invalid_argument("trapezoid_auc: steps and losses differ in length");
  double area = 0;
  for (size_t index = 1; index < steps.size(); ++index) {
    area += 0.5 * static_cast<double>(steps[index] - steps[index - 1]) * (losses[index] + losses[index - 1]);
  }
  return area;
}

Prober::Prober(const RunSpec& spec, const DataSchedule& data, const BackendOptions& backend)
    : spec_(spec), data_(data), copy_(make_backend(spec.model, backend)), curve_steps_(probe_curve_steps(spec.probe)) {
  if (data_.probe_source() < 0) throw std::invalid_argument("probe: the run has no probe source");
  data_.probe_eval_batch(eval_batch_);
}

ProbeResult Prober::probe(const ModelBackend& model) {
  copy_->copy_from(model);
  return train_copy();
}

ProbeResult Prober::scratch_baseline() {
  copy_->init_parameters(derive_seed(spec_.seed, "scratch"));
  return train_copy();
}

ProbeResult Prober::train_copy() {
  copy_->reset_optimizer();
  ProbeResult result;
  result.curve.assign(curve_steps_.size(), std::numeric_limits<double>::quiet_NaN());
  size_t next_eval = 0;
  const int64_t steps = spec_.probe.steps;
  for (int64_t step = 0;; ++step) {
    if (step == curve_steps_[next_eval]) {
      result.curve[next_eval] = mean_loss(*copy_, eval_batch_);
      if (++next_eval == curve_steps_.size()) break;
    }
    data_.probe_batch(step, train_batch_);
    StepResult trained =
        train_step(*copy_, train_batch_, spec_.training, learning_rate(spec_.training, step, steps), step + 1);
    if (!std::isfinite(trained.loss) || !std::isfinite(trained.grad_norm)) {
      result.diverged = true;
      break;
    }
  }
  result.auc = trapezoid_auc(curve_steps_, result.curve);
  return result;
}

}  // namespace plascale
