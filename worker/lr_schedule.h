#pragma once
// The learning-rate schedule of one phase: a task when the optimizer is reset per task,
// the whole budget otherwise, and each probe copy's training. Linear warmup from 0 to the
// peak over the first warmup_fraction of the phase's steps, then constant, or cosine
// decay to min_lr_fraction * peak at the phase's last step.

#include <cstdint>

#include "sweeps/run_spec.h"

namespace plascale {

// Warmup steps of a phase: warmup_fraction * phase_steps rounded up, so any positive
// fraction warms up for at least one step.
int64_t warmup_steps(const TrainingConfig& training, int64_t phase_steps);

// LR of the optimizer step with index step_in_phase (0-based) in a phase of phase_steps
// steps. The first step's LR is peak / warmup_steps, never 0, so no step is wasted.
double learning_rate(const TrainingConfig& training, int64_t step_in_phase, int64_t phase_steps);

}  // namespace plascale
