// The generated batch scripts, run by bash with fake srun/sbatch/scontrol/scancel and a fake
// plascale in PATH: what exactly reaches each command, the trap that forwards the warning,
// resubmission and the fit job's dependency. No Slurm needed (cluster_test.cpp uses a real one).

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "slurm/batch_script.h"
#include "slurm/command.h"
#include "slurm/jobs.h"
#include "slurm/shell.h"
#include "slurm_test_util.h"
#include "sweeps/errors.h"

namespace plascale::slurm {
namespace {

namespace fs = std::filesystem;

// Spaces, both quotes, $(), backticks, a semicolon, '&', '%', '*' and '~': each would run
// `touch canary` or change the words if the script did not quote it.
const std::string kHostile = "it's a \"study\" $(touch canary) `touch canary`; touch canary & 100% *~";

TEST(ShellQuote, BashReadsBackExactlyTheGivenBytes) {
  const TempDir dir;
  const std::vector<std::string> texts{"", "plain", "a b", "it's", "''", "'\\''", kHostile, "new\nline",
                                       "tab\there", "back\\slash", "$HOME", "!event", "ünï"};
  for (const std::string& text : texts) {
    CommandResult result = run_command({"bash", "-c", "cd " + shell_quote(dir.path.string()) + " && printf %s " + shell_quote(text)});
    EXPECT_EQ(result.exit_code, 0) << result.errors;
    EXPECT_EQ(result.output, text);
  }
  EXPECT_FALSE(fs::exists(dir.path / "canary"));
}

// A BatchJob in a hostile folder under `root`, with fake commands in root/bin.
struct FakeCluster {
  TempDir root;
  BatchJob job;
  fs::path bin = root.path / "bin";
  fs::path record = root.path / "record";  // what the fakes saw

  FakeCluster() {
    fs::create_directories(bin);
    fs::create_directories(record);
    const fs::path hostile = root.path / kHostile;
    job.job_name = "plascale-tiny";
    job.partition = "debug";
    job.config.max_resubmits = 2;
    job.study_dir = hostile / "study";
    job.sweep_file = hostile / "sweep file.yaml";
    job.plascale = bin / "plascale";
    fs::create_directories(slurm_dir(job.study_dir));
    // The fake coordinator records its arguments, then exits FAKE_EXIT, or with FAKE_WAIT
    // runs until USR1 makes it "checkpoint" and exit 3.
    write_executable(job.plascale, R"(#!/bin/bash
printf '%s\0' "$@" >"$FAKE_RECORD/plascale.argv"
trap 'echo stopped >"$FAKE_RECORD/plascale.stopped"; exit 3' USR1
touch "$FAKE_RECORD/plascale.started"
if [ -n "${FAKE_WAIT:-}" ]; then while :; do sleep 0.05; done; fi
exit "${FAKE_EXIT:-0}"
)");
    // srun and mpirun hand the signal on to the tasks; exec gives the same effect here.
    write_executable(bin / "srun", R"(#!/bin/bash
printf '%s\0' "$@" >"$FAKE_RECORD/srun.argv"
[ "$1" = --mpi=pmix ] || exit 90
shift
exec "$@"
)");
    write_executable(bin / "mpirun", R"(#!/bin/bash
env | grep ^OMPI_ALLOW >"$FAKE_RECORD/mpirun.env"
exec "$@"
)");
    for (const char* tool : {"sbatch", "scontrol", "scancel"})
      write_executable(bin / tool, fmt_tool(tool));
  }

  static std::string fmt_tool(const std::string& tool) {
    std::string text = "#!/bin/bash\nprintf '%s\\0' \"$@\" >\"$FAKE_RECORD/" + tool + ".argv\"\n";
    if (tool == "sbatch") text += "echo 77\n";
    return text;
  }

