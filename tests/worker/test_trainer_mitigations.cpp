// The trainer with mitigation strategies on: every strategy at once resumes bit-identically
// from a checkpoint, records its counters, and leaves the probe (which trains without
// mitigations) alone.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "storage/checkpoint.h"
#include "storage/layout.h"
#include "storage/study.h"
#include "sweeps/errors.h"
#include "tests/worker/tiny_run.h"
#include "worker/trainer.h"

namespace plascale {
namespace {

namespace fs = std::filesystem;
using testing::all_mitigations;
using testing::create_study_for;
using testing::expect_identical_runs;
using testing::fresh_test_dir;
using testing::same_bits;
using testing::tiny_run_spec;

RunSpec mitigated_spec() {
  RunSpec spec = tiny_run_spec();
  spec.mitigation = all_mitigations();
  spec.id = run_id(spec);
  return spec;
}

TrainOptions options_for(const fs::path& study, const RunSpec& spec) {
  TrainOptions options;
  options.out_dir = run_dir_path(study, spec.id);
  options.spec_yaml = "id: " + spec.id;
  options.threads = 1;
  return options;
}

fs::path trained_study(const std::string& name, const RunSpec& spec) {
  fs::path study = fresh_test_dir(name);
  create_study_for(study, spec);
  EXPECT_EQ(train_run(spec, options_for(study, spec)).outcome, TrainOutcome::completed);
  return study;
}

TEST(TrainerMitigations, EveryStrategyAtOnceResumesBitIdentically) {
  const RunSpec spec = mitigated_spec();
  fs::path straight = trained_study("mitigations_straight", spec);

  fs::path resumed = fresh_test_dir("mitigations_resumed");
  create_study_for(resumed, spec);
  TrainOptions options = options_for(resumed, spec);
  options.stop_after_tokens = 640;  // mid-task, after a ReDo reset, between S&P steps
  EXPECT_EQ(train_run(spec, options).outcome, TrainOutcome::stopped);
  options.stop_after_tokens = 0;
  TrainResult second = train_run(spec, options);
  EXPECT_TRUE(second.resumed);
  EXPECT_EQ(second.outcome, TrainOutcome::completed);
  expect_identical_runs(StudyReader(straight), StudyReader(resumed), spec.id);
}

// A checkpoint without the mitigation state (e.g. written by a run without it) cannot
// continue the run: an InputError names the file and the missing array.
TEST(TrainerMitigations, CheckpointWithoutTheirStateIsAnInputError) {
  const RunSpec spec = mitigated_spec();
  fs::path study = fresh_test_dir("mitigations_state_missing");
  create_study_for(study, spec);
  TrainOptions options = options_for(study, spec);
  options.stop_after_tokens = 640;
  ASSERT_EQ(train_run(spec, options).outcome, TrainOutcome::stopped);
  const fs::path dir = options.out_dir / "ckpt";
  Checkpoint checkpoint = *read_latest_checkpoint(dir);
  ASSERT_EQ(checkpoint.words.erase("cbp_mlp_utility"), 1u);
  write_checkpoint(dir, checkpoint);
  options.stop_after_tokens = 0;
  try {
    train_run(spec, options);
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("ckpt-640.h5"), std::string::npos) << message;
    EXPECT_NE(message.find("cbp_mlp_utility"), std::string::npos) << message;
  }
}

TEST(TrainerMitigations, CountersGoIntoTheTrajectory) {
  const RunSpec spec = mitigated_spec();
  fs::path study = trained_study("mitigations_counters", spec);
  Trajectory trajectory = StudyReader(study).read_trajectory(spec.id);
  const size_t last = trajectory.points() - 1;
  ASSERT_EQ(trajectory.step[last], 32);
  for (const char* name : {"cbp_replaced", "cbp_replaced_heads", "redo_resets"}) {
    ASSERT_TRUE(trajectory.metrics.count(name)) << name;
    EXPECT_EQ(trajectory.metrics.at(name).shape, (std::vector<size_t>{trajectory.points(), 2})) << name;
  }
  // Counters are cumulative and start at 0.
  const MetricSeries& cbp = trajectory.metrics.at("cbp_replaced");
  EXPECT_EQ(cbp.at(0, 0), 0.0);
  EXPECT_GT(cbp.at(last, 0) + cbp.at(last, 1), 0.0);
  for (size_t point = 1; point <= last; ++point) EXPECT_GE(cbp.at(point, 0), cbp.at(point - 1, 0));
  EXPECT_GT(trajectory.metrics.at("cbp_replaced_heads").at(last, 0), 0.0);
  EXPECT_EQ(trajectory.metrics.at("shrink_perturb_steps").at(last), 16.0);  // every 2 of 32 steps
  EXPECT_GT(trajectory.metrics.at("norm_gain_clamps").at(last), 0.0);
  EXPECT_GT(trajectory.metrics.at("norm_weight_clamps").at(last), 0.0);
  EXPECT_GT(trajectory.metrics.at("l2_init_penalty").at(last), 0.0);
  EXPECT_TRUE(std::isnan(trajectory.metrics.at("l2_init_penalty").at(0))) << "no step before token 0";
  // Noise std 0.5 falls linearly to 0 at 1536 tokens: the step from 192 to 256 tokens used 0.5 * (1 - 192/1536).
  EXPECT_DOUBLE_EQ(trajectory.metrics.at("attn_noise_std").at(1), 0.5 * (1 - 192.0 / 1536));
  EXPECT_EQ(trajectory.metrics.at("attn_noise_std").at(last), 0.0);
  // Without mitigations none of these exist.
  RunSpec plain = tiny_run_spec();
  fs::path plain_study = trained_study("mitigations_counters_none", plain);
  EXPECT_FALSE(StudyReader(plain_study).read_trajectory(plain.id).metrics.count("cbp_replaced"));
}

// The probe measures the checkpoint's plasticity: its copy trains without mitigations, so
// the probe of the initialisation (token 0) and the scratch baseline are the same numbers
// with and without them, while the trajectories differ.
TEST(TrainerMitigations, ProbeCopiesTrainWithoutMitigations) {
  const RunSpec mitigated = mitigated_spec();
  RunSpec plain = mitigated;
  plain.mitigation = Mitigation{"none", {}};
  plain.id = run_id(plain);
  fs::path with = trained_study("mitigations_probe_with", mitigated);
  fs::path without = trained_study("mitigations_probe_without", plain);
  Probe a = StudyReader(with).read_probe(mitigated.id), b = StudyReader(without).read_probe(plain.id);
  ASSERT_EQ(a.probes(), 3u);
  EXPECT_TRUE(same_bits({a.auc[0]}, {b.auc[0]}));
  EXPECT_TRUE(same_bits({a.scratch_auc}, {b.scratch_auc}));
  EXPECT_NE(a.auc[2], b.auc[2]);
  const double val_a = StudyReader(with).read_trajectory(mitigated.id).metrics.at("val_loss").at(8, 0);
  const double val_b = StudyReader(without).read_trajectory(plain.id).metrics.at("val_loss").at(8, 0);
  EXPECT_NE(val_a, val_b);
}

}  // namespace
}  // namespace plascale
