// Child supervision with real processes: a stand-in `plascale` script plays the child
// (exits, crashes, stalls, checkpoints on SIGTERM) according to the word in its spec file.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "tests/orchestrator/test_dir.h"
#include "orchestrator/child.h"
#include "orchestrator/run_files.h"
#include "orchestrator/supervisor.h"

namespace plascale {
namespace {

namespace fs = std::filesystem;

using testing::fresh_dir;

double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Called as `plascale train SPEC --out DIR --threads N --progress-fd 3`.
constexpr const char* kFakeTrain = R"(#!/bin/sh
mode=$(cat "$2")
echo "threads=$6 cuda=[$CUDA_VISIBLE_DEVICES] omp=$OMP_WAIT_POLICY"
case "$mode" in
  ok) echo "progress 10 20 1.5" >&3; echo "event probe" >&3; echo "progress 20 20 1.25" >&3; exit 0;;
  crash) echo "plascale: error: about to crash" >&2; kill -9 $$;;
  fail) echo "plascale: error: the data file is gone" >&2; exit 1;;
  badinput) echo "plascale: error: spec.yaml:3:7: unknown key 'lrr'" >&2; exit 2;;
  diverge) echo "progress 8 20 nan" >&3; exit 4;;
  stall) exec sleep 60;;
  term) trap 'echo "progress 30 40 1.0" >&3; exit 3' TERM; echo "progress 1 40 2" >&3;
        while :; do sleep 0.05; done;;
  deaf) trap '' TERM; echo "progress 1 40 2" >&3; while :; do sleep 0.05; done;;
esac
)";

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    options_.study_dir = dir_ / "study";
    options_.plascale = dir_ / "fake-plascale";
    std::ofstream(options_.plascale) << kFakeTrain;
    fs::permissions(options_.plascale, fs::perms::owner_all);
    options_.worker = 3;
    options_.threads = 2;
    options_.stall_timeout_seconds = 30;
  }

  RunOrder order(const std::string& run_id, const std::string& mode, std::vector<int> gpus = {}) {
    const RunPaths paths = run_paths(options_.study_dir, run_id);
    fs::create_directories(paths.dir);
    std::ofstream(paths.spec) << mode;
    return RunOrder{{run_id, options_.worker, std::move(gpus), 1}, 0};
  }

  // Polls until `count` runs ended (or 20 s), collecting progress.
  std::vector<RunReport> wait_for(Supervisor& supervisor, size_t count, std::vector<ProgressReport>* progress = nullptr) {
    std::vector<RunReport> ended;
    std::vector<ProgressReport> seen;
    const double start = seconds_now();
    while (ended.size() < count && seconds_now() - start < 20) {
      supervisor.poll(seconds_now(), seen, ended);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (progress) *progress = seen;
    return ended;
  }

  std::string log_of(const std::string& run_id) {
    std::ifstream in(run_paths(options_.study_dir, run_id).log);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  fs::path dir_;
  SupervisorOptions options_;
};

TEST_F(SupervisorTest, CompletedRunReportsProgressThreadsAndPassiveWaiting) {
  Supervisor supervisor(options_);
  EXPECT_TRUE(supervisor.offer().cpu_slot_free);
  supervisor.start(order("run-ok", "ok"), seconds_now());
  EXPECT_FALSE(supervisor.has_capacity());  // a CPU worker runs one child at a time
  std::vector<ProgressReport> progress;
  const auto ended = wait_for(supervisor, 1, &progress);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].end, RunEnd::completed);
  EXPECT_EQ(ended[0].worker, 3);
  EXPECT_EQ(ended[0].exit_code, 0);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().tokens, 20);
  EXPECT_EQ(progress.back().total_tokens, 20);
  EXPECT_EQ(progress.back().loss, 1.25);
  EXPECT_NE(log_of("run-ok").find("threads=2 cuda=[] omp=passive"), std::string::npos) << log_of("run-ok");
  EXPECT_TRUE(supervisor.has_capacity());
  EXPECT_FALSE(supervisor.busy());
}

TEST_F(SupervisorTest, OrderThreadsOverrideTheWorkersShare) {
  Supervisor supervisor(options_);
  RunOrder with_threads = order("run-threads", "ok");
  with_threads.threads = 5;
  supervisor.start(with_threads, seconds_now());
  ASSERT_EQ(wait_for(supervisor, 1).size(), 1u);
  EXPECT_NE(log_of("run-threads").find("threads=5 "), std::string::npos);
}

TEST_F(SupervisorTest, CrashIsAFailureNamingTheSignalAndTheLastLogLine) {
  Supervisor supervisor(options_);
  supervisor.start(order("run-crash", "crash"), seconds_now());
  supervisor.start(order("run-fail", "fail"), seconds_now());  // a second child: the test drives it directly
  const auto ended = wait_for(supervisor, 2);
  ASSERT_EQ(ended.size(), 2u);
  for (const RunReport& report : ended) {
    EXPECT_EQ(report.end, RunEnd::failed);
    if (report.run_id == "run-crash") {
      EXPECT_EQ(report.signal, SIGKILL);
      EXPECT_EQ(report.error, "killed by signal 9 (SIGKILL): plascale: error: about to crash");
    } else {
      EXPECT_EQ(report.exit_code, 1);
      EXPECT_EQ(report.error, "exit code 1: plascale: error: the data file is gone");
    }
  }
}