  // Runs the sweep script as Slurm would (job 4242, cwd = study) with `environment` added;
  // with `warn_after_start`, sends USR1 to the script once the fake coordinator runs.
  CommandResult run_sweep_script(const std::string& environment, int resubmit_index, bool warn_after_start = false) {
    const fs::path script = sweep_script_path(job.study_dir);
    write_executable(script, sweep_script(job));
    std::string command = "cd " + shell_quote(job.study_dir.string()) + " && export PATH=" +
                          shell_quote(bin.string()) + ":$PATH FAKE_RECORD=" + shell_quote(record.string()) +
                          " SLURM_JOB_ID=4242 " + environment + " || exit 99; bash " + shell_quote(script.string()) + " " +
                          std::to_string(resubmit_index);
    if (warn_after_start) {
      command += " & job=$!; until [ -e " + shell_quote((record / "plascale.started").string()) +
                 " ]; do sleep 0.02; done; kill -USR1 $job; wait $job";
    }
    return run_command({"bash", "-c", command});
  }

  std::vector<std::string> seen(const std::string& tool) const { return read_words(record / (tool + ".argv")); }
};

TEST(SweepScript, RunsTheCoordinatorWithExactlyTheGivenPaths) {
  FakeCluster cluster;
  CommandResult result = cluster.run_sweep_script("FAKE_EXIT=0", 0);
  EXPECT_EQ(result.exit_code, 0) << result.output << result.errors;
  EXPECT_EQ(cluster.seen("plascale"), (std::vector<std::string>{"run", cluster.job.sweep_file.string(), "--study",
                                                                cluster.job.study_dir.string()}));
  EXPECT_EQ(cluster.seen("srun").at(0), "--mpi=pmix");
  EXPECT_FALSE(fs::exists(cluster.record / "sbatch.argv"));
  EXPECT_FALSE(fs::exists(cluster.record / "scancel.argv"));
  // No quoting mistake ran the injected commands, neither here nor in the hostile folders.
  for (const auto& entry : fs::recursive_directory_iterator(cluster.root.path))
    EXPECT_NE(entry.path().filename(), "canary") << entry.path();
}

TEST(SweepScript, PassesGpusPerNodeToTheCoordinator) {
  FakeCluster cluster;
  cluster.job.config.gpus_per_node = 4;
  cluster.job.config.cpus_per_gpu = 8;
  ASSERT_EQ(cluster.run_sweep_script("FAKE_EXIT=0", 0).exit_code, 0);
  const std::vector<std::string> argv = cluster.seen("plascale");
  ASSERT_EQ(argv.size(), 6u);
  EXPECT_EQ(argv[4], "--gpus-per-node");
  EXPECT_EQ(argv[5], "4");
}

TEST(SweepScript, MpirunLauncherAllowsRootOnlyWhenRunningAsRoot) {
  FakeCluster cluster;
  cluster.job.config.launcher = "mpirun";
  ASSERT_EQ(cluster.run_sweep_script("FAKE_EXIT=0", 0).exit_code, 0);
  EXPECT_EQ(cluster.seen("plascale").at(0), "run");
  std::ifstream env(cluster.record / "mpirun.env");
  std::string text((std::istreambuf_iterator<char>(env)), {});
  if (getuid() == 0) EXPECT_NE(text.find("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"), std::string::npos);
  else EXPECT_EQ(text, "");
}

TEST(SweepScript, ExitThreeResubmitsItselfAndMovesTheFitJob) {
  FakeCluster cluster;
  append_job(cluster.job.study_dir, {"4242", "sweep", "t0", 0});
  append_job(cluster.job.study_dir, {"4243", "fit", "t0", 0});
  CommandResult result = cluster.run_sweep_script("FAKE_EXIT=3", 0);
  EXPECT_EQ(result.exit_code, 3) << result.output << result.errors;
  std::vector<std::string> expected{"--parsable", "--dependency=afterany:4242"};
  for (const std::string& option : sweep_sbatch_options(cluster.job)) expected.push_back(option);
  expected.push_back(sweep_script_path(cluster.job.study_dir).string());
  expected.push_back("1");
  EXPECT_EQ(cluster.seen("sbatch"), expected);
  EXPECT_EQ(cluster.seen("scontrol"), (std::vector<std::string>{"update", "JobId=4243", "Dependency=afterok:77"}));
  const std::vector<JobRecord> jobs = read_jobs(cluster.job.study_dir);
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[2].job_id, "77");
  EXPECT_EQ(jobs[2].kind, "sweep");
  EXPECT_EQ(jobs[2].resubmit_index, 1);
  EXPECT_EQ(resubmissions(jobs), 1);
  EXPECT_FALSE(fs::exists(cluster.record / "scancel.argv"));
}

TEST(SweepScript, WarningIsForwardedAndTheJobResubmits) {
  FakeCluster cluster;
  append_job(cluster.job.study_dir, {"4242", "sweep", "t0", 0});
  append_job(cluster.job.study_dir, {"4243", "fit", "t0", 0});
  CommandResult result = cluster.run_sweep_script("FAKE_WAIT=1", 1, /*warn_after_start=*/true);
  EXPECT_EQ(result.exit_code, 3) << result.output << result.errors;
  EXPECT_TRUE(fs::exists(cluster.record / "plascale.stopped"));
  EXPECT_EQ(cluster.seen("sbatch").back(), "2");
  EXPECT_EQ(read_jobs(cluster.job.study_dir).back().resubmit_index, 2);
}

TEST(SweepScript, StopsResubmittingAtTheBoundAndCancelsTheFitJob) {
  FakeCluster cluster;  // max_resubmits = 2
  append_job(cluster.job.study_dir, {"4243", "fit", "t0", 0});
  CommandResult result = cluster.run_sweep_script("FAKE_EXIT=3", 2);
  EXPECT_EQ(result.exit_code, 3);
  EXPECT_FALSE(fs::exists(cluster.record / "sbatch.argv"));
  EXPECT_EQ(cluster.seen("scancel"), (std::vector<std::string>{"4243"}));
  EXPECT_NE(result.output.find("max_resubmits"), std::string::npos) << result.output;
}

TEST(SweepScript, FailedSweepCancelsTheFitJob) {
  FakeCluster cluster;
  append_job(cluster.job.study_dir, {"4243", "fit", "t0", 0});
  EXPECT_EQ(cluster.run_sweep_script("FAKE_EXIT=1", 0).exit_code, 1);
  EXPECT_EQ(cluster.seen("scancel"), (std::vector<std::string>{"4243"}));
  EXPECT_FALSE(fs::exists(cluster.record / "sbatch.argv"));
}

TEST(FitScript, FitsThenReportsTheExactStudy) {
  FakeCluster cluster;
  const fs::path script = fit_script_path(cluster.job.study_dir);
  write_executable(script, fit_script(cluster.job));
  CommandResult result = run_command({"bash", "-c", "cd " + shell_quote(cluster.job.study_dir.string()) +
                                                        " && FAKE_RECORD=" + shell_quote(cluster.record.string()) +
                                                        " bash " + shell_quote(script.string())});
  EXPECT_EQ(result.exit_code, 0) << result.errors;
  // The fake records its last call: the report.
  EXPECT_EQ(cluster.seen("plascale"), (std::vector<std::string>{"report", cluster.job.study_dir.string(), "--out",
                                                                (cluster.job.study_dir / "report").string()}));
}

TEST(SweepScript, DirectivesDescribeTheAllocation) {
  FakeCluster cluster;
  SlurmConfig& config = cluster.job.config;
  cluster.job.account = "proj-42";
  config.qos = "high";
  config.nodes = 4;
  config.workers_per_node = 1;
  config.gpus_per_node = 8;
  config.cpus_per_gpu = 12;
  config.mem = "480G";
  config.time_limit = "1-00:00:00";
  config.constraint = "h100&ib";
  config.warning_seconds = 600;
  config.sbatch_options = {"--exclusive", "--mail-type=END"};
  const std::string script = sweep_script(cluster.job);
  for (const char* line : {"#SBATCH --job-name=plascale-tiny\n", "#SBATCH --partition=debug\n",
                           "#SBATCH --account=proj-42\n", "#SBATCH --qos=high\n", "#SBATCH --nodes=4\n",
                           "#SBATCH --ntasks=5\n", "#SBATCH --gpus-per-node=8\n", "#SBATCH --cpus-per-gpu=12\n",
                           "#SBATCH --mem=480G\n", "#SBATCH --time=1-00:00:00\n", "#SBATCH --constraint=h100&ib\n",
                           "#SBATCH --signal=B:USR1@600\n", "#SBATCH --exclusive\n", "#SBATCH --mail-type=END\n"})
    EXPECT_NE(script.find(line), std::string::npos) << line;
  EXPECT_EQ(script.find("--cpus-per-task"), std::string::npos);
  // sbatch stops reading directives at the first command.
  EXPECT_LT(script.rfind("\n#SBATCH"), script.find("\nset -u"));
  EXPECT_EQ(run_command({"bash", "-n", "-c", script}).exit_code, 0);
}

TEST(SweepScript, PercentInTheStudyPathIsEscapedForSlurmsOutputPattern) {
  FakeCluster cluster;
  const std::vector<std::string> options = sweep_sbatch_options(cluster.job);
  ASSERT_EQ(options.size(), 2u);
  EXPECT_EQ(options[0], "--chdir=" + cluster.job.study_dir.string());
  EXPECT_NE(options[1].find("100%% *~"), std::string::npos) << options[1];
  EXPECT_TRUE(options[1].ends_with("/sweep-%j.log"));
}

// Each check names the flag (and YAML key) and says what is allowed.
void expect_rejected(const BatchJob& job, const std::string& mentions) {
  try {
    check_batch_job(job);
    ADD_FAILURE() << "accepted; expected an error mentioning " << mentions;
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find(mentions), std::string::npos) << error.what();
  }
}

