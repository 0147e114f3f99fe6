// `plascale submit` against a real Slurm: a throwaway single-node cluster per test
// (tests/slurm/local_cluster: munged, slurmctld, slurmd under a temporary folder), a tiny
// CPU sweep in a folder whose name holds spaces, quotes, $(), backticks and a semicolon.
// Needs root and Debian's slurm-wlm and munge (scripts/install-deps); label `slurm`.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <set>
#include <thread>

#include "slurm/command.h"
#include "slurm/jobs.h"
#include "slurm/shell.h"
#include "slurm_test_util.h"
#include "tiny_sweep.h"

namespace plascale::slurm {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kPlascale = PLASCALE_BINARY_DIR "/app/plascale";
const std::string kLocalCluster = PLASCALE_SOURCE_DIR "/tests/slurm/local_cluster";
const std::string kCheckStudy = PLASCALE_SOURCE_DIR "/tests/slurm/check_study.py";
const std::string kHostile = "it's a \"study\" $(touch canary) `touch canary`; touch canary & 100%";

const std::set<std::string> kFinalStates{"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL",
                                         "PREEMPTED", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"};

std::string line_starting_with(const std::string& text, const std::string& prefix) {
  const size_t at = text.find("\n" + prefix);
  if (at == std::string::npos) return "";
  return text.substr(at + 1, text.find('\n', at + 1) - at - 1);
}

// Starts the cluster under root/c and points the Slurm commands at it; stops it (cancelling
// every job and removing its folder) at the end of the test, failed or not.
class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(getuid(), 0u) << "the local Slurm cluster needs root (slurmd starts jobs as their users)";
    cluster_dir_ = root_.path / "c";
    CommandResult started = run_command({kLocalCluster, "start", cluster_dir_.string()});
    ASSERT_EQ(started.exit_code, 0) << started.output << started.errors;
    setenv("SLURM_CONF", (cluster_dir_ / "etc/slurm.conf").c_str(), 1);
    study_ = root_.path / kHostile / "study";
    sweep_file_ = root_.path / kHostile / "tiny sweep's.yaml";
  }

  void TearDown() override {
    CommandResult stopped = run_command({kLocalCluster, "stop", cluster_dir_.string()});
    EXPECT_EQ(stopped.exit_code, 0) << stopped.output << stopped.errors;
    EXPECT_FALSE(fs::exists(cluster_dir_));
    unsetenv("SLURM_CONF");
  }

  void write_sweep(const std::string& yaml) {
    fs::create_directories(sweep_file_.parent_path());
    std::ofstream(sweep_file_) << yaml;
  }

  // Runs a command in root/ (so a command injected into it would leave root/canary).
  CommandResult in_root(const std::vector<std::string>& argv) {
    std::string command = "cd " + shell_quote(root_.path.string()) + " && exec";
    for (const std::string& arg : argv) {
      command += ' ';
      command += shell_quote(arg);
    }
    return run_command({"bash", "-c", command});
  }

  CommandResult submit(const std::string& launcher = "srun") {
    return in_root({kPlascale, "submit", sweep_file_.string(), "--study", study_.string(), "--time", "10",
                    "--launcher", launcher});
  }

  // Waits until every job in jobs.tsv has ended; their final states by id.
  std::map<std::string, std::string> wait_for_jobs(std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (true) {
      std::vector<std::string> ids;
      for (const JobRecord& job : read_jobs(study_)) ids.push_back(job.job_id);
      std::map<std::string, std::string> states = job_states(ids);
      const bool ended = std::all_of(ids.begin(), ids.end(), [&](auto& id) {
        return states.count(id) && kFinalStates.count(states[id]);
      });
      if (ended || std::chrono::steady_clock::now() > deadline) return states;
      std::this_thread::sleep_for(200ms);
    }
  }

  CommandResult check_study(const std::vector<std::string>& options) {
    std::vector<std::string> argv{PLASCALE_PYTHON, kCheckStudy, study_.string()};
    argv.insert(argv.end(), options.begin(), options.end());
    return run_command(argv);
  }

  void expect_no_canary() {
    for (const auto& entry : fs::recursive_directory_iterator(root_.path))
      EXPECT_NE(entry.path().filename(), "canary") << "an injected command ran: " << entry.path();
  }

  std::string log_text() {
    std::string text;
    for (const auto& entry : fs::directory_iterator(study_ / "slurm"))
      if (entry.path().extension() == ".log") text += "== " + entry.path().string() + "\n" + read_text(entry.path());
    return text;
  }

  TempDir root_;
  fs::path cluster_dir_, study_, sweep_file_;
};

