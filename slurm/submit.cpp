#include "slurm/submit.h"

#include <fmt/core.h>

#include <fstream>
#include <set>
#include <stdexcept>

#include "slurm/command.h"
#include "slurm/jobs.h"
#include "sweeps/errors.h"
#include "sweeps/format.h"

namespace plascale::slurm {

namespace fs = std::filesystem;

namespace {

// States in which a job may still start or is running a coordinator.
const std::set<std::string> kActiveStates{"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED",
                                          "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SUSPENDED", "STOPPED",
                                          "SIGNALING", "STAGE_OUT"};

void write_file(const fs::path& path, const std::string& text) {
  const fs::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + temporary.string());
  }
  fs::permissions(temporary, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                 fs::perms::others_read | fs::perms::others_exec);
  fs::rename(temporary, path);
}

std::string joined(const std::vector<std::string>& argv) {
  std::string text;
  for (const std::string& arg : argv) {
    if (!text.empty()) text += ' ';
    text += arg;
  }
  return text;
}

// Runs a Slurm command; its output, or std::runtime_error with what Slurm said.
std::string slurm(const std::vector<std::string>& argv) {
  CommandResult result = run_command(argv);
  if (result.exit_code != 0) {
    std::string message = result.errors.empty() ? result.output : result.errors;
    while (!message.empty() && message.back() == '\n') message.pop_back();
    throw std::runtime_error(fmt::format("{} failed (exit {}): {}", joined(argv), result.exit_code, message));
  }
  return result.output;
}

// `sbatch --parsable` prints "ID" or "ID;CLUSTER".
std::string parsable_job_id(const std::string& output) {
  std::string id = output.substr(0, output.find_first_of(";\n"));
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos)
    throw std::runtime_error("sbatch printed " + double_quoted(output) + " where a job id was expected");
  return id;
}

void refuse_if_active(const fs::path& study_dir) {
  std::vector<std::string> sweep_jobs;
  for (const JobRecord& job : read_jobs(study_dir))
    if (job.kind == "sweep") sweep_jobs.push_back(job.job_id);
  for (const auto& [id, state] : job_states(sweep_jobs))
    if (kActiveStates.count(state))
      throw InputError(fmt::format("study {} already has sweep job {} ({}); two jobs must not run one study. "
                                   "Wait for it, or cancel it (scancel {}) and submit again",
                                   study_dir.string(), id, state, id));
}

}  // namespace

std::vector<std::string> sweep_sbatch_command(const BatchJob& job) {
  std::vector<std::string> argv{"sbatch", "--parsable", "--hold"};
  for (const std::string& option : sweep_sbatch_options(job)) argv.push_back(option);
  argv.push_back(sweep_script_path(job.study_dir).string());
  argv.push_back("0");  // resubmit index
  return argv;
}

std::vector<std::string> fit_sbatch_command(const BatchJob& job, const std::string& sweep_job_id) {
  std::vector<std::string> argv{"sbatch", "--parsable", "--dependency=afterok:" + sweep_job_id};
  for (const std::string& option : fit_sbatch_options(job)) argv.push_back(option);
  argv.push_back(fit_script_path(job.study_dir).string());
  return argv;
}

Submission submit(const BatchJob& job) {
  check_batch_job(job);
  refuse_if_active(job.study_dir);
  fs::create_directories(slurm_dir(job.study_dir));
  write_file(sweep_script_path(job.study_dir), sweep_script(job));
  write_file(fit_script_path(job.study_dir), fit_script(job));

  // Held until the fit job is recorded: the sweep script looks the fit job up in jobs.tsv.
  Submission submission;
  submission.sweep_job_id = parsable_job_id(slurm(sweep_sbatch_command(job)));
  append_job(job.study_dir, {submission.sweep_job_id, "sweep", utc_now(), 0});
  try {
    submission.fit_job_id = parsable_job_id(slurm(fit_sbatch_command(job, submission.sweep_job_id)));
    append_job(job.study_dir, {submission.fit_job_id, "fit", utc_now(), 0});
    slurm({"scontrol", "release", submission.sweep_job_id});
  } catch (...) {
    run_command({"scancel", submission.sweep_job_id});
    if (!submission.fit_job_id.empty()) run_command({"scancel", submission.fit_job_id});
    throw;
  }
  return submission;
}

}  // namespace plascale::slurm