TEST(CheckBatchJob, RejectsValuesAnSbatchLineCannotCarry) {
  FakeCluster cluster;
  EXPECT_NO_THROW(check_batch_job(cluster.job));
  BatchJob job = cluster.job;
  job.config.qos = "high\n#SBATCH --exclusive";
  expect_rejected(job, "--qos (slurm.qos)");
  job = cluster.job;
  job.config.constraint = "h100 ib";
  expect_rejected(job, "--constraint");
  job = cluster.job;
  job.partition = "gpu#2";
  expect_rejected(job, "--partition (resources.partition)");
  job = cluster.job;
  job.config.mem = "4'G";
  expect_rejected(job, "--mem");
  job = cluster.job;
  job.config.sbatch_options = {"--comment=\"my sweep\""};
  expect_rejected(job, "--sbatch-option");
  job = cluster.job;
  job.config.sbatch_options = {"exclusive"};
  expect_rejected(job, "\"--name=value\"");
  job = cluster.job;
  job.job_name = "tiny; rm -rf ~";
  expect_rejected(job, "--job-name");
}

TEST(CheckBatchJob, RejectsInconsistentAllocationsAndUnsafePaths) {
  FakeCluster cluster;
  BatchJob job = cluster.job;
  job.config.cpus_per_gpu = 4;
  expect_rejected(job, "needs GPUs");
  job.config.gpus_per_node = 2;
  job.config.cpus_per_task = 4;
  expect_rejected(job, "exclude each other");
  job = cluster.job;
  job.config.time_limit = "25:99";
  expect_rejected(job, "--time (slurm.time_limit)");
  job = cluster.job;
  job.config.launcher = "mpiexec";
  expect_rejected(job, "--launcher");
  job = cluster.job;
  job.study_dir = "relative/study";
  expect_rejected(job, "must be absolute");
  job = cluster.job;
  job.study_dir = "/tmp/a\\b";
  expect_rejected(job, "'\\'");
  job = cluster.job;
  job.sweep_file = "/tmp/new\nline.yaml";
  expect_rejected(job, "control character");
}

}  // namespace
}  // namespace plascale::slurm
