// `plascale submit` as a user runs it: flags over the sweep's `slurm:` section, --dry-run,
// bad values and a machine without Slurm. No cluster needed.

#include <gtest/gtest.h>

#include <fstream>

#include "slurm/command.h"
#include "slurm/shell.h"
#include "slurm_test_util.h"
#include "tiny_sweep.h"

namespace plascale::slurm {
namespace {

namespace fs = std::filesystem;

const std::string kPlascale = PLASCALE_BINARY_DIR "/app/plascale";

struct SubmitCli : ::testing::Test {
  TempDir root;
  fs::path sweep = root.path / "tiny.yaml";
  fs::path study = root.path / "study";

  void write_sweep(const std::string& extra) { std::ofstream(sweep) << tiny_sweep_yaml(extra); }

  CommandResult submit(const std::vector<std::string>& flags, const std::string& path = "") {
    std::string command = path.empty() ? "" : "PATH=" + shell_quote(path) + " ";
    command += shell_quote(kPlascale) + " submit " + shell_quote(sweep.string()) + " --study " + shell_quote(study.string());
    for (const std::string& flag : flags) {
      command += ' ';
      command += shell_quote(flag);
    }
    return run_command({"bash", "-c", command});
  }
};

TEST_F(SubmitCli, DryRunPrintsTheSweepsAllocationWithFlagsOnTopAndWritesNothing) {
  std::string yaml = tiny_sweep_yaml("slurm: {nodes: 2, qos: low, launcher: mpirun, mem: 8G}\n");
  yaml.replace(yaml.find("resources: {cpus: 1}"), 20, "resources: {cpus: 1, partition: cpu}");
  std::ofstream(sweep) << yaml;
  CommandResult result = submit({"--qos", "high", "--time", "2:00:00", "--account", "proj", "--dry-run"});
  ASSERT_EQ(result.exit_code, 0) << result.errors;
  const std::string& out = result.output;
  for (const char* line : {"#SBATCH --partition=cpu\n", "#SBATCH --account=proj\n", "#SBATCH --qos=high\n",
                           "#SBATCH --nodes=2\n", "#SBATCH --ntasks=3\n", "#SBATCH --mem=8G\n",
                           "#SBATCH --time=2:00:00\n", "\nmpirun \"$plascale\" run"})
    EXPECT_NE(out.find(line), std::string::npos) << line << "\n" << out;
  EXPECT_EQ(out.find("--qos=low"), std::string::npos);
  EXPECT_NE(out.find("sbatch --parsable --hold --chdir=" + study.string()), std::string::npos) << out;
  EXPECT_NE(out.find("sbatch --parsable --dependency=afterok:SWEEP_JOB_ID"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(study));
}

TEST_F(SubmitCli, ValueAnSbatchLineCannotCarryIsExitTwoNamingTheFlag) {
  write_sweep("");
  CommandResult result = submit({"--constraint", "h100 ib", "--dry-run"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.errors.find("--constraint (slurm.constraint): \"h100 ib\" contains whitespace"), std::string::npos)
      << result.errors;
  EXPECT_FALSE(fs::exists(study));
}

TEST_F(SubmitCli, BadSlurmSectionIsExitTwoWithItsPosition) {
  write_sweep("slurm: {gpus_per_node: -1}\n");
  CommandResult result = submit({"--dry-run"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.errors.find(sweep.string() + ":18:"), std::string::npos) << result.errors;
}

TEST_F(SubmitCli, WithoutSlurmItSaysSbatchIsMissing) {
  write_sweep("");
  const fs::path empty_bin = root.path / "bin";
  fs::create_directories(empty_bin);
  CommandResult result = submit({}, empty_bin.string());
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.errors.find("sbatch --parsable --hold"), std::string::npos) << result.errors;
  EXPECT_NE(result.errors.find("failed (exit 127)"), std::string::npos) << result.errors;
}

}  // namespace
}  // namespace plascale::slurm
