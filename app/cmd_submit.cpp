// `plascale submit SWEEP.yaml [--study DIR] [allocation flags] [--dry-run]`: one Slurm job
// runs the whole sweep (coordinator plus workers) and resubmits itself when warned; a
// dependent job fits and reports the study. docs/slurm.md.

#include <fmt/core.h>

#include <filesystem>
#include <memory>
#include <string>

#include "app/commands.h"
#include "slurm/shell.h"
#include "slurm/submit.h"
#include "sweeps/errors.h"
#include "sweeps/sweep.h"

namespace plascale {

namespace {

namespace fs = std::filesystem;

struct SubmitOptions {
  std::string sweep_file;
  std::string study_dir;
  std::string job_name;
  std::string partition, account;
  SlurmConfig slurm;  // each flag given overrides the sweep's `slurm:` value
  bool dry_run = false;
};

std::string quoted_command(const std::vector<std::string>& argv) {
  std::string text;
  for (const std::string& arg : argv) {
    if (!text.empty()) text += ' ';
    text += slurm::shell_quote(arg);
  }
  return text;
}

// Starts from the sweep's values and applies every flag the user gave.
slurm::BatchJob batch_job(const SubmitOptions& options, const CLI::App& command, const Sweep& sweep) {
  auto given = [&](const char* flag) { return command.count(flag) > 0; };
  slurm::BatchJob job;
  job.job_name = given("--job-name") ? options.job_name : "plascale-" + sweep.name;
  job.partition = given("--partition") ? options.partition : sweep.partition;
  job.account = given("--account") ? options.account : sweep.account;
  SlurmConfig& config = job.config;
  const SlurmConfig& flags = options.slurm;
  config = sweep.slurm;
  if (given("--qos")) config.qos = flags.qos;
  if (given("--nodes")) config.nodes = flags.nodes;
  if (given("--workers-per-node")) config.workers_per_node = flags.workers_per_node;
  if (given("--gpus-per-node")) config.gpus_per_node = flags.gpus_per_node;
  if (given("--cpus-per-gpu")) config.cpus_per_gpu = flags.cpus_per_gpu;
  if (given("--cpus-per-task")) config.cpus_per_task = flags.cpus_per_task;
  if (given("--mem")) config.mem = flags.mem;
  if (given("--time")) config.time_limit = flags.time_limit;
  if (given("--constraint")) config.constraint = flags.constraint;
  if (given("--sbatch-option")) config.sbatch_options = flags.sbatch_options;
  if (given("--launcher")) config.launcher = flags.launcher;
  if (given("--warning-seconds")) config.warning_seconds = flags.warning_seconds;
  if (given("--max-resubmits")) config.max_resubmits = flags.max_resubmits;
  job.study_dir = fs::absolute(options.study_dir.empty() ? sweep.output_study : options.study_dir).lexically_normal();
  job.sweep_file = fs::absolute(options.sweep_file).lexically_normal();
  job.plascale = fs::canonical("/proc/self/exe");
  return job;
}

int submit(const SubmitOptions& options, const CLI::App& command) {
  const Sweep sweep = load_sweep(options.sweep_file);
  const slurm::BatchJob job = batch_job(options, command, sweep);
  slurm::check_batch_job(job);
  if (options.dry_run) {
    fmt::print("# would write {}:\n{}\n", slurm::sweep_script_path(job.study_dir).string(), slurm::sweep_script(job));
    fmt::print("# would write {}:\n{}\n", slurm::fit_script_path(job.study_dir).string(), slurm::fit_script(job));
    fmt::print("# would run:\n{}\n{}\nscontrol release SWEEP_JOB_ID\n", quoted_command(slurm::sweep_sbatch_command(job)),
               quoted_command(slurm::fit_sbatch_command(job, "SWEEP_JOB_ID")));
    return kExitOk;
  }
  const slurm::Submission submission = slurm::submit(job);
  fmt::print("submitted sweep job {} and fit job {} (after it); study {}\n", submission.sweep_job_id,
             submission.fit_job_id, job.study_dir.string());
  fmt::print("scripts and logs in {}; follow with: plascale status {}\n", slurm::slurm_dir(job.study_dir).string(),
             slurm::shell_quote(job.study_dir.string()));
  return kExitOk;
}

}  // namespace

void register_submit(CLI::App& app, CommandResult& result) {
  auto options = std::make_shared<SubmitOptions>();
  SlurmConfig& slurm = options->slurm;
  CLI::App* command = app.add_subcommand("submit", "Submit a sweep to Slurm: one allocation runs it, a dependent job fits and reports it");
  command->add_option("sweep", options->sweep_file, "Sweep file (YAML)")->required();
  command->add_option("--study", options->study_dir, "Study folder (default: the sweep's output.study)");
  command->add_option("--job-name", options->job_name, "Slurm job name (default: plascale-<sweep name>)");
  command->add_option("--partition", options->partition, "Partition (default: resources.partition)");
  command->add_option("--account", options->account, "Account (default: resources.account)");
  command->add_option("--qos", slurm.qos, "QOS (default: slurm.qos)");
  command->add_option("--nodes", slurm.nodes, "Nodes (default: slurm.nodes, 1)")->check(CLI::Range(1, 100000));
  command->add_option("--workers-per-node", slurm.workers_per_node, "Worker ranks per node (default: slurm.workers_per_node, 1)")
      ->check(CLI::Range(1, 4096));
  command->add_option("--gpus-per-node", slurm.gpus_per_node, "GPUs per node (default: slurm.gpus_per_node, 0)")
      ->check(CLI::Range(0, 1024));
  command->add_option("--cpus-per-gpu", slurm.cpus_per_gpu, "CPUs per GPU (default: slurm.cpus_per_gpu)")->check(CLI::Range(0, 4096));
  command->add_option("--cpus-per-task", slurm.cpus_per_task, "CPUs per rank (default: slurm.cpus_per_task)")->check(CLI::Range(0, 4096));
  command->add_option("--mem", slurm.mem, "Memory per node, e.g. 480G (default: slurm.mem)");
  command->add_option("--time", slurm.time_limit, "Time limit of each job, e.g. 1-00:00:00 (default: slurm.time_limit)");
  command->add_option("--constraint", slurm.constraint, "Node features (default: slurm.constraint)");
  command->add_option("--sbatch-option", slurm.sbatch_options, "Further sbatch option, --name=value; repeatable; replaces slurm.sbatch_options");
  command->add_option("--launcher", slurm.launcher, "srun (srun --mpi=pmix) or mpirun (default: slurm.launcher, srun)")
      ->check(CLI::IsMember({"srun", "mpirun"}));
  command->add_option("--warning-seconds", slurm.warning_seconds, "Warning before the time limit or preemption (default: slurm.warning_seconds, 300)")
      ->check(CLI::Range(1, 86400));
  command->add_option("--max-resubmits", slurm.max_resubmits, "Resubmissions after a warning (default: slurm.max_resubmits, 10)")
      ->check(CLI::Range(0, 10000));
  command->add_flag("--dry-run", options->dry_run, "Print the scripts and sbatch commands; write and submit nothing");
  command->callback([&result, options, command] {
    result.run = [options, command] { return submit(*options, *command); };
  });
}

}  // namespace plascale
