#include "worker/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace plascale {

int64_t warmup_steps(const TrainingConfig& training, int64_t phase_steps) {
  if (training.warmup_fraction <= 0.0 || phase_steps <= 0) return 0;
  auto steps = static_cast<int64_t>(std::ceil(training.warmup_fraction * static_cast<double>(phase_steps)));
  return std::min(steps, phase_steps);
}

double learning_rate(const TrainingConfig& training, int64_t step_in_phase, int64_t phase_steps) {
  const double peak = training.lr;
  const int64_t warmup = warmup_steps(training, phase_steps);
  if (step_in_phase < warmup) {
    return peak * static_cast<double>(step_in_phase + 1) / static_cast<double>(warmup);
  }
  if (training.schedule == LrSchedule::constant) return peak;
  // Cosine from the peak (first step after warmup) to the floor (the phase's last step).
  const int64_t decay_steps = phase_steps - warmup - 1;
  const double progress =
      decay_steps <= 0 ? 1.0
                       : std::clamp(static_cast<double>(step_in_phase - warmup) / static_cast<double>(decay_steps),
                                    0.0, 1.0);
  const double floor = training.min_lr_fraction * peak;
  return floor + (peak - floor) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

}  // namespace plascale
