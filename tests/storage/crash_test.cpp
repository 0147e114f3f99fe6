// Crash safety with a real kill -9: a child process (storage_crash_writer) writes and
// flushes in a loop, printing after each flush what is durable; we kill it at a seeded
// random moment and check that everything it reported is readable, by our reader and by
// h5py, with no repair step.

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <sstream>

#include "storage/study.h"
#include "tests/storage/crash_values.h"
#include "tests/storage/storage_test_util.h"

extern char** environ;

namespace plascale {
namespace {

constexpr int kTrials = 20;

// Runs the helper, kills it with SIGKILL after `delay`, returns everything it printed.
std::string run_and_kill(const std::vector<std::string>& args, std::chrono::milliseconds delay) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  std::vector<char*> argv;
  std::string helper = PLASCALE_CRASH_WRITER;
  argv.push_back(helper.data());
  std::vector<std::string> owned = args;
  for (std::string& arg : owned) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, helper.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (spawned != 0) throw std::runtime_error("posix_spawn failed for " + helper);

  std::string output;
  char buffer[4096];
  auto read_available = [&](int timeout_ms) {
    pollfd descriptor{fds[0], POLLIN, 0};
    if (poll(&descriptor, 1, timeout_ms) <= 0) return false;
    const ssize_t count = read(fds[0], buffer, sizeof buffer);
    if (count <= 0) return false;
    output.append(buffer, static_cast<size_t>(count));
    return true;
  };
  const auto deadline = std::chrono::steady_clock::now() + delay;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    read_available(static_cast<int>(std::max<int64_t>(left.count(), 1)));
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  while (read_available(1000)) {
  }
  close(fds[0]);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the helper ended before it was killed";
  return output;
}

// The numbers on the last complete line the helper printed (none if it printed nothing).
std::vector<int64_t> last_report(const std::string& output) {
  const size_t end = output.rfind('\n');
  if (end == std::string::npos) return {};
  const size_t begin = output.rfind('\n', end - 1);
  std::istringstream line(output.substr(begin == std::string::npos ? 0 : begin + 1, end));
  std::vector<int64_t> numbers;
  for (int64_t number = 0; line >> number;) numbers.push_back(number);
  return numbers;
}

void expect_rows_match(const Trajectory& trajectory, int64_t rows) {
  ASSERT_GE(trajectory.points(), static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) {
    const TrajectoryRow expected = crash::row(i);
    const auto point = static_cast<size_t>(i);
    ASSERT_EQ(trajectory.step[point], expected.step) << i;
    ASSERT_EQ(trajectory.tokens[point], expected.tokens) << i;
    ASSERT_EQ(trajectory.metrics.at("loss").at(point), expected.scalars.at("loss")) << i;
    ASSERT_EQ(trajectory.metrics.at("lr").at(point), expected.scalars.at("lr")) << i;
    for (size_t k = 0; k < 2; ++k)
      ASSERT_EQ(trajectory.metrics.at("val_loss").at(point, k), expected.vectors.at("val_loss").values[k]) << i;
    for (size_t k = 0; k < 4; ++k)
      ASSERT_EQ(trajectory.metrics.at("attn_entropy").at(point, k), expected.matrices.at("attn_entropy").values[k]);
  }
}

void run_python_check(const std::vector<std::string>& checks) {
  std::string command = std::string(PLASCALE_PYTHON) + " " + PLASCALE_SOURCE_DIR "/tests/storage/check_crash_files.py";
  for (const std::string& check : checks) command += " '" + check + "'";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
}

TEST(CrashSafety, RunFileRowsFlushedBeforeKillSurvive) {
  testing::ScratchDir scratch;
  std::mt19937 random(2026);
  std::uniform_int_distribution<int> delay_ms(20, 300);
  std::vector<std::string> python_checks;
  int trials_with_rows = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    const auto study_dir = scratch.path() / fmt::format("study{}", trial);
    RunAttributes run;
    run.id = "crash";
    StudyWriter::create(study_dir, "", "").register_run(run);
    const auto run_file = run_file_path(study_dir, run.id);
    std::filesystem::create_directories(run_file.parent_path());

    const std::string output = run_and_kill({"run", run_file.string()}, std::chrono::milliseconds(delay_ms(random)));
    const std::vector<int64_t> report = last_report(output);
    if (report.empty()) continue;  // killed before its first flush
    ASSERT_EQ(report.size(), 2u) << output;
    const int64_t rows = report[0], probes = report[1];
    ++trials_with_rows;
    SCOPED_TRACE(fmt::format("trial {}: {} rows, {} probes durable", trial, rows, probes));

    StudyReader reader(study_dir);
    expect_rows_match(reader.read_trajectory(run.id), rows);
    const Probe probe = reader.read_probe(run.id);
    ASSERT_GE(probe.probes(), static_cast<size_t>(probes));
    EXPECT_EQ(probe.curve_steps, crash::kCurveSteps);
    for (int64_t k = 0; k < probes; ++k) {
      EXPECT_EQ(probe.tokens[static_cast<size_t>(k)], crash::row(10 * k).tokens);
      EXPECT_EQ(probe.auc[static_cast<size_t>(k)], crash::probe_auc(k));
      for (size_t e = 0; e < 3; ++e) EXPECT_EQ(probe.curves[static_cast<size_t>(k) * 3 + e], crash::probe_curve(k)[e]);
    }
    EXPECT_EQ(reader.run(run.id).run_file_error, "");
    python_checks.push_back(fmt::format("run:{}:{}:{}", run_file.string(), rows, probes));

    // The crashed file can be continued: resume after the last durable row.
    {
      auto writer = RunFileWriter::open(run_file);
      writer.truncate_to(rows);
      writer.append(crash::row(rows));
    }
    expect_rows_match(StudyReader(study_dir).read_trajectory(run.id), rows + 1);
    EXPECT_EQ(StudyReader(study_dir).read_trajectory(run.id).points(), static_cast<size_t>(rows + 1));
  }
  EXPECT_GE(trials_with_rows, kTrials / 2) << "too few kills landed after the first flush to test anything";
  run_python_check(python_checks);
}

