// RunFileWriter: every metric shape round-trips, NaN fill, probes, truncation, reopening.

#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "storage/study.h"
#include "tests/storage/storage_test_util.h"

namespace plascale {
namespace {

using testing::ScratchDir;

// A study with one registered run whose run file the test writes.
struct OneRunStudy {
  ScratchDir scratch;
  RunAttributes run = testing::make_run(1);
  std::filesystem::path dir = scratch.path() / "study";
  std::filesystem::path run_file = run_file_path(dir, run.id);

  OneRunStudy() { StudyWriter::create(dir, "sweep: {}\n", "abc").register_run(run); }
  Trajectory read() const { return StudyReader(dir).read_trajectory(run.id); }
  Probe read_probe() const { return StudyReader(dir).read_probe(run.id); }
};

TrajectoryRow full_row(int64_t i) {
  TrajectoryRow row;
  row.step = i;
  row.tokens = 512 * i;
  row.scalars["train_loss"] = 5.0 - 0.01 * static_cast<double>(i);
  row.scalars["lr"] = 1e-3;
  row.vectors["val_loss"] = {{4.0 + static_cast<double>(i), 3.0 + static_cast<double>(i)}, {"english", "code"}};
  row.vectors["dormant_fraction"] = {{0.1 * static_cast<double>(i), 0.2, 0.3, 0.4}, {}};
  MatrixMetric entropy{2, 3, {}};
  for (int k = 0; k < 6; ++k) entropy.values.push_back(static_cast<double>(100 * i + k));
  row.matrices["attn_entropy"] = entropy;
  return row;
}

TEST(RunFile, EveryMetricShapeRoundTrips) {
  OneRunStudy study;
  {
    // batch_rows 3 makes 10 rows span full batches and a partial one left for the destructor.
    auto writer = RunFileWriter::create(study.run_file, study.run, {.batch_rows = 3, .chunk_rows = 4});
    for (int64_t i = 0; i < 10; ++i) writer.append(full_row(i));
    EXPECT_EQ(writer.points(), 10);
    EXPECT_EQ(writer.last_tokens(), 512 * 9);
  }
  const Trajectory trajectory = study.read();
  ASSERT_EQ(trajectory.points(), 10u);
  ASSERT_EQ(trajectory.metrics.size(), 5u);
  const MetricSeries& loss = trajectory.metrics.at("train_loss");
  const MetricSeries& val = trajectory.metrics.at("val_loss");
  const MetricSeries& dormant = trajectory.metrics.at("dormant_fraction");
  const MetricSeries& entropy = trajectory.metrics.at("attn_entropy");
  EXPECT_EQ(loss.shape, (std::vector<size_t>{10}));
  EXPECT_EQ(val.shape, (std::vector<size_t>{10, 2}));
  EXPECT_EQ(val.columns, (std::vector<std::string>{"english", "code"}));
  EXPECT_EQ(dormant.shape, (std::vector<size_t>{10, 4}));
  EXPECT_TRUE(dormant.columns.empty());
  EXPECT_EQ(entropy.shape, (std::vector<size_t>{10, 2, 3}));
  for (size_t i = 0; i < 10; ++i) {
    const auto point = static_cast<double>(i);
    EXPECT_EQ(trajectory.step[i], static_cast<int64_t>(i));
    EXPECT_EQ(trajectory.tokens[i], static_cast<int64_t>(512 * i));
    EXPECT_DOUBLE_EQ(loss.at(i), 5.0 - 0.01 * point);
    EXPECT_DOUBLE_EQ(val.at(i, 0), 4.0 + point);
    EXPECT_DOUBLE_EQ(val.at(i, 1), 3.0 + point);
    EXPECT_DOUBLE_EQ(dormant.at(i, 0), 0.1 * point);
    EXPECT_DOUBLE_EQ(dormant.at(i, 3), 0.4);
    for (size_t k = 0; k < 6; ++k) EXPECT_DOUBLE_EQ(entropy.at(i, k), 100 * point + static_cast<double>(k));
  }
}

TEST(RunFile, MetricsThatAppearOrDisappearAreNaNFilled) {
  OneRunStudy study;
  {
    auto writer = RunFileWriter::create(study.run_file, study.run, {.batch_rows = 2, .chunk_rows = 2});
    for (int64_t i = 0; i < 7; ++i) {
      TrajectoryRow row;
      row.step = i;
      row.tokens = 10 * i;
      if (i != 3) row.scalars["always_but_3"] = static_cast<double>(i);
      // Appears while row 2 is buffered and row 0-1 are already written.
      if (i >= 3) row.scalars["from_3"] = static_cast<double>(i);
      // Appears after rows 0-5 are on disk, as a vector.
      if (i >= 6) row.vectors["from_6"] = {{1.0, 2.0}, {}};
      writer.append(row);
    }
  }
  const Trajectory trajectory = study.read();
  ASSERT_EQ(trajectory.points(), 7u);
  const MetricSeries& always = trajectory.metrics.at("always_but_3");
  const MetricSeries& from3 = trajectory.metrics.at("from_3");
  const MetricSeries& from6 = trajectory.metrics.at("from_6");
  for (size_t i = 0; i < 7; ++i) {
    if (i == 3) {
      EXPECT_TRUE(std::isnan(always.at(i)));
    } else {
      EXPECT_EQ(always.at(i), static_cast<double>(i));
    }
    if (i < 3) {
      EXPECT_TRUE(std::isnan(from3.at(i))) << i;
    } else {
      EXPECT_EQ(from3.at(i), static_cast<double>(i));
    }
    for (size_t k = 0; k < 2; ++k) {
      if (i < 6) {
        EXPECT_TRUE(std::isnan(from6.at(i, k))) << i;
      } else {
        EXPECT_EQ(from6.at(i, k), static_cast<double>(k + 1));
      }
    }
  }
}

TEST(RunFile, RowsBreakingTheRulesAreRefused) {
  OneRunStudy study;
  auto writer = RunFileWriter::create(study.run_file, study.run);
  writer.append(full_row(5));

  TrajectoryRow earlier = full_row(4);
  EXPECT_THROW(writer.append(earlier), std::invalid_argument);  // tokens went down

  TrajectoryRow resized = full_row(6);
  resized.vectors["dormant_fraction"].values.push_back(0.5);
  EXPECT_THROW(writer.append(resized), std::invalid_argument);

  TrajectoryRow relabelled = full_row(6);
  relabelled.vectors["val_loss"].columns = {"english", "math"};
  EXPECT_THROW(writer.append(relabelled), std::invalid_argument);

  TrajectoryRow wrong_matrix = full_row(6);
  wrong_matrix.matrices["attn_entropy"].cols = 4;
  EXPECT_THROW(writer.append(wrong_matrix), std::invalid_argument);

  TrajectoryRow kind_changed = full_row(6);
  kind_changed.scalars["dormant_fraction"] = 1.0;
  kind_changed.vectors.erase("dormant_fraction");
  EXPECT_THROW(writer.append(kind_changed), std::invalid_argument);

  for (const char* name : {"tokens", "a/b", ""}) {
    TrajectoryRow bad_name = full_row(6);
    bad_name.scalars[name] = 1.0;
    EXPECT_THROW(writer.append(bad_name), std::invalid_argument) << name;
  }
  EXPECT_EQ(writer.points(), 1);
}

TEST(RunFile, ProbeCurvesAndScratchBaseline) {
  OneRunStudy study;
  const std::vector<int64_t> steps{0, 10, 20};
  {
    auto writer = RunFileWriter::create(study.run_file, study.run);
    for (int64_t k = 0; k < 4; ++k) {
      const double base = static_cast<double>(k);
      const std::vector<double> curve{5 + base, 4 + base, 3 + base};
      writer.append_probe(1000 * k, 0.5 * base, curve, steps);
    }
    const std::vector<double> other_steps_curve{1, 2};
    EXPECT_THROW(writer.append_probe(5000, 1, other_steps_curve, std::vector<int64_t>{0, 10}), std::invalid_argument);
    writer.set_scratch_baseline(9.0, std::vector<double>{1, 1, 1});
    writer.set_scratch_baseline(2.5, std::vector<double>{3, 2, 1});  // replaces the first
  }
  const Probe probe = study.read_probe();
  ASSERT_EQ(probe.probes(), 4u);
  EXPECT_EQ(probe.tokens, (std::vector<int64_t>{0, 1000, 2000, 3000}));
  EXPECT_EQ(probe.auc, (std::vector<double>{0, 0.5, 1.0, 1.5}));
  EXPECT_EQ(probe.curve_steps, steps);
  EXPECT_EQ(probe.curves, (std::vector<double>{5, 4, 3, 6, 5, 4, 7, 6, 5, 8, 7, 6}));
  EXPECT_TRUE(probe.has_scratch_baseline);
  EXPECT_EQ(probe.scratch_auc, 2.5);
  EXPECT_EQ(probe.scratch_curve, (std::vector<double>{3, 2, 1}));
}

// Rows at tokens 0, 100, ..., probes at tokens 0, 300, 600, 900.
void write_rows_and_probes(RunFileWriter& writer, int64_t rows) {
  for (int64_t i = 0; i < rows; ++i) {
    TrajectoryRow row;
    row.step = i;
    row.tokens = 100 * i;
    row.scalars["loss"] = static_cast<double>(i);
    writer.append(row);
    if (i % 3 == 0) writer.append_probe(row.tokens, static_cast<double>(i), std::vector<double>{1.0},
                                        std::vector<int64_t>{0});
  }
}

TEST(RunFile, TruncateToPointsDropsLaterRowsAndProbes) {
  OneRunStudy study;
  {
    auto writer = RunFileWriter::create(study.run_file, study.run, {.batch_rows = 4, .chunk_rows = 4});
    write_rows_and_probes(writer, 10);
    writer.truncate_to(5);  // keeps tokens 0..400: probes at 0 and 300
    EXPECT_EQ(writer.points(), 5);
    EXPECT_EQ(writer.last_tokens(), 400);
    EXPECT_THROW(writer.truncate_to(6), std::invalid_argument);
    TrajectoryRow row;
    row.step = 5;
    row.tokens = 500;
    row.scalars["loss"] = 55.0;
    writer.append(row);
  }
  const Trajectory trajectory = study.read();
  EXPECT_EQ(trajectory.tokens, (std::vector<int64_t>{0, 100, 200, 300, 400, 500}));
  EXPECT_EQ(trajectory.metrics.at("loss").values, (std::vector<double>{0, 1, 2, 3, 4, 55}));
  EXPECT_EQ(study.read_probe().tokens, (std::vector<int64_t>{0, 300}));
}

TEST(RunFile, TruncateAfterTokensKeepsRowsAndProbesUpToTheBound) {
  OneRunStudy study;
  {
    auto writer = RunFileWriter::create(study.run_file, study.run, {.batch_rows = 4, .chunk_rows = 4});
    write_rows_and_probes(writer, 10);
    writer.truncate_after_tokens(650);
    EXPECT_EQ(writer.points(), 7);
  }
  EXPECT_EQ(study.read().tokens, (std::vector<int64_t>{0, 100, 200, 300, 400, 500, 600}));
  EXPECT_EQ(study.read_probe().tokens, (std::vector<int64_t>{0, 300, 600}));
  {
    auto writer = RunFileWriter::open(study.run_file);
    writer.truncate_to(0);
    EXPECT_FALSE(writer.last_tokens().has_value());
  }
  EXPECT_EQ(study.read().points(), 0u);
  EXPECT_EQ(study.read_probe().probes(), 0u);
}

TEST(RunFile, ReopenAndAppendContinuesContiguously) {
  OneRunStudy study;
  {
    auto writer = RunFileWriter::create(study.run_file, study.run, {.batch_rows = 4, .chunk_rows = 3});
    for (int64_t i = 0; i < 5; ++i) writer.append(full_row(i));
    writer.append_probe(0, 1.0, std::vector<double>{2.0, 1.0}, std::vector<int64_t>{0, 5});
  }
  {
    auto writer = RunFileWriter::open(study.run_file, {.batch_rows = 4, .chunk_rows = 3});
    EXPECT_EQ(writer.points(), 5);
    EXPECT_EQ(writer.last_tokens(), 512 * 4);
    EXPECT_THROW(writer.append(full_row(3)), std::invalid_argument);  // earlier tokens than stored
    for (int64_t i = 5; i < 12; ++i) {
      TrajectoryRow row = full_row(i);
      row.scalars["added_after_reopen"] = static_cast<double>(i);
      writer.append(row);
    }
    // The reopened writer knows the stored curve_steps.
    EXPECT_THROW(writer.append_probe(1, 1.0, std::vector<double>{1.0}, std::vector<int64_t>{0}),
                 std::invalid_argument);
    writer.append_probe(6000, 2.0, std::vector<double>{3.0, 2.0}, std::vector<int64_t>{0, 5});
  }
  const Trajectory trajectory = study.read();
  ASSERT_EQ(trajectory.points(), 12u);
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(trajectory.tokens[i], static_cast<int64_t>(512 * i));
    EXPECT_DOUBLE_EQ(trajectory.metrics.at("val_loss").at(i, 1), 3.0 + static_cast<double>(i));
    EXPECT_DOUBLE_EQ(trajectory.metrics.at("attn_entropy").at(i, 5), 100.0 * static_cast<double>(i) + 5);
    EXPECT_EQ(std::isnan(trajectory.metrics.at("added_after_reopen").at(i)), i < 5);
  }
  const Probe probe = study.read_probe();
  EXPECT_EQ(probe.tokens, (std::vector<int64_t>{0, 6000}));
  EXPECT_EQ(probe.curves, (std::vector<double>{2, 1, 3, 2}));
}

TEST(RunFile, AssigningOverAWriterFlushesIt) {
  OneRunStudy study;
  auto writer = RunFileWriter::create(study.run_file, study.run);
  writer.append(full_row(0));  // buffered
  writer = RunFileWriter::create(study.scratch.path() / "other.h5", study.run);
  EXPECT_EQ(study.read().points(), 1u);
}

TEST(RunFile, CreateRefusesAnExistingFile) {
  OneRunStudy study;
  RunFileWriter::create(study.run_file, study.run);
  EXPECT_THROW(RunFileWriter::create(study.run_file, study.run), std::runtime_error);
  EXPECT_EQ(StudyReader(study.dir).read_trajectory(study.run.id).points(), 0u);
}

TEST(RunStatus, NamesRoundTripAndUnknownNamesAreRefused) {
  for (RunStatus status : {RunStatus::pending, RunStatus::running, RunStatus::done, RunStatus::failed,
                           RunStatus::diverged})
    EXPECT_EQ(parse_run_status(run_status_name(status)), status);
  try {
    parse_run_status("finished");
    FAIL() << "no exception";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("'finished'"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("pending, running, done, failed, diverged"), std::string::npos);
  }
}

}  // namespace
}  // namespace plascale
