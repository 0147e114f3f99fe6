// StudyWriter and StudyReader: registration, status, merge, fits, listing.

#include <gtest/gtest.h>

#include <cmath>

#include "storage/study.h"
#include "tests/storage/storage_test_util.h"

namespace plascale {
namespace {

using testing::make_run;
using testing::ScratchDir;

void expect_same_attributes(const RunAttributes& actual, const RunAttributes& expected) {
  EXPECT_EQ(actual.id, expected.id);
  EXPECT_EQ(actual.size, expected.size);
  EXPECT_EQ(actual.n_params_nonembedding, expected.n_params_nonembedding);
  EXPECT_EQ(actual.n_params_total, expected.n_params_total);
  EXPECT_EQ(actual.token_budget, expected.token_budget);
  EXPECT_EQ(actual.mitigation, expected.mitigation);
  EXPECT_EQ(actual.seed, expected.seed);
  EXPECT_EQ(actual.status, expected.status);
  EXPECT_EQ(actual.attempts, expected.attempts);
  EXPECT_EQ(actual.spec_yaml, expected.spec_yaml);
  EXPECT_EQ(actual.last_error, expected.last_error);
}

void write_rows(const std::filesystem::path& path, const RunAttributes& run, int64_t rows) {
  auto writer = RunFileWriter::create(path, run);
  for (int64_t i = 0; i < rows; ++i) {
    TrajectoryRow row;
    row.step = i;
    row.tokens = 1000 * i;
    row.scalars["train_loss"] = 10.0 - static_cast<double>(i);
    writer.append(row);
  }
  writer.append_probe(0, 3.5, std::vector<double>{2.0, 1.0}, std::vector<int64_t>{0, 50});
}

TEST(Study, CreateWritesTheSweepAndVersion) {
  ScratchDir scratch;
  const auto dir = scratch.path() / "study";
  StudyWriter::create(dir, "sweep:\n  name: tiny\n", "deadbeef");
  EXPECT_TRUE(std::filesystem::is_directory(dir / "runs"));
  StudyReader reader(dir);
  EXPECT_EQ(reader.info().format_version, kStorageFormatVersion);
  EXPECT_EQ(reader.info().sweep_yaml, "sweep:\n  name: tiny\n");
  EXPECT_EQ(reader.info().sweep_hash, "deadbeef");
  EXPECT_FALSE(reader.info().plascale_version.empty());
  EXPECT_EQ(reader.info().created_utc.size(), std::string("2026-11-23T01:54:00Z").size());
  EXPECT_TRUE(reader.runs().empty());
  EXPECT_THROW(StudyWriter::create(dir, "", ""), InputError);
}

TEST(Study, RegisterRunIsIdempotentAndRefusesADifferentSpec) {
  ScratchDir scratch;
  auto writer = StudyWriter::create(scratch.path(), "", "");
  RunAttributes run = make_run(3);
  EXPECT_TRUE(writer.register_run(run));
  writer.set_status(run.id, RunStatus::running, 1);
  EXPECT_FALSE(writer.register_run(run));  // same spec: kept as is, status too
  EXPECT_EQ(StudyReader(scratch.path()).run(run.id).attributes.status, RunStatus::running);
  EXPECT_TRUE(StudyReader(scratch.path()).has_run(run.id));
  EXPECT_FALSE(StudyReader(scratch.path()).has_run(make_run(4).id));
  EXPECT_FALSE(StudyReader(scratch.path()).has_run("../" + run.id));

  RunAttributes changed = run;
  changed.spec_yaml += "lr: 0.1\n";
  EXPECT_THROW(writer.register_run(changed), InputError);
  EXPECT_TRUE(writer.register_run(changed, true));
  const RunInfo info = StudyReader(scratch.path()).run(run.id);
  expect_same_attributes(info.attributes, changed);  // replaced: pending again, new spec
  EXPECT_THROW(writer.register_run(RunAttributes{}), std::invalid_argument);  // empty id
}

TEST(Study, StatusUpdatesAreReadBack) {
  ScratchDir scratch;
  auto writer = StudyWriter::create(scratch.path(), "", "");
  for (int i = 0; i < 3; ++i) writer.register_run(make_run(i));
  writer.set_status("run0001", RunStatus::failed, 2, "CUDA error: out of memory");
  writer.set_status("run0002", RunStatus::running, 1);
  writer.set_status("run0002", RunStatus::diverged, 1, "loss became NaN at step 17");
  EXPECT_THROW(writer.set_status("nope", RunStatus::done, 1), InputError);

  const std::vector<RunInfo> runs = StudyReader(scratch.path()).runs();
  ASSERT_EQ(runs.size(), 3u);
  RunAttributes expected0 = make_run(0), expected1 = make_run(1), expected2 = make_run(2);
  expected1.status = RunStatus::failed;
  expected1.attempts = 2;
  expected1.last_error = "CUDA error: out of memory";
  expected2.status = RunStatus::diverged;
  expected2.attempts = 1;
  expected2.last_error = "loss became NaN at step 17";
  expect_same_attributes(runs[0].attributes, expected0);
  expect_same_attributes(runs[1].attributes, expected1);
  expect_same_attributes(runs[2].attributes, expected2);
}

TEST(Study, ReaderSeesRowsFlushedByARunStillWriting) {
  ScratchDir scratch;
  auto study = StudyWriter::create(scratch.path(), "", "");
  const RunAttributes run = make_run(0);
  study.register_run(run);
  auto writer = RunFileWriter::create(run_file_path(scratch.path(), run.id), run, {.batch_rows = 1000});
  TrajectoryRow row;
  row.scalars["loss"] = 1.0;
  for (int64_t i = 0; i < 6; ++i) {
    row.step = i;
    row.tokens = 7 * i;
    writer.append(row);
    if (i == 4) writer.flush();  // the sixth row stays buffered, not yet visible
  }

  const RunInfo info = StudyReader(scratch.path()).run(run.id);
  EXPECT_FALSE(info.merged);
  EXPECT_EQ(info.points, 5);
  EXPECT_EQ(info.last_tokens, 28);
  EXPECT_TRUE(info.run_file_error.empty());
  EXPECT_EQ(StudyReader(scratch.path()).read_trajectory(run.id).points(), 5u);
}

TEST(Study, MergedRunsAreReadFromStudyFile) {
  ScratchDir scratch;
  auto writer = StudyWriter::create(scratch.path(), "", "");
  const RunAttributes run = make_run(0);
  writer.register_run(run);
  const auto run_file = run_file_path(scratch.path(), run.id);
  write_rows(run_file, run, 4);
  writer.merge_run(run.id);
  writer.merge_run(run.id);  // merging again replaces the earlier copy
  writer.set_status(run.id, RunStatus::done, 1);
  std::filesystem::remove(run_file);  // the reader must not need it any more

  StudyReader reader(scratch.path());
  const RunInfo info = reader.run(run.id);
  EXPECT_TRUE(info.merged);
  EXPECT_EQ(info.points, 4);
  EXPECT_EQ(info.last_tokens, 3000);
  const Trajectory trajectory = reader.read_trajectory(run.id);
  EXPECT_EQ(trajectory.tokens, (std::vector<int64_t>{0, 1000, 2000, 3000}));
  EXPECT_EQ(trajectory.metrics.at("train_loss").values, (std::vector<double>{10, 9, 8, 7}));
  const Probe probe = reader.read_probe(run.id);
  EXPECT_EQ(probe.auc, std::vector<double>{3.5});
  EXPECT_EQ(probe.curves, (std::vector<double>{2, 1}));
  EXPECT_THROW(writer.merge_run("unknown"), InputError);
  writer.register_run(make_run(1));
  EXPECT_THROW(writer.merge_run(make_run(1).id), InputError);  // no run.h5 to merge
}

TEST(Study, PendingRunsReadAsEmpty) {
  ScratchDir scratch;
  StudyWriter::create(scratch.path(), "", "").register_run(make_run(0));
  StudyReader reader(scratch.path());
  EXPECT_EQ(reader.read_trajectory("run0000").points(), 0u);
  EXPECT_EQ(reader.read_probe("run0000").probes(), 0u);
  EXPECT_EQ(reader.run("run0000").points, 0);
  EXPECT_FALSE(reader.run("run0000").last_tokens.has_value());
  EXPECT_THROW(reader.read_trajectory("run9999"), InputError);
}

TEST(Study, FitGroupsAreWrittenReplacedAndListed) {
  ScratchDir scratch;
  auto writer = StudyWriter::create(scratch.path(), "", "");
  DataGroup onsets;
  onsets.arrays["onset_tokens"] = {{2, 3}, {1, 2, 3, 4, 5, 6}};
  onsets.arrays["exponent"] = {{}, {0.34}};
  onsets.string_lists["run_ids"] = {"a", "b"};
  onsets.attributes["model"] = std::string("power_law");
  onsets.attributes["bootstrap_samples"] = int64_t{1000};
  onsets.attributes["confidence"] = 0.95;
  writer.write_fit_group("onsets", onsets);
  DataGroup law;
  law.arrays["coefficients"] = {{2}, {1.5, -0.3}};
  writer.write_fit_group("laws/none", law);
  writer.write_fit_group("laws/redo", law);
  DataGroup replacement;
  replacement.arrays["only_this"] = {{1}, {7}};
  writer.write_fit_group("onsets", replacement);
  EXPECT_THROW(writer.write_fit_group("/abs", law), std::invalid_argument);
  EXPECT_THROW(writer.write_fit_group("a/../b", law), std::invalid_argument);

  StudyReader reader(scratch.path());
  EXPECT_EQ(reader.fit_groups(), (std::vector<std::string>{"laws/none", "laws/redo", "onsets"}));
  const DataGroup replaced = reader.read_fit_group("onsets");
  EXPECT_EQ(replaced.arrays.size(), 1u);
  EXPECT_TRUE(replaced.attributes.empty());
  EXPECT_EQ(replaced.arrays.at("only_this").values, std::vector<double>{7});
  EXPECT_EQ(reader.read_fit_group("laws/none").arrays.at("coefficients").values, (std::vector<double>{1.5, -0.3}));
  EXPECT_THROW(reader.read_fit_group("laws/missing"), InputError);

  writer.write_fit_group("onsets", onsets);
  const DataGroup back = StudyReader(scratch.path()).read_fit_group("onsets");
  EXPECT_EQ(back.arrays.at("onset_tokens").shape, (std::vector<size_t>{2, 3}));
  EXPECT_EQ(back.arrays.at("onset_tokens").values, (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(back.arrays.at("exponent").shape, std::vector<size_t>{});
  EXPECT_EQ(back.arrays.at("exponent").values, std::vector<double>{0.34});
  EXPECT_EQ(back.string_lists.at("run_ids"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(std::get<std::string>(back.attributes.at("model")), "power_law");
  EXPECT_EQ(std::get<int64_t>(back.attributes.at("bootstrap_samples")), 1000);
  EXPECT_EQ(std::get<double>(back.attributes.at("confidence")), 0.95);
}

TEST(Study, ListsAThousandRuns) {
  ScratchDir scratch;
  {
    auto writer = StudyWriter::create(scratch.path(), "", "");
    for (int i = 999; i >= 0; --i) writer.register_run(make_run(i));
    writer.set_status("run0500", RunStatus::done, 3);
  }
  const std::vector<RunInfo> runs = StudyReader(scratch.path()).runs();
  ASSERT_EQ(runs.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    RunAttributes expected = make_run(i);
    if (i == 500) {
      expected.status = RunStatus::done;
      expected.attempts = 3;
    }
    expect_same_attributes(runs[static_cast<size_t>(i)].attributes, expected);  // in id order
  }
}

}  // namespace
}  // namespace plascale
