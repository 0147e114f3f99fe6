#pragma once
// The two batch scripts of a submitted sweep, written into STUDY/slurm/ (docs/slurm.md):
//
//   sweep.sbatch  runs `plascale run` under srun --mpi=pmix (or mpirun) in one allocation;
//                 on the preemption/time-limit warning (USR1) it lets the coordinator
//                 checkpoint and exit 3, then submits itself again (resubmit index + 1,
//                 bounded), moves the fit job's dependency onto the new job and records it
//                 in STUDY/slurm/jobs.tsv. When the sweep fails it cancels the fit job.
//   fit.sbatch    `plascale fit STUDY`, then `plascale report STUDY --out STUDY/report`;
//                 submitted with --dependency=afterok on the sweep job.
//
// Every path is shell-quoted in the script body; values that become #SBATCH lines are
// checked (check_batch_job) because sbatch reads those lines with its own rules.

#include <filesystem>
#include <string>
#include <vector>

#include "sweeps/sweep.h"

namespace plascale::slurm {

struct BatchJob {
  std::string job_name;              // letters, digits, '-', '_', '.'; the fit job adds "-fit"
  std::string partition;             // empty = the site's default
  std::string account;
  SlurmConfig config;                // the sweep's `slurm:` section with the flags applied
  std::filesystem::path study_dir;   // absolute
  std::filesystem::path sweep_file;  // absolute; the job reads it when it starts
  std::filesystem::path plascale;    // absolute path of the binary the jobs run
};

// Throws InputError naming the value (and the flag that sets it) when one cannot go into
// a script safely, or the combination makes no sense.
void check_batch_job(const BatchJob& job);

std::string sweep_script(const BatchJob& job);
std::string fit_script(const BatchJob& job);

// sbatch options that name paths (--output, --chdir): given on sbatch's command line, never
// as #SBATCH lines, which cannot carry arbitrary bytes. The sweep script repeats them (quoted)
// when it resubmits itself.
std::vector<std::string> sweep_sbatch_options(const BatchJob& job);
std::vector<std::string> fit_sbatch_options(const BatchJob& job);

// Where submit() writes things inside the study.
std::filesystem::path slurm_dir(const std::filesystem::path& study_dir);  // STUDY/slurm
std::filesystem::path sweep_script_path(const std::filesystem::path& study_dir);
std::filesystem::path fit_script_path(const std::filesystem::path& study_dir);

}  // namespace plascale::slurm
