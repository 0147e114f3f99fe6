// `plascale train` as a real process: a bad shard file is exit 2 naming the file, an
// unknown --run id is exit 2 listing near ids, a real SIGTERM exits 3 after a checkpoint
// from which the same command completes the run bit-identically, and so does a rerun
// after kill -9 (also with every mitigation strategy on).

#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "storage/layout.h"
#include "storage/study.h"
#include "sweeps/expand.h"
#include "sweeps/runspec_yaml.h"
#include "sweeps/sweep.h"
#include "tests/worker/tiny_run.h"
#include "worker/data/token_file.h"

extern char** environ;

namespace plascale {
namespace {

namespace fs = std::filesystem;
using testing::create_study_for;
using testing::expect_identical_runs;
using testing::fresh_test_dir;
using testing::tiny_run_spec;

const fs::path kPlascale = fs::path(PLASCALE_BINARY_DIR) / "app" / "plascale";

// `plascale args...` with stdout and stderr in files under dir; returns its pid.
pid_t spawn_plascale(const std::vector<std::string>& args, const fs::path& dir) {
  std::vector<std::string> argv_strings{kPlascale.string()};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, (dir / "stdout.txt").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, (dir / "stderr.txt").c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  int status = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  EXPECT_EQ(status, 0) << "cannot start " << kPlascale;
  return pid;
}

int wait_exit_code(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int run_plascale(const std::vector<std::string>& args, const fs::path& dir) {
  return wait_exit_code(spawn_plascale(args, dir));
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

fs::path write_runspec(const RunSpec& spec, const fs::path& path) {
  std::ofstream(path) << runspec_to_yaml(spec);
  return path;
}

TEST(TrainCommand, BadShardFileIsExitTwoNamingTheFile) {
  fs::path dir = fresh_test_dir("train_command_bad_shard");
  fs::path shard = dir / "broken_train.bin";
  std::vector<uint16_t> tokens(4096, 7);
  write_llmc_shard(shard, tokens);
  {
    std::fstream file(shard, std::ios::in | std::ios::out | std::ios::binary);
    int32_t bad_magic = 12345;
    file.write(reinterpret_cast<const char*>(&bad_magic), sizeof(bad_magic));
  }
  RunSpec spec = tiny_run_spec();
  spec.sources[0].kind = SourceKind::shards;
  spec.sources[0].train_files = {shard.string()};
  spec.id = run_id(spec);
  fs::path yaml = write_runspec(spec, dir / "run.yaml");
  EXPECT_EQ(run_plascale({"train", yaml.string(), "--out", (dir / "out").string(), "--threads", "1"}, dir), 2);
  std::string error = read_text(dir / "stderr.txt");
  EXPECT_NE(error.find(shard.string()), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(dir / "out" / "run.h5"));
}

TEST(TrainCommand, UnknownRunIdIsExitTwoListingNearIds) {
  fs::path dir = fresh_test_dir("train_command_unknown_run");
  std::vector<RunSpec> runs = expand_sweep(load_default_sweep());
  ASSERT_FALSE(runs.empty());
  std::string typo = runs[0].id;
  typo.back() = typo.back() == '0' ? '1' : '0';
  EXPECT_EQ(run_plascale({"train", "--default", "--run", typo, "--out", (dir / "out").string()}, dir), 2);
  std::string error = read_text(dir / "stderr.txt");
  EXPECT_NE(error.find(typo), std::string::npos) << error;
  EXPECT_NE(error.find(runs[0].id), std::string::npos) << error;
}

TEST(TrainCommand, MissingOutIsExitTwo) {
  fs::path dir = fresh_test_dir("train_command_no_out");
  fs::path yaml = write_runspec(tiny_run_spec(), dir / "run.yaml");
  EXPECT_EQ(run_plascale({"train", yaml.string()}, dir), 2);
  EXPECT_NE(read_text(dir / "stderr.txt").find("--out"), std::string::npos);
}

// A small sweep: one tiny run, two 512-token tasks, probed at the start and after each task.
constexpr const char* kTinySweep = R"(name: recorded
model: {context: 16, vocab: 64}
sizes: [{name: tiny, layers: 2, d_model: 32, heads: 2}]
data:
  synthetic: {seed: 3, order: 2, branching: 4}
  sources:
    - {name: a, kind: synthetic, language: 0}
    - {name: b, kind: synthetic, language: 1}
    - {name: p, kind: synthetic, language: 2}
  schedule: {kind: continual, order: [a, b], tokens_per_task: 512, cycles: 1}
probe: {source: p, steps: 4, eval_interval: 2, eval_sequences: 4, every_tasks: 1}
training: {lr: 3e-3, batch_tokens: 64}
diagnostics: {every_tokens: 256, sample_sequences: 4}
mitigations: [none]
seeds: [0]
output: {study: study}
)";

TEST(TrainCommand, RunFromASweepIsRecordedInTheSweepsStudy) {
  fs::path dir = fresh_test_dir("train_command_records_study");
  fs::path sweep_file = dir / "sweep.yaml";
  std::ofstream(sweep_file) << kTinySweep;
  std::vector<RunSpec> runs = expand_sweep(load_sweep(sweep_file));
  ASSERT_EQ(runs.size(), 1u);
  const std::string id = runs[0].id;
  const std::vector<std::string> args{"train", "--sweep", sweep_file.string(), "--run", id, "--threads", "1"};

  ASSERT_EQ(run_plascale(args, dir), 0) << read_text(dir / "stderr.txt");
  {
    StudyReader study(dir / "study");
    RunInfo run = study.run(id);
    EXPECT_EQ(run.attributes.status, RunStatus::done);
    EXPECT_EQ(run.attributes.attempts, 1);
    EXPECT_TRUE(run.merged);
    EXPECT_EQ(run.last_tokens, 1024);
    EXPECT_EQ(study.read_probe(id).probes(), 3);  // at the start and after each task
  }
  // Training it again finds it complete: one more attempt, the same data.
  ASSERT_EQ(run_plascale(args, dir), 0) << read_text(dir / "stderr.txt");
  StudyReader study(dir / "study");
  EXPECT_EQ(study.run(id).attributes.attempts, 2);
  EXPECT_EQ(study.run(id).attributes.status, RunStatus::done);
  EXPECT_EQ(study.read_trajectory(id).points(), 5);  // tokens 0, 256, 512, 768, 1024
}

// A run long enough to interrupt even on a busy machine (2048 steps, a few hundred ms),
// trained straight once; the runs under test
// are interrupted by a signal and then completed by the same command.
class InterruptedTrainCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    spec_ = tiny_run_spec();
    if (with_mitigations_) spec_.mitigation = testing::all_mitigations();
    spec_.schedule.tokens_per_task = 65536;
    spec_.token_budget = 131072;
    spec_.diagnostics.every_tokens = 8192;
    spec_.checkpoint_every_tokens = 4096;
    spec_.id = run_id(spec_);
    // Suite and test name: the plain and the mitigated suites share test names, and ctest -j
    // runs them side by side.
    const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fresh_test_dir(std::string("train_command_") + test->test_suite_name() + "_" + test->name());
    yaml_ = write_runspec(spec_, dir_ / "run.yaml");
    straight_ = dir_ / "straight";
    create_study_for(straight_, spec_);
    ASSERT_EQ(run_plascale({"train", yaml_.string(), "--out", run_dir_path(straight_, spec_.id).string(),
                            "--threads", "1"},
                           dir_),
              0)
        << read_text(dir_ / "stderr.txt");
    EXPECT_NE(read_text(dir_ / "stdout.txt").find("done: 131072 tokens"), std::string::npos);
  }