TEST_F(ClusterTest, SubmittedSweepCompletesThenItsFitAndReportJobRuns) {
  write_sweep(tiny_sweep_yaml());
  CommandResult submitted = submit();
  ASSERT_EQ(submitted.exit_code, 0) << submitted.output << submitted.errors;
  const std::vector<JobRecord> jobs = read_jobs(study_);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_NE(submitted.output.find("submitted sweep job " + jobs[0].job_id + " and fit job " + jobs[1].job_id),
            std::string::npos) << submitted.output;

  std::map<std::string, std::string> states = wait_for_jobs(150s);
  EXPECT_EQ(states[jobs[0].job_id], "COMPLETED") << log_text();
  EXPECT_EQ(states[jobs[1].job_id], "COMPLETED") << log_text();
  // The sweep ran into exactly the given folder, and the fit job found it complete.
  CommandResult checked = check_study({"--fits"});
  EXPECT_EQ(checked.exit_code, 0) << checked.output << checked.errors << log_text();
  EXPECT_TRUE(fs::exists(study_ / "report" / "index.html")) << log_text();
  expect_no_canary();

  CommandResult status = run_command({kPlascale, "status", study_.string()});
  EXPECT_EQ(status.exit_code, 0) << status.errors;
  EXPECT_NE(status.output.find("resubmitted 0 times"), std::string::npos) << status.output;
  for (const JobRecord& job : jobs) {
    const std::string row = line_starting_with(status.output, job.job_id + "  ");
    EXPECT_NE(row.find(job.kind), std::string::npos) << status.output;
    EXPECT_TRUE(row.ends_with("COMPLETED")) << status.output;
  }
  CommandResult status_json = run_command({kPlascale, "status", study_.string(), "--json"});
  EXPECT_EQ(status_json.exit_code, 0) << status_json.errors;
  for (const JobRecord& job : jobs) {
    const size_t object = status_json.output.find("{\"job_id\": \"" + job.job_id + "\", \"kind\": \"" + job.kind + "\"");
    ASSERT_NE(object, std::string::npos) << status_json.output;
    const std::string text = status_json.output.substr(object, status_json.output.find('}', object) - object);
    EXPECT_TRUE(text.ends_with("\"state\": \"COMPLETED\"")) << status_json.output;
  }
}

TEST_F(ClusterTest, SubmitRefusesWhileASweepJobIsActive) {
  write_sweep(tiny_sweep_yaml());
  // Pending for ten minutes (the cluster is stopped long before): still active when resubmitted.
  CommandResult first = in_root({kPlascale, "submit", sweep_file_.string(), "--study", study_.string(),
                                 "--sbatch-option=--begin=now+600"});
  ASSERT_EQ(first.exit_code, 0) << first.output << first.errors;
  const std::vector<JobRecord> jobs = read_jobs(study_);
  ASSERT_EQ(jobs.size(), 2u);
  CommandResult again = submit();
  EXPECT_EQ(again.exit_code, 2) << again.output << again.errors;
  EXPECT_NE(again.errors.find("already has sweep job " + jobs[0].job_id + " (PENDING)"), std::string::npos)
      << again.errors;
  EXPECT_EQ(read_jobs(study_).size(), 2u);
}

// Preemption: the warning signal reaches the running job mid-sweep; the coordinator
// checkpoints, the job resubmits itself, the fit job follows the new job, and the study
// ends with every run done once and trajectories identical to an uninterrupted run.
class LauncherTest : public ClusterTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(LauncherTest, WarnedJobResubmitsItselfAndTheSweepFinishesAsIfUninterrupted) {
  // Four runs of 640K tokens, seconds each, checkpointed every 64K tokens.
  std::string yaml = tiny_sweep_yaml();
  yaml.replace(yaml.find("tokens_per_task: 16K"), 20, "tokens_per_task: 160K");
  yaml.replace(yaml.find("checkpoint: {every_tokens: 4K}"), 30, "checkpoint: {every_tokens: 64K}\nseeds: [0, 1]");
  write_sweep(yaml);
  const fs::path reference = root_.path / "reference";
  CommandResult uninterrupted = run_command({kPlascale, "run", sweep_file_.string(), "--study", reference.string()});
  ASSERT_EQ(uninterrupted.exit_code, 0) << uninterrupted.output << uninterrupted.errors;

  CommandResult submitted = submit(GetParam());
  ASSERT_EQ(submitted.exit_code, 0) << submitted.output << submitted.errors;
  const std::string first_job = read_jobs(study_).at(0).job_id;
  // Mid-sweep: once some run has written a checkpoint.
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  auto some_checkpoint = [&] {
    if (!fs::exists(study_ / "runs")) return false;
    for (const auto& entry : fs::recursive_directory_iterator(study_ / "runs"))
      if (entry.path().extension() == ".h5" && entry.path().parent_path().filename() == "ckpt") return true;
    return false;
  };
  while (!some_checkpoint() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(some_checkpoint()) << log_text();
  CommandResult warned = run_command({"scancel", "--signal=USR1", "--batch", first_job});
  ASSERT_EQ(warned.exit_code, 0) << warned.errors;

  std::map<std::string, std::string> states = wait_for_jobs(180s);
  const std::vector<JobRecord> jobs = read_jobs(study_);
  ASSERT_EQ(jobs.size(), 3u) << log_text();
  EXPECT_EQ(jobs[2].kind, "sweep");
  EXPECT_EQ(jobs[2].resubmit_index, 1);
  EXPECT_EQ(resubmissions(jobs), 1);
  EXPECT_EQ(states[jobs[0].job_id], "FAILED") << "the warned job exits 3" << log_text();
  EXPECT_EQ(states[jobs[2].job_id], "COMPLETED") << log_text();
  EXPECT_EQ(states[jobs[1].job_id], "COMPLETED") << "the fit job follows the resubmitted job" << log_text();

  CommandResult checked = check_study({"--reference", reference.string(), "--fits"});
  EXPECT_EQ(checked.exit_code, 0) << checked.output << checked.errors << log_text();
  EXPECT_TRUE(fs::exists(study_ / "report" / "index.html")) << log_text();
  expect_no_canary();
}

// srun --mpi=pmix (Slurm's PMIx plugin with Debian's Open MPI) and Open MPI's own mpirun.
INSTANTIATE_TEST_SUITE_P(Slurm, LauncherTest, ::testing::Values("srun", "mpirun"));

}  // namespace
}  // namespace plascale::slurm
