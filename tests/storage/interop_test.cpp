// A study written by plascale is read with Debian's python3-h5py (and pandas, as in the
// docs/storage.md example) by check_study_h5py.py, which checks every value.

#include <gtest/gtest.h>

#include <cstdlib>

#include "storage/study.h"
#include "tests/storage/storage_test_util.h"

namespace plascale {
namespace {

TEST(Interop, H5pyReadsAStudyWrittenByPlascale) {
  testing::ScratchDir scratch;
  const auto dir = scratch.path() / "study";
  auto study = StudyWriter::create(dir, "name: interop\nseeds: [0]\n", "0123abcd");

  RunAttributes done = testing::make_run(0);
  RunAttributes running = testing::make_run(1);
  study.register_run(done);
  study.register_run(running);
  {
    auto writer = RunFileWriter::create(run_file_path(dir, done.id), done, {.batch_rows = 2, .chunk_rows = 2});
    for (int64_t i = 0; i < 5; ++i) {
      const auto x = static_cast<double>(i);
      TrajectoryRow row;
      row.step = 10 * i;
      row.tokens = 4096 * i;
      row.scalars["train_loss"] = 4.0 - 0.5 * x;
      if (i >= 2) row.scalars["grad_norm"] = x;  // appears at point 2
      row.vectors["val_loss"] = {{3.0 + x, 6.0 + x}, {"english", "code"}};
      row.vectors["dormant_fraction"] = {{0.01 * x, 0.02 * x, 0.03 * x}, {}};
      row.matrices["attn_entropy"] = {3, 2, {x, x + 0.1, x + 0.2, x + 0.3, x + 0.4, x + 0.5}};
      writer.append(row);
    }
    writer.append_probe(0, 12.5, std::vector<double>{5.0, 4.0, 3.5}, std::vector<int64_t>{0, 50, 100});
    writer.append_probe(16384, 14.0, std::vector<double>{5.5, 4.75, 4.0}, std::vector<int64_t>{0, 50, 100});
    writer.set_scratch_baseline(11.0, std::vector<double>{5.0, 3.5, 3.0});
  }
  study.merge_run(done.id);
  study.set_status(done.id, RunStatus::done, 1);
  study.set_status(running.id, RunStatus::running, 2, "killed by the node");

  // The running run's file stays open, flushed, while Python reads it.
  auto live = RunFileWriter::create(run_file_path(dir, running.id), running);
  for (int64_t i = 0; i < 3; ++i) {
    TrajectoryRow row;
    row.step = i;
    row.tokens = 100 * i;
    row.scalars["train_loss"] = 9.0 - static_cast<double>(i);
    live.append(row);
  }
  live.flush();

  DataGroup law;
  law.arrays["coefficients"] = {{2, 2}, {1.0, 2.0, 3.0, 4.0}};
  law.string_lists["mitigations"] = {"none", "redo"};
  law.attributes["model"] = std::string("power_law");
  law.attributes["samples"] = int64_t{200};
  study.write_fit_group("laws/none", law);

  const std::string command = fmt::format("{} {}/tests/storage/check_study_h5py.py {}", PLASCALE_PYTHON,
                                          PLASCALE_SOURCE_DIR, dir.string());
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
}

}  // namespace
}  // namespace plascale