  // Starts the run into a fresh study, sends `signal` a little after its first periodic
  // checkpoint and returns the exit code.
  int train_and_interrupt(int signal) {
    interrupted_ = dir_ / "interrupted";
    create_study_for(interrupted_, spec_);
    pid_t pid = spawn_plascale(args(), dir_);
    const fs::path checkpoints = checkpoint_dir_path(interrupted_, spec_.id);
    auto has_checkpoint = [&] {
      std::error_code error;
      for (const auto& entry : fs::directory_iterator(checkpoints, error)) {
        if (entry.path().extension() == ".h5") return true;
      }
      return false;
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!has_checkpoint() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // usually a few steps past it
    EXPECT_EQ(kill(pid, signal), 0);
    return wait_exit_code(pid);
  }

  std::vector<std::string> args() const {
    return {"train", yaml_.string(), "--out", run_dir_path(interrupted_, spec_.id).string(), "--threads", "1"};
  }

  bool with_mitigations_ = false;
  RunSpec spec_;
  fs::path dir_, yaml_, straight_, interrupted_;
};

TEST_F(InterruptedTrainCommand, SigtermExitsThreeAndTheResumedRunIsIdentical) {
  ASSERT_EQ(train_and_interrupt(SIGTERM), 3) << "the run ended before the signal arrived, or did not stop cleanly:\n"
                                             << read_text(dir_ / "stdout.txt") << read_text(dir_ / "stderr.txt");
  EXPECT_NE(read_text(dir_ / "stdout.txt").find("by signal 15"), std::string::npos);

  ASSERT_EQ(run_plascale(args(), dir_), 0) << read_text(dir_ / "stderr.txt");
  EXPECT_NE(read_text(dir_ / "stdout.txt").find("resuming from the checkpoint"), std::string::npos);
  expect_identical_runs(StudyReader(straight_), StudyReader(interrupted_), spec_.id);
}

// kill -9 gives no chance to checkpoint: the rerun resumes from the last periodic
// checkpoint, drops the rows recorded after it and recomputes them identically.
TEST_F(InterruptedTrainCommand, KillNineResumesFromTheLastCheckpointIdentically) {
  ASSERT_EQ(train_and_interrupt(SIGKILL), 128 + SIGKILL);
  ASSERT_EQ(run_plascale(args(), dir_), 0) << read_text(dir_ / "stderr.txt");
  EXPECT_NE(read_text(dir_ / "stdout.txt").find("resuming from the checkpoint"), std::string::npos);
  expect_identical_runs(StudyReader(straight_), StudyReader(interrupted_), spec_.id);
}

// The same with every mitigation strategy on: their state (CBP utilities and ages,
// counters) comes back from the checkpoint through the real command.
class InterruptedMitigatedTrainCommand : public InterruptedTrainCommand {
 protected:
  void SetUp() override {
    with_mitigations_ = true;
    InterruptedTrainCommand::SetUp();
  }
};

TEST_F(InterruptedMitigatedTrainCommand, KillNineResumesFromTheLastCheckpointIdentically) {
  ASSERT_EQ(train_and_interrupt(SIGKILL), 128 + SIGKILL);
  ASSERT_EQ(run_plascale(args(), dir_), 0) << read_text(dir_ / "stderr.txt");
  EXPECT_NE(read_text(dir_ / "stdout.txt").find("resuming from the checkpoint"), std::string::npos);
  expect_identical_runs(StudyReader(straight_), StudyReader(interrupted_), spec_.id);
  EXPECT_GT(StudyReader(interrupted_).read_trajectory(spec_.id).metrics.at("cbp_replaced").values.back(), 0.0);
}

}  // namespace
}  // namespace plascale
