// The trainer end to end on a tiny run: resume is bit-identical, probing does not perturb
// the main run, the LR schedule restarts per task, divergence is recorded.

#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "storage/checkpoint.h"
#include "storage/layout.h"
#include "storage/study.h"
#include "sweeps/errors.h"
#include "tests/worker/tiny_run.h"
#include "worker/data/token_file.h"
#include "worker/probe.h"
#include "worker/signals.h"
#include "worker/trainer.h"

namespace plascale {
namespace {

namespace fs = std::filesystem;
using testing::create_study_for;
using testing::expect_identical_runs;
using testing::fresh_test_dir;
using testing::tiny_run_spec;

TrainOptions options_for(const fs::path& study, const RunSpec& spec) {
  TrainOptions options;
  options.out_dir = run_dir_path(study, spec.id);
  options.spec_yaml = "id: " + spec.id;
  options.threads = 1;
  return options;
}

fs::path trained_study(const std::string& name, const RunSpec& spec, const TrainOptions& overrides = {}) {
  fs::path study = fresh_test_dir(name);
  create_study_for(study, spec);
  TrainOptions options = options_for(study, spec);
  options.run_probes = overrides.run_probes;
  TrainResult result = train_run(spec, options);
  EXPECT_EQ(result.outcome, TrainOutcome::completed);
  return study;
}

TEST(Trainer, RecordsEveryMeasurementPointProbeAndDiagnostic) {
  RunSpec spec = tiny_run_spec();
  fs::path study = trained_study("trainer_points", spec);
  StudyReader reader(study);
  Trajectory trajectory = reader.read_trajectory(spec.id);
  // Token 0, then every 256 tokens (4 steps) up to 2048; probe points (task ends at 1024
  // and 2048) coincide with diagnostics points.
  std::vector<int64_t> expected_tokens;
  for (int64_t tokens = 0; tokens <= 2048; tokens += 256) expected_tokens.push_back(tokens);
  EXPECT_EQ(trajectory.tokens, expected_tokens);
  EXPECT_EQ(trajectory.step.back(), 32);
  for (const char* name : {"train_loss", "lr", "grad_norm", "val_loss", "param_abs_mean", "tensor_norm",
                           "dormant_fraction", "zero_unit_fraction", "attn_entropy", "attn_entropy_max",
                           "lazy_heads", "collapsed_heads", "effective_rank"}) {
    EXPECT_TRUE(trajectory.metrics.count(name)) << name;
  }
  const MetricSeries& val_loss = trajectory.metrics.at("val_loss");
  EXPECT_EQ(val_loss.columns, (std::vector<std::string>{"a", "b", "p"}));
  EXPECT_EQ(trajectory.metrics.at("attn_entropy").shape, (std::vector<size_t>{9, 2, 2}));
  EXPECT_EQ(trajectory.metrics.at("effective_rank").shape, (std::vector<size_t>{9, 2}));
  EXPECT_EQ(trajectory.metrics.at("tensor_norm").columns.front(), "wte");
  // H_max over query positions [4, 16) is the mean of ln(5) .. ln(16).
  double max_entropy = 0;
  for (int keys = 5; keys <= 16; ++keys) max_entropy += std::log(keys) / 12.0;
  EXPECT_NEAR(trajectory.metrics.at("attn_entropy_max").at(0), max_entropy, 1e-12);
  // No step before token 0: its train_loss, lr and grad_norm are NaN.
  EXPECT_TRUE(std::isnan(trajectory.metrics.at("train_loss").at(0)));
  // The model learns language a during task 0.
  EXPECT_LT(val_loss.at(4, 0), val_loss.at(0, 0) - 0.2);

  Probe probe = reader.read_probe(spec.id);
  EXPECT_EQ(probe.tokens, (std::vector<int64_t>{0, 1024, 2048}));
  EXPECT_EQ(probe.curve_steps, (std::vector<int64_t>{0, 2, 4}));
  ASSERT_EQ(probe.curves.size(), 9u);
  for (size_t index = 0; index < probe.probes(); ++index) {
    std::vector<double> curve(probe.curves.begin() + index * 3, probe.curves.begin() + index * 3 + 3);
    EXPECT_DOUBLE_EQ(probe.auc[index], trapezoid_auc(probe.curve_steps, curve));
    EXPECT_LT(curve[2], curve[0]) << "the probe copy learns language p";
  }
  // The first probe is of the initialisation, the scratch baseline of another one: same
  // protocol, different seeds, so close but not equal.
  ASSERT_TRUE(probe.has_scratch_baseline);
  EXPECT_NE(probe.scratch_auc, probe.auc[0]);
  EXPECT_NEAR(probe.scratch_auc, probe.auc[0], 0.05 * probe.auc[0]);
}

// h5py, independently of plascale's reader: the layout docs/cli.md describes, and every
// probe's AUC equal to numpy's trapezoid rule over its curve.
TEST(Trainer, RunFileReadsBackWithH5py) {
  RunSpec spec = tiny_run_spec();
  fs::path study = trained_study("trainer_h5py", spec);
  fs::path script = study / "check.py";
  std::ofstream(script) << R"(import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    t, p = f["trajectory"], f["probe"]
    assert list(t["tokens"][:]) == list(range(0, 2049, 256)), t["tokens"][:]
    assert t["val_loss"].shape == (9, 3), t["val_loss"].shape
    assert [c.decode() if isinstance(c, bytes) else c for c in t["val_loss"].attrs["columns"]] == ["a", "b", "p"]
    assert t["attn_entropy"].shape == (9, 2, 2)
    assert np.isnan(t["train_loss"][0]) and np.all(np.isfinite(t["train_loss"][1:]))
    assert np.all((t["dormant_fraction"][:] >= 0) & (t["dormant_fraction"][:] <= 1))
    steps = p["curve_steps"][:]
    assert list(steps) == [0, 2, 4]
    for curve, auc in zip(p["curves"][:], p["auc"][:]):
        assert abs(np.trapz(curve, steps) - auc) <= 1e-12 * auc, (curve, auc)
print("ok")
)";
  const std::string command = std::string(PLASCALE_PYTHON) + " " + script.string() + " " +
                              (run_dir_path(study, spec.id) / "run.h5").string();
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
}

TEST(Trainer, ProbingLeavesTheMainTrajectoryUnchanged) {
  RunSpec spec = tiny_run_spec();
  TrainOptions no_probes;
  no_probes.run_probes = false;
  fs::path with = trained_study("trainer_with_probes", spec);
  fs::path without = trained_study("trainer_without_probes", spec, no_probes);
  StudyReader with_reader(with), without_reader(without);
  EXPECT_EQ(with_reader.read_probe(spec.id).probes(), 3u);
  EXPECT_EQ(without_reader.read_probe(spec.id).probes(), 0u);
  expect_identical_runs(with_reader, without_reader, spec.id, /*compare_probes=*/false);
}

TEST(Trainer, StopAndResumeIsBitIdentical) {
  RunSpec spec = tiny_run_spec();
  fs::path straight = trained_study("trainer_straight", spec);

  fs::path resumed = fresh_test_dir("trainer_resumed");
  create_study_for(resumed, spec);
  TrainOptions options = options_for(resumed, spec);
  options.stop_after_tokens = 640;  // mid-task, between checkpoints and diagnostics points
  TrainResult first = train_run(spec, options);
  EXPECT_EQ(first.outcome, TrainOutcome::stopped);
  EXPECT_EQ(first.tokens, 640);
  EXPECT_FALSE(first.resumed);
  EXPECT_TRUE(fs::exists(options.out_dir / "ckpt" / "ckpt-640.h5"));

  options.stop_after_tokens = 0;
  TrainResult second = train_run(spec, options);
  EXPECT_TRUE(second.resumed);
  EXPECT_EQ(second.outcome, TrainOutcome::completed);
  EXPECT_EQ(second.tokens, 2048);
  expect_identical_runs(StudyReader(straight), StudyReader(resumed), spec.id);

  // Running a completed run again changes nothing.
  TrainResult third = train_run(spec, options);
  EXPECT_EQ(third.outcome, TrainOutcome::completed);
  expect_identical_runs(StudyReader(straight), StudyReader(resumed), spec.id);
}

// As after a kill -9 before the first checkpoint: run.h5 exists, ckpt/ does not.
TEST(Trainer, RunFileWithoutCheckpointStartsOverIdentically) {
  RunSpec spec = tiny_run_spec();
  fs::path straight = trained_study("trainer_no_ckpt_straight", spec);
  fs::path crashed = trained_study("trainer_no_ckpt_crashed", spec);
  fs::remove_all(checkpoint_dir_path(crashed, spec.id));
  TrainResult again = train_run(spec, options_for(crashed, spec));
  EXPECT_FALSE(again.resumed);
  EXPECT_EQ(again.outcome, TrainOutcome::completed);
  expect_identical_runs(StudyReader(straight), StudyReader(crashed), spec.id);
}

TEST(Trainer, StopSignalCheckpointsBetweenSteps) {
  RunSpec spec = tiny_run_spec();
  fs::path study = fresh_test_dir("trainer_signal");
  create_study_for(study, spec);
  TrainOptions options = options_for(study, spec);
  int64_t raised_at = -1;
  options.on_progress = [&](const TrainProgress& progress) {
    if (progress.step == 5) {
      raised_at = progress.tokens;
      std::raise(SIGUSR1);
    }
  };
  TrainResult result = train_run(spec, options);
  clear_stop_signal();
  EXPECT_EQ(result.outcome, TrainOutcome::stopped);
  EXPECT_EQ(result.stop_signal, SIGUSR1);
  EXPECT_EQ(result.tokens, raised_at);
  auto checkpoint = read_latest_checkpoint(options.out_dir / "ckpt");
  ASSERT_TRUE(checkpoint.has_value());
  EXPECT_EQ(checkpoint->tokens, raised_at);
  EXPECT_EQ(checkpoint->run_id, spec.id);
}

TEST(Trainer, WarmupRestartsAtEveryTaskOnlyWhenTheOptimizerIsReset) {
  RunSpec spec = tiny_run_spec();
  spec.probe.enabled = false;
  spec.diagnostics.every_tokens = 128;  // rows every 2 steps
  spec.id = run_id(spec);
  // 4 warmup steps per 16-step task: the row after 2 steps of a task has LR peak * 2/4.
  fs::path study = trained_study("trainer_lr_reset", spec);
  const MetricSeries lr = StudyReader(study).read_trajectory(spec.id).metrics.at("lr");
  EXPECT_DOUBLE_EQ(lr.at(1), 0.5 * spec.training.lr);   // step 2, task 0
  EXPECT_DOUBLE_EQ(lr.at(4), spec.training.lr);         // step 8
  EXPECT_DOUBLE_EQ(lr.at(9), 0.5 * spec.training.lr);   // step 18, task 1

  spec.schedule.reset_optimizer = false;  // one phase: 8 warmup steps of 32
  spec.id = run_id(spec);
  fs::path one_phase = trained_study("trainer_lr_one_phase", spec);
  const MetricSeries lr_one = StudyReader(one_phase).read_trajectory(spec.id).metrics.at("lr");
  EXPECT_DOUBLE_EQ(lr_one.at(1), 0.25 * spec.training.lr);
  EXPECT_DOUBLE_EQ(lr_one.at(9), spec.training.lr);
}

// The stationary mixture is one phase (warmup once, no optimizer reset); probes by tokens.
TEST(Trainer, StationaryMixtureProbesEveryTokensAndResumesExactly) {
  RunSpec spec = tiny_run_spec();
  spec.schedule = Schedule{};
  spec.schedule.kind = ScheduleKind::stationary;
  spec.schedule.weights = {{"a", 1.0}, {"b", 3.0}};
  spec.probe.every_tasks = 0;
  spec.probe.every_tokens = 768;
  spec.probe.at_start = false;
  spec.id = run_id(spec);
  fs::path straight = trained_study("trainer_stationary", spec);
  StudyReader reader(straight);
  EXPECT_EQ(reader.read_probe(spec.id).tokens, (std::vector<int64_t>{768, 1536}));
  Trajectory trajectory = reader.read_trajectory(spec.id);
  EXPECT_EQ(trajectory.tokens, (std::vector<int64_t>{0, 256, 512, 768, 1024, 1280, 1536, 1792, 2048}));
  // 8 warmup steps of 32 (0.25): the row at step 4 has LR peak * 4/8, later rows the peak.
  EXPECT_DOUBLE_EQ(trajectory.metrics.at("lr").at(1), 0.5 * spec.training.lr);
  EXPECT_DOUBLE_EQ(trajectory.metrics.at("lr").at(8), spec.training.lr);

  fs::path resumed = fresh_test_dir("trainer_stationary_resumed");
  create_study_for(resumed, spec);
  TrainOptions options = options_for(resumed, spec);
  options.stop_after_tokens = 1100;
  EXPECT_EQ(train_run(spec, options).outcome, TrainOutcome::stopped);
  options.stop_after_tokens = 0;
  EXPECT_EQ(train_run(spec, options).outcome, TrainOutcome::completed);
  expect_identical_runs(reader, StudyReader(resumed), spec.id);
}

TEST(Trainer, NonFiniteLossIsRecordedAsDivergence) {
  RunSpec spec = tiny_run_spec();
  spec.training.lr = 1e30;
  spec.training.warmup_fraction = 0;
  spec.id = run_id(spec);
  fs::path study = fresh_test_dir("trainer_diverged");
  create_study_for(study, spec);
  TrainOptions options = options_for(study, spec);
  TrainResult result = train_run(spec, options);
  EXPECT_EQ(result.outcome, TrainOutcome::diverged);
  EXPECT_LT(result.steps, 32);
  Trajectory trajectory = StudyReader(study).read_trajectory(spec.id);
  EXPECT_EQ(trajectory.step.back(), result.steps);
  EXPECT_FALSE(std::isfinite(trajectory.metrics.at("train_loss").values.back()));
}

TEST(Trainer, TokensOutsideTheVocabularyAreAnInputErrorNamingTheShard) {
  fs::path study = fresh_test_dir("trainer_bad_tokens");
  fs::path shard = study / "too_large_tokens.bin";
  std::vector<uint16_t> tokens(4096, 9);
  tokens[1000] = 64;  // the vocabulary is 0..63
  write_llmc_shard(shard, tokens);
  RunSpec spec = tiny_run_spec();
  spec.sources[1].kind = SourceKind::shards;
  spec.sources[1].train_files = {shard.string()};
  spec.id = run_id(spec);
  create_study_for(study, spec);
  TrainOptions options = options_for(study, spec);
  try {
    train_run(spec, options);
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find(shard.string()), std::string::npos) << error.what();
  }
  EXPECT_FALSE(fs::exists(options.out_dir / "run.h5"));
}

TEST(Trainer, RefusesAnotherRunsCheckpoint) {
  RunSpec spec = tiny_run_spec();
  fs::path study = fresh_test_dir("trainer_foreign");
  create_study_for(study, spec);
  TrainOptions options = options_for(study, spec);
  options.stop_after_tokens = 128;
  train_run(spec, options);
  RunSpec other = spec;
  other.seed = 12;
  other.id = run_id(other);
  try {
    train_run(other, options);
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find(spec.id), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace plascale
