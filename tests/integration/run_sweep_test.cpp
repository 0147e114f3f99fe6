// `plascale run` end to end, on a tiny CPU sweep of 4 runs (2 sizes x 2 seeds): alone, and
// under `mpirun -np 4` (a coordinator and 3 worker ranks) with a child killed -9, the whole
// job killed -9 and restarted, and the coordinator sent SIGTERM and restarted. Every
// assertion is on the study's contents: statuses and attempts in study.h5, trajectories
// compared value for value with runs trained alone without interruption, and the event log.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <regex>
#include <thread>

#include "orchestrator/child.h"
#include "orchestrator/progress_channel.h"
#include "storage/layout.h"
#include "storage/study.h"
#include "sweeps/expand.h"
#include "sweeps/sweep.h"

extern char** environ;

namespace plascale {
namespace {

namespace fs = std::filesystem;

const fs::path kPlascale = fs::path(PLASCALE_BINARY_DIR) / "app" / "plascale";
constexpr double kJobTimeoutSeconds = 120;
constexpr int64_t kHalfBudget = 80000;  // of every run of kSweep

fs::path output_dir() { return fs::path(PLASCALE_BINARY_DIR) / "test-output" / "integration"; }

fs::path fresh_dir(const std::string& name) {
  fs::path dir = output_dir() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// 4 runs of 160K tokens, a checkpoint every 8K tokens, a trajectory row every 4K.
const char* kSweep = R"(name: integration
model: {family: gpt, context: 16, vocab: 64, mlp_ratio: 4}
sizes:
  - {name: s1, layers: 1, d_model: 32, heads: 2}
  - {name: s2, layers: 2, d_model: 32, heads: 2}
data:
  synthetic: {seed: 3, order: 2, branching: 4}
  sources:
    - {name: a, kind: synthetic, language: 0}
    - {name: b, kind: synthetic, language: 1}
    - {name: p, kind: synthetic, language: 2}
  schedule: {kind: continual, order: [a, b], tokens_per_task: 80K, cycles: 1, reset_optimizer: true}
probe: {source: p, steps: 4, eval_interval: 2, eval_sequences: 4, every_tasks: 1, at_start: true, scratch_baseline: false}
training: {lr: 3e-3, batch_tokens: 256, warmup_fraction: 0.1}
budgets: [full]
mitigations: [none]
seeds: [0, 1]
diagnostics: {every_tokens: 4K, sample_sequences: 4, entropy_query_range: [4, 16]}
checkpoint: {every_tokens: 8K}
output: {study: study}
resources: {gpus: 0, cpus: 1}
)";

double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A process started in its own process group, so that the whole job (mpirun, its ranks and
// their children) can be killed at once.
class Job {
 public:
  Job(const std::vector<std::string>& args, const fs::path& log) {
    std::vector<std::string> argv = args;
    std::vector<char*> pointers;
    for (std::string& arg : argv) pointers.push_back(arg.data());
    pointers.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setpgroup(&attributes, 0);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
    const int error = posix_spawnp(&pid_, argv[0].c_str(), &actions, &attributes, pointers.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    if (error != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(error));
  }
  ~Job() {
    if (!exit_) {
      ::killpg(pid_, SIGKILL);
      wait(5);
    }
  }

  // Exit code, or 128 + signal; -1 on timeout.
  int wait(double timeout_seconds = kJobTimeoutSeconds) {
    const double start = seconds_now();
    while (!exit_ && seconds_now() - start < timeout_seconds) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return exit_.value_or(-1);
  }
  pid_t pid() const { return pid_; }
  // kill -9 of every process of the job, and no process of it left afterwards.
  void kill_all() {
    ::killpg(pid_, SIGKILL);
    wait(10);
    for (int i = 0; i < 500 && ::killpg(pid_, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_;
};

std::vector<std::string> mpirun(const std::vector<std::string>& command) {
  std::vector<std::string> args{"mpirun", "--oversubscribe", "-np", "4"};
  args.insert(args.end(), command.begin(), command.end());
  return args;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Events of the study's log as (event, run) pairs, in order.
std::vector<std::pair<std::string, std::string>> events(const fs::path& study) {
  std::vector<std::pair<std::string, std::string>> result;
  std::ifstream in(study / "events.jsonl");
  static const std::regex pattern(R"re("event": "([a-z_]+)"(, "run": "([0-9a-f]+)")?)re");
  for (std::string line; std::getline(in, line);) {
    std::smatch match;
    if (std::regex_search(line, match, pattern)) result.emplace_back(match[1], match[3]);
  }
  return result;
}

int count_events(const fs::path& study, const std::string& event, const std::string& run = "") {
  int count = 0;
  for (const auto& [name, id] : events(study)) count += name == event && (run.empty() || id == run);
  return count;
}

// Tokens of the run's newest checkpoint (ckpt-<tokens>.h5), 0 if none.
int64_t checkpoint_tokens(const fs::path& study, const std::string& run_id) {
  int64_t newest = 0;
  std::error_code error;
  static const std::regex pattern(R"(ckpt-([0-9]+)\.h5)");
  for (const auto& entry : fs::directory_iterator(checkpoint_dir_path(study, run_id), error)) {
    std::smatch match;
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, match, pattern)) newest = std::max<int64_t>(newest, std::stoll(match[1]));
  }
  return newest;
}

// Polls `condition` every 10 ms for up to `seconds`.
template <typename Condition>
bool eventually(Condition condition, double seconds = 60) {
  const double start = seconds_now();
  while (seconds_now() - start < seconds) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// A run that has started in this job, has checkpointed, and has not finished yet, with most
// of its tokens still to train (so that it is still running a moment later).
std::optional<std::string> run_in_flight(const fs::path& study) {
  std::map<std::string, int> state;  // 1 started, 2 ended
  for (const auto& [name, id] : events(study)) {
    if (name == "start") state[id] = 1;
    if (name == "done" || name == "failed" || name == "stopped" || name == "given_up") state[id] = 2;
  }
  for (const auto& [id, value] : state)
    if (value == 1 && checkpoint_tokens(study, id) > 0 && checkpoint_tokens(study, id) <= kHalfBudget) return id;
  return std::nullopt;
}

// The pid of the `plascale train` child training `run_id` in `study`.
std::optional<pid_t> child_pid(const fs::path& study, const std::string& run_id) {
  const std::string needle = (study / "runs" / run_id / "spec.yaml").string();
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = read_text(entry.path() / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(" train ") != std::string::npos && cmdline.find(needle) != std::string::npos)
      return static_cast<pid_t>(std::stoi(name));
  }
  return std::nullopt;
}

std::optional<pid_t> coordinator_pid(const fs::path& study) {
  static const std::regex pattern(R"re("event": "sweep_start", "pid": ([0-9]+))re");
  std::optional<pid_t> pid;
  std::ifstream in(study / "events.jsonl");
  for (std::string line; std::getline(in, line);) {
    std::smatch match;
    if (std::regex_search(line, match, pattern)) pid = std::stoi(match[1]);
  }
  return pid;
}

// Runs the last `plascale run` found with a checkpoint or trajectory to continue from.
int resumed_runs(const fs::path& study) {
  static const std::regex pattern(R"re("event": "sweep_start", .*"resumed": ([0-9]+))re");
  int resumed = -1;
  std::ifstream in(study / "events.jsonl");
  for (std::string line; std::getline(in, line);) {
    std::smatch match;
    if (std::regex_search(line, match, pattern)) resumed = std::stoi(match[1]);
  }
  return resumed;
}

bool same_number(double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); }

// Every run done, merged, with tokens strictly increasing, and every number the same as the
// same run trained alone without interruption (same spec, same thread count).
void expect_complete_and_identical(const fs::path& study, const fs::path& reference) {
  const StudyReader reader(study);
  const StudyReader expected(reference);
  const std::vector<RunInfo> runs = reader.runs();
  ASSERT_EQ(runs.size(), 4u);
  for (const RunInfo& run : runs) {
    const std::string& id = run.attributes.id;
    SCOPED_TRACE("run " + id);
    EXPECT_EQ(run.attributes.status, RunStatus::done);
    EXPECT_TRUE(run.merged);
    const Trajectory trajectory = reader.read_trajectory(id);
    const Trajectory reference_trajectory = expected.read_trajectory(id);
    ASSERT_GT(trajectory.points(), 2u);
    for (size_t point = 1; point < trajectory.points(); ++point)
      EXPECT_LT(trajectory.tokens[point - 1], trajectory.tokens[point]) << "row " << point << " written twice";
    EXPECT_EQ(trajectory.tokens.back(), run.attributes.token_budget);
    ASSERT_EQ(trajectory.tokens, reference_trajectory.tokens);
    EXPECT_EQ(trajectory.step, reference_trajectory.step);
    ASSERT_EQ(trajectory.metrics.size(), reference_trajectory.metrics.size());
    for (const auto& [name, series] : reference_trajectory.metrics) {
      const MetricSeries& actual = trajectory.metrics.at(name);
      ASSERT_EQ(actual.values.size(), series.values.size()) << name;
      for (size_t i = 0; i < series.values.size(); ++i)
        ASSERT_TRUE(same_number(actual.values[i], series.values[i])) << name << "[" << i << "]";
    }
    EXPECT_EQ(reader.read_probe(id).auc, expected.read_probe(id).auc);
    // Completed exactly once: one `done` in the whole history of the study.
    EXPECT_EQ(count_events(study, "done", id), 1);
  }
}

// Decoupled weight decay of lr x weight_decay = 100 flips and multiplies every matrix by 99
// each step: the weights overflow to inf within a few dozen steps and the loss turns NaN.
const char* kDivergingSweep = R"(name: diverging
model: {family: gpt, context: 16, vocab: 64, mlp_ratio: 4}
sizes:
  - {name: s1, layers: 1, d_model: 32, heads: 2}
data:
  synthetic: {seed: 3, order: 2, branching: 4}
  sources:
    - {name: a, kind: synthetic, language: 0}
    - {name: p, kind: synthetic, language: 2}
  schedule: {kind: continual, order: [a], tokens_per_task: 16K, cycles: 1, reset_optimizer: true}
probe: {source: p, steps: 4, eval_interval: 2, eval_sequences: 4, every_tasks: 1, at_start: false, scratch_baseline: false}
training: {lr: 10, weight_decay: 10, batch_tokens: 256, warmup_fraction: 0.0, grad_clip: 0}
budgets: [full]
mitigations: [none]
seeds: [0]
diagnostics: {every_tokens: 4K, sample_sequences: 4, entropy_query_range: [4, 16]}
output: {study: study}
resources: {gpus: 0, cpus: 1}
)";

TEST(RunSweepAlone, ADivergingRunIsRecordedDivergedWithItsTrajectoryAndNeverRetried) {
  const fs::path dir = fresh_dir("diverging");
  std::ofstream(dir / "sweep.yaml") << kDivergingSweep;
  const std::vector<std::string> command{kPlascale.string(), "run", (dir / "sweep.yaml").string(), "--threads", "1"};
  const fs::path study = dir / "study";
  {
    Job job(command, dir / "log.txt");
    ASSERT_EQ(job.wait(), 0) << read_text(dir / "log.txt");  // diverging is a result, not a failure
  }
  {
    const StudyReader reader(study);
    ASSERT_EQ(reader.runs().size(), 1u);
    const RunInfo run = reader.runs().front();
    EXPECT_EQ(run.attributes.status, RunStatus::diverged);
    EXPECT_EQ(run.attributes.attempts, 1);
    EXPECT_EQ(run.attributes.last_error, "loss became NaN or infinite");
    EXPECT_TRUE(run.merged);       // its trajectory is kept in study.h5
    EXPECT_GE(run.points, 2);      // token 0 and the diverged step
    ASSERT_TRUE(run.last_tokens);
    EXPECT_LT(*run.last_tokens, run.attributes.token_budget);
    EXPECT_EQ(count_events(study, "diverged"), 1);
  }
  Job again(command, dir / "log2.txt");
  EXPECT_EQ(again.wait(), 0);
  EXPECT_EQ(count_events(study, "start"), 1);  // a diverged run is never started again
}

class RunSweep : public ::testing::Test {
 protected:
  // The reference: the sweep run alone, one run after another, never interrupted. Each test
  // has its own (ctest runs the tests side by side, each in its own process).
  void SetUp() override {
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    ::setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
    ::setenv("OMP_WAIT_POLICY", "passive", 1);
    name_ = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    const fs::path dir = sweep_in("reference-" + name_);
    Job job(run_command(dir), dir / "log.txt");
    reference_exit_ = job.wait();
  }

  fs::path reference_dir() const { return output_dir() / ("reference-" + name_); }
  fs::path reference() const { return reference_dir() / "study"; }

  // A copy of the sweep in a fresh folder; its study is dir/study.
  fs::path sweep_in(const std::string& name) const {
    const fs::path dir = fresh_dir(name);
    std::ofstream(dir / "sweep.yaml") << kSweep;
    return dir;
  }

  static std::vector<std::string> run_command(const fs::path& dir, std::vector<std::string> extra = {}) {
    std::vector<std::string> command{kPlascale.string(), "run", (dir / "sweep.yaml").string(), "--threads", "1"};
    command.insert(command.end(), extra.begin(), extra.end());
    return command;
  }

  std::string name_;
  int reference_exit_ = -1;
};

TEST_F(RunSweep, AloneTrainsEveryRunOnceAndARerunTrainsNothing) {
  ASSERT_EQ(reference_exit_, 0) << read_text(reference_dir() / "log.txt");
  const StudyReader reader(reference());
  ASSERT_EQ(reader.runs().size(), 4u);
  for (const RunInfo& run : reader.runs()) {
    EXPECT_EQ(run.attributes.status, RunStatus::done);
    EXPECT_EQ(run.attributes.attempts, 1);
    EXPECT_EQ(run.last_tokens, run.attributes.token_budget);
  }
  // Largest estimated cost first: both s2 runs start before any s1 run.
  const auto history = events(reference());
  std::vector<std::string> starts;
  for (const auto& [name, id] : history)
    if (name == "start") starts.push_back(reader.run(id).attributes.size);
  EXPECT_EQ(starts, (std::vector<std::string>{"s2", "s2", "s1", "s1"}));

  Job again(run_command(reference_dir()), reference_dir() / "log2.txt");
  EXPECT_EQ(again.wait(), 0);
  EXPECT_EQ(count_events(reference(), "start"), 4);  // nothing started again
  EXPECT_EQ(count_events(reference(), "sweep_start"), 2);
}

TEST_F(RunSweep, TrainWritesItsHeartbeatToTheProgressDescriptor) {
  ASSERT_EQ(reference_exit_, 0);
  const StudyReader reader(reference());
  const std::string id = reader.runs().front().attributes.id;
  const fs::path out = fresh_dir("progress") / id;
  ChildProcess child({{kPlascale.string(), "train", (reference() / "runs" / id / "spec.yaml").string(), "--out",
                       out.string(), "--threads", "1", "--progress-fd", std::to_string(ChildProcess::kProgressFd)},
                      {},
                      out.parent_path() / "log.txt"});
  std::vector<ChildProgress> progress;
  int events = 0;
  std::optional<ChildExit> exit;
  const double start = seconds_now();
  while (!exit && seconds_now() - start < 60) {
    exit = child.try_wait();
    for (const std::string& line : child.read_lines()) {
      if (auto parsed = parse_progress_line(line)) progress.push_back(*parsed);
      events += line.rfind("event ", 0) == 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (const std::string& line : child.read_lines()) {
    if (auto parsed = parse_progress_line(line)) progress.push_back(*parsed);
  }
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->exit_code, 0);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back().tokens, reader.runs().front().attributes.token_budget);  // the last step is always sent
  EXPECT_EQ(progress.back().total_tokens, reader.runs().front().attributes.token_budget);
  EXPECT_GT(events, 0);  // probes and checkpoints
}

TEST_F(RunSweep, GpuRunsAreGangAssignedAndRunsThatFitNoWorkerEndTheSweepWithExitOne) {
  // The s2 runs need 2 GPUs of one node; the CPU backend trains them, the binding is what is
  // tested (CUDA_VISIBLE_DEVICES comes from the assignment's GPUs: SupervisorTest).
  const fs::path dir = sweep_in("gpus");
  std::string sweep = kSweep;
  sweep.replace(sweep.find("heads: 2}\ndata"), 9, "heads: 2, resources: {gpus: 2}}");
  std::ofstream(dir / "sweep.yaml") << sweep;
  const fs::path study = dir / "study";
  Job too_small(run_command(dir, {"--gpus-per-node", "1"}), dir / "log.txt");
  ASSERT_EQ(too_small.wait(), 1) << read_text(dir / "log.txt");
  EXPECT_NE(read_text(dir / "log.txt").find("2 pending run(s) fit no worker"), std::string::npos)
      << read_text(dir / "log.txt");
  for (const RunInfo& run : StudyReader(study).runs())
    EXPECT_EQ(run.attributes.status, run.attributes.size == "s2" ? RunStatus::pending : RunStatus::done);

  Job enough(run_command(dir, {"--gpus-per-node", "2"}), dir / "log2.txt");
  ASSERT_EQ(enough.wait(), 0) << read_text(dir / "log2.txt");
  const std::string history = read_text(study / "events.jsonl");
  const StudyReader reader(study);
  for (const RunInfo& run : reader.runs()) {
    EXPECT_EQ(run.attributes.status, RunStatus::done);
    if (run.attributes.size != "s2") continue;
    EXPECT_NE(history.find("\"run\": \"" + run.attributes.id + "\", \"attempt\": 1, \"attempts\": 1, \"worker\": 0, "
                           "\"gpus\": [0, 1]"),
              std::string::npos)
        << history;
  }
}

TEST_F(RunSweep, ChangedSweepIsRefusedWithExitTwoUnlessForced) {
  ASSERT_EQ(reference_exit_, 0);
  const fs::path dir = sweep_in("changed");
  fs::copy(reference(), dir / "study", fs::copy_options::recursive);
  std::string changed = kSweep;
  changed.replace(changed.find("lr: 3e-3"), 8, "lr: 2e-3");
  std::ofstream(dir / "sweep.yaml") << changed;
  Job refused(run_command(dir), dir / "log.txt");
  EXPECT_EQ(refused.wait(), 2);
  const std::string log = read_text(dir / "log.txt");
  EXPECT_NE(log.find("computes 4 recorded run(s)"), std::string::npos) << log;
  EXPECT_NE(log.find("lr: 0.002"), std::string::npos) << log;
  EXPECT_EQ(StudyReader(dir / "study").runs().size(), 4u);  // untouched
}

TEST_F(RunSweep, UnderMpirunAChildKilledNineIsRetriedFromItsCheckpoint) {
  ASSERT_EQ(reference_exit_, 0);
  const fs::path dir = sweep_in("kill_child");
  const fs::path study = dir / "study";
  Job job(mpirun(run_command(dir, {"--backoff", "0.2"})), dir / "log.txt");
  std::optional<std::string> victim;
  ASSERT_TRUE(eventually([&] { return (victim = run_in_flight(study)).has_value(); })) << read_text(dir / "log.txt");
  // `plascale status` reads the study while the coordinator and the children write it.
  Job status({kPlascale.string(), "status", study.string(), "--json"}, dir / "status.json");
  ASSERT_EQ(status.wait(), 0) << read_text(dir / "status.json");
  EXPECT_NE(read_text(dir / "status.json").find("\"running\": "), std::string::npos);
  EXPECT_NE(read_text(dir / "status.json").find("\"total\": 4"), std::string::npos) << read_text(dir / "status.json");
  std::optional<pid_t> pid;
  ASSERT_TRUE(eventually([&] { return (pid = child_pid(study, *victim)).has_value(); }, 5));
  ASSERT_EQ(::kill(*pid, SIGKILL), 0);

  ASSERT_EQ(job.wait(), 0) << read_text(dir / "log.txt");
  const StudyReader reader(study);
  for (const RunInfo& run : reader.runs()) EXPECT_EQ(run.attributes.attempts, run.attributes.id == *victim ? 2 : 1);
  EXPECT_EQ(count_events(study, "failed", *victim), 1);
  EXPECT_EQ(count_events(study, "failed"), 1);
  EXPECT_NE(read_text(study / "events.jsonl").find("killed by signal 9 (SIGKILL)"), std::string::npos);
  expect_complete_and_identical(study, reference());
}

TEST_F(RunSweep, UnderMpirunTheWholeJobKilledNineResumesAndCompletesEveryRunOnce) {
  ASSERT_EQ(reference_exit_, 0);
  const fs::path dir = sweep_in("kill_job");
  const fs::path study = dir / "study";
  {
    Job job(mpirun(run_command(dir)), dir / "log.txt");
    ASSERT_TRUE(eventually([&] { return run_in_flight(study).has_value(); })) << read_text(dir / "log.txt");
    job.kill_all();
  }
  {
    // What the kill left: readable, and no run recorded done that has not completed.
    const StudyReader reader(study);
    EXPECT_GE(reader.runs().size(), 4u);
  }
  Job restart(mpirun(run_command(dir)), dir / "log2.txt");
  ASSERT_EQ(restart.wait(), 0) << read_text(dir / "log2.txt");
  EXPECT_EQ(count_events(study, "sweep_start"), 2);
  EXPECT_GE(resumed_runs(study), 1);  // the run in flight continued from its checkpoint
  expect_complete_and_identical(study, reference());
}

// Starts the sweep under mpirun, signals it once a run is in flight (`to_mpirun`: SIGUSR1 to
// mpirun, which forwards it to every rank as a batch system would; else SIGTERM to the
// coordinator alone), expects exit 3 with every running run stopped and pending, then
// restarts and expects the complete, identical study.
void stop_and_resume(const fs::path& dir, const fs::path& reference, bool to_mpirun,
                     const std::vector<std::string>& command) {
  const fs::path study = dir / "study";
  {
    Job job(mpirun(command), dir / "log.txt");
    ASSERT_TRUE(eventually([&] { return run_in_flight(study).has_value(); })) << read_text(dir / "log.txt");
    if (to_mpirun) {
      ASSERT_EQ(::kill(job.pid(), SIGUSR1), 0);
    } else {
      const std::optional<pid_t> coordinator = coordinator_pid(study);
      ASSERT_TRUE(coordinator);
      ASSERT_EQ(::kill(*coordinator, SIGTERM), 0);
    }
    ASSERT_EQ(job.wait(), 3) << read_text(dir / "log.txt");
  }
  {
    const StudyReader reader(study);
    int stopped = 0;
    for (const RunInfo& run : reader.runs()) {
      EXPECT_NE(run.attributes.status, RunStatus::running) << run.attributes.id;
      stopped += count_events(study, "stopped", run.attributes.id);
      if (count_events(study, "stopped", run.attributes.id) == 0) continue;
      EXPECT_EQ(run.attributes.status, RunStatus::pending);
      EXPECT_EQ(run.attributes.attempts, 0);  // a stop is not an attempt
    }
    EXPECT_GE(stopped, 1);
    EXPECT_EQ(count_events(study, "failed"), 0);
  }
  Job restart(mpirun(command), dir / "log2.txt");
  ASSERT_EQ(restart.wait(), 0) << read_text(dir / "log2.txt");
  EXPECT_GE(resumed_runs(study), 1);
  for (const RunInfo& run : StudyReader(study).runs()) EXPECT_EQ(run.attributes.attempts, 1);
  expect_complete_and_identical(study, reference);
}

TEST_F(RunSweep, UnderMpirunSigtermToTheCoordinatorStopsEveryRunWithExitThreeAndARestartFinishes) {
  ASSERT_EQ(reference_exit_, 0);
  const fs::path dir = sweep_in("sigterm");
  stop_and_resume(dir, reference(), false, run_command(dir));
}

TEST_F(RunSweep, UnderMpirunSigusr1ToMpirunReachesEveryRankAndExitsThree) {
  ASSERT_EQ(reference_exit_, 0);
  const fs::path dir = sweep_in("sigusr1");
  stop_and_resume(dir, reference(), true, run_command(dir));
}

}  // namespace
}  // namespace plascale
