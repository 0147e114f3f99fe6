// `plascale status`: the real binary prints the run table, JSON, and clear errors.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <optional>

#include "storage/study.h"
#include "tests/storage/storage_test_util.h"

namespace plascale {
namespace {

struct CommandOutput {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

CommandOutput run_command(const std::string& command) {
  CommandOutput result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  for (size_t count; (count = fread(buffer, 1, sizeof buffer, pipe)) > 0;) result.output.append(buffer, count);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// done (merged, 4 points), running (3 points flushed in run.h5, whose writer stays open
// while the command runs in its own process), pending, failed.
class StatusCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    auto study = StudyWriter::create(dir, "", "");
    for (int i = 0; i < 4; ++i) study.register_run(testing::make_run(i));
    for (int i : {0, 1}) {
      auto writer = RunFileWriter::create(run_file_path(dir, testing::make_run(i).id), testing::make_run(i));
      TrajectoryRow row;
      for (row.step = 0; row.step < 4 - i; ++row.step) {
        row.tokens = 2'500'000 * row.step;
        writer.append(row);
      }
      writer.flush();
      if (i == 1) live_writer.emplace(std::move(writer));
    }
    study.merge_run("run0000");
    study.set_status("run0000", RunStatus::done, 1);
    study.set_status("run0001", RunStatus::running, 1);
    study.set_status("run0003", RunStatus::failed, 3, "CUDA error\nout of memory");
  }

  testing::ScratchDir scratch;
  std::filesystem::path dir = scratch.path() / "study";
  std::string plascale = PLASCALE_EXECUTABLE;
  std::optional<RunFileWriter> live_writer;
};

TEST_F(StatusCommand, PrintsTheRunTable) {
  const CommandOutput result = run_command(plascale + " status " + dir.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::string expected =
      "study " + dir.string() + "\n"
      "id       size  params  budget  mitigation                  seed  status   attempts  points  tokens  last error\n"
      "run0000  1M        1M     50M  none        18000000000000000000  done            1       4    7.5M\n"
      "run0001  2M        1M     50M  redo        18000000000000000001  running         1       3      5M\n"
      "run0002  3M        1M     50M  none        18000000000000000002  pending         0       0       -\n"
      "run0003  4M        1M     50M  redo        18000000000000000003  failed          3       0       -  CUDA error out of memory\n"
      "4 runs: 1 done, 1 running, 1 pending, 1 failed, 0 diverged\n";
  EXPECT_EQ(result.output, expected);
}

TEST_F(StatusCommand, PrintsJson) {
  const std::string command = fmt::format(
      "{} status {} --json | {} -c \"import json, sys; d = json.load(sys.stdin); r = d['runs']; "
      "assert [x['status'] for x in r] == ['done', 'running', 'pending', 'failed']; "
      "assert [x['points'] for x in r] == [4, 3, 0, 0]; "
      "assert r[0]['last_tokens'] == 7500000 and r[2]['last_tokens'] is None and r[0]['merged']; "
      "assert r[3]['last_error'] == 'CUDA error\\nout of memory' and r[3]['attempts'] == 3; "
      "assert r[1]['seed'] == 18000000000000000001 and r[1]['n_params_total'] == 2000001; "
      "assert d['summary'] == dict(done=1, running=1, pending=1, failed=1, diverged=0) and d['total'] == 4\"",
      plascale, dir.string(), PLASCALE_PYTHON);
  const CommandOutput result = run_command(command);
  EXPECT_EQ(result.exit_code, 0) << result.output;
}

TEST_F(StatusCommand, BadStudiesExitWithCode2AndANamedFile) {
  const CommandOutput missing = run_command(plascale + " status " + (dir / "nowhere").string());
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.output, "plascale: error: " + (dir / "nowhere").string() + ": no such study folder\n");

  std::filesystem::resize_file(study_file_path(dir), 100);
  const CommandOutput truncated = run_command(plascale + " status " + dir.string());
  EXPECT_EQ(truncated.exit_code, 2);
  EXPECT_NE(truncated.output.find(study_file_path(dir).string() + ": cannot open"), std::string::npos)
      << truncated.output;
}

}  // namespace
}  // namespace plascale
