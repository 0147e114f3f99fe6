#include <gtest/gtest.h>

#include "worker/lr_schedule.h"

namespace plascale {
namespace {

TrainingConfig config(LrSchedule schedule, double warmup_fraction) {
  TrainingConfig training;
  training.lr = 2e-3;
  training.warmup_fraction = warmup_fraction;
  training.schedule = schedule;
  training.min_lr_fraction = 0.1;
  return training;
}

TEST(LrSchedule, WarmupRoundsUpAndNeverExceedsThePhase) {
  EXPECT_EQ(warmup_steps(config(LrSchedule::constant, 0.05), 100), 5);
  EXPECT_EQ(warmup_steps(config(LrSchedule::constant, 0.05), 101), 6);
  EXPECT_EQ(warmup_steps(config(LrSchedule::constant, 0.05), 3), 1);
  EXPECT_EQ(warmup_steps(config(LrSchedule::constant, 0.0), 100), 0);
  EXPECT_EQ(warmup_steps(config(LrSchedule::constant, 1.5), 10), 10);
}

TEST(LrSchedule, LinearWarmupThenConstant) {
  auto training = config(LrSchedule::constant, 0.04);  // 4 warmup steps of 100
  EXPECT_DOUBLE_EQ(learning_rate(training, 0, 100), 0.5e-3);
  EXPECT_DOUBLE_EQ(learning_rate(training, 1, 100), 1.0e-3);
  EXPECT_DOUBLE_EQ(learning_rate(training, 3, 100), 2.0e-3);
  EXPECT_DOUBLE_EQ(learning_rate(training, 4, 100), 2.0e-3);
  EXPECT_DOUBLE_EQ(learning_rate(training, 99, 100), 2.0e-3);
}

TEST(LrSchedule, CosineFallsFromPeakToFloorAtTheLastStep) {
  auto training = config(LrSchedule::cosine, 0.1);  // 1 warmup step of 10, decay over steps 1..9
  EXPECT_DOUBLE_EQ(learning_rate(training, 0, 10), 2e-3);
  EXPECT_DOUBLE_EQ(learning_rate(training, 1, 10), 2e-3);
  // Halfway through the decay (step 5 of 1..9) the cosine is at the midpoint of peak and floor.
  EXPECT_NEAR(learning_rate(training, 5, 10), 0.5 * (2e-3 + 0.2e-3), 1e-15);
  EXPECT_NEAR(learning_rate(training, 9, 10), 0.2e-3, 1e-15);
  for (int step = 2; step < 10; ++step) {
    EXPECT_LT(learning_rate(training, step, 10), learning_rate(training, step - 1, 10));
  }
}

TEST(LrSchedule, NoWarmupStartsAtPeak) {
  EXPECT_DOUBLE_EQ(learning_rate(config(LrSchedule::constant, 0.0), 0, 50), 2e-3);
  EXPECT_DOUBLE_EQ(learning_rate(config(LrSchedule::cosine, 0.0), 0, 50), 2e-3);
}

}  // namespace
}  // namespace plascale