TEST_F(SupervisorTest, BadInputIsRejectedNotRetried) {
  Supervisor supervisor(options_);
  supervisor.start(order("run-bad", "badinput"), seconds_now());
  const auto ended = wait_for(supervisor, 1);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].end, RunEnd::rejected);
  EXPECT_EQ(ended[0].error, "exit code 2: plascale: error: spec.yaml:3:7: unknown key 'lrr'");
}

TEST_F(SupervisorTest, DivergedRunIsReportedDiverged) {
  Supervisor supervisor(options_);
  supervisor.start(order("run-nan", "diverge"), seconds_now());
  const auto ended = wait_for(supervisor, 1);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].end, RunEnd::diverged);
  EXPECT_EQ(ended[0].exit_code, 4);
}

TEST_F(SupervisorTest, SilentChildIsKilledAfterTheStallTimeout) {
  options_.stall_timeout_seconds = 0.3;
  Supervisor supervisor(options_);
  const double start = seconds_now();
  supervisor.start(order("run-stall", "stall"), start);
  const auto ended = wait_for(supervisor, 1);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].end, RunEnd::failed);
  EXPECT_EQ(ended[0].signal, SIGKILL);
  EXPECT_EQ(ended[0].error, "stalled: no progress for 0.3 s; killed");
  EXPECT_LT(seconds_now() - start, 10.0);
}

TEST_F(SupervisorTest, StopAllCheckpointsChildrenAndKillsTheDeafAfterTheDeadline) {
  options_.gpus = {0, 1};
  options_.devices = {"4", "5"};
  options_.stop_deadline_seconds = 0.5;
  Supervisor supervisor(options_);
  EXPECT_EQ(supervisor.offer().free_gpus, (std::vector<int>{0, 1}));
  supervisor.start(order("run-term", "term", {0}), seconds_now());
  EXPECT_EQ(supervisor.offer().free_gpus, (std::vector<int>{1}));
  supervisor.start(order("run-deaf", "deaf", {1}), seconds_now());
  EXPECT_TRUE(supervisor.offer().free_gpus.empty());
  // GPU runs leave the CPU slot free: a CPU run may still go beside them.
  EXPECT_TRUE(supervisor.offer().cpu_slot_free);
  // Both children are up (their first progress line) before the stop.
  std::vector<ProgressReport> progress;
  std::vector<RunReport> ended;
  for (int i = 0; i < 2000 && progress.size() < 2; ++i) {
    supervisor.poll(seconds_now(), progress, ended);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(progress.size(), 2u);
  supervisor.stop_all(seconds_now());
  ended = wait_for(supervisor, 2);
  ASSERT_EQ(ended.size(), 2u);
  for (const RunReport& report : ended) {
    EXPECT_EQ(report.end, RunEnd::stopped) << report.run_id;
    if (report.run_id == "run-term") {
      EXPECT_EQ(report.exit_code, 3);
    } else {
      EXPECT_EQ(report.signal, SIGKILL);
    }
  }
  EXPECT_NE(log_of("run-term").find("cuda=[4]"), std::string::npos) << log_of("run-term");
  EXPECT_NE(log_of("run-deaf").find("cuda=[5]"), std::string::npos) << log_of("run-deaf");
}

TEST_F(SupervisorTest, ProgramThatCannotStartIsAFailedRun) {
  options_.plascale = dir_ / "no-such-program";
  Supervisor supervisor(options_);
  supervisor.start(order("run-missing", "ok"), seconds_now());
  const auto ended = wait_for(supervisor, 1);
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].end, RunEnd::failed);
  EXPECT_NE(ended[0].error.find("no-such-program"), std::string::npos) << ended[0].error;
}

TEST(ChildProcess, DestroyingARunningChildKillsAndReapsIt) {
  pid_t pid;
  {
    ChildProcess child({{"/bin/sleep", "30"}, {}, {}});
    pid = child.pid();
    ASSERT_GT(pid, 0);
  }
  // Reaped: the pid no longer names a process of ours (not even a zombie).
  EXPECT_EQ(::kill(pid, 0), -1);
}

TEST(ChildProcess, LinesSplitAcrossReadsAreReassembled) {
  ChildProcess child({{"/bin/sh", "-c", "printf 'progress 1 ' >&3; sleep 0.2; printf '2 3\\nevent x\\n' >&3"}, {}, {}});
  std::vector<std::string> lines;
  std::optional<ChildExit> exit;
  for (int i = 0; i < 2000 && !exit; ++i) {
    for (std::string& line : child.read_lines()) lines.push_back(line);
    exit = child.try_wait();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (std::string& line : child.read_lines()) lines.push_back(line);
  ASSERT_TRUE(exit);
  EXPECT_EQ(describe_exit(*exit), "exit code 0");
  EXPECT_EQ(lines, (std::vector<std::string>{"progress 1 2 3", "event x"}));
}

}  // namespace
}  // namespace plascale