TEST(CrashSafety, StudyStatusUpdatesFlushedBeforeKillSurvive) {
  testing::ScratchDir scratch;
  std::mt19937 random(7);
  std::uniform_int_distribution<int> delay_ms(20, 300);
  std::vector<std::string> python_checks;
  int trials_with_updates = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    const auto study_dir = scratch.path() / fmt::format("study{}", trial);
    {
      auto writer = StudyWriter::create(study_dir, "", "");
      for (int run = 0; run < crash::kRuns; ++run) {
        RunAttributes attributes;
        attributes.id = crash::run_id(run);
        writer.register_run(attributes);
      }
    }
    const std::string output = run_and_kill({"study", study_dir.string()}, std::chrono::milliseconds(delay_ms(random)));
    const std::vector<int64_t> report = last_report(output);
    const int64_t updates = report.empty() ? 0 : report[0];
    if (updates > 0) ++trials_with_updates;
    SCOPED_TRACE(fmt::format("trial {}: {} updates durable", trial, updates));

    const std::vector<RunInfo> runs = StudyReader(study_dir).runs();
    ASSERT_EQ(runs.size(), static_cast<size_t>(crash::kRuns));
    for (int run = 0; run < crash::kRuns; ++run) {
      // The last durable update of this run, or its registration.
      int64_t expected_attempts = 0;
      for (int64_t k = run; k < updates; k += crash::kRuns) expected_attempts = k + 1;
      const RunAttributes& actual = runs[static_cast<size_t>(run)].attributes;
      // The update in flight when the kill came may have reached the disk too.
      const bool in_flight = updates % crash::kRuns == run && actual.attempts == updates + 1;
      if (!in_flight) {
        ASSERT_EQ(actual.attempts, expected_attempts) << crash::run_id(run);
      }
      if (actual.attempts == 0) {
        EXPECT_EQ(actual.status, RunStatus::pending);
      } else {
        const crash::StatusUpdate update = crash::status_update(actual.attempts - 1);
        EXPECT_EQ(actual.status, update.status) << crash::run_id(run);
        EXPECT_EQ(actual.last_error, update.last_error) << crash::run_id(run);
      }
    }
    python_checks.push_back(fmt::format("study:{}:{}", study_file_path(study_dir).string(), updates));
  }
  EXPECT_GE(trials_with_updates, kTrials / 2);
  run_python_check(python_checks);
}

}  // namespace
}  // namespace plascale
