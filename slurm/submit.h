#pragma once
// `plascale submit`: the sweep job and its dependent fit job, submitted with sbatch and
// recorded in STUDY/slurm/jobs.tsv (batch_script.h describes both jobs).

#include <filesystem>
#include <string>
#include <vector>

#include "slurm/batch_script.h"

namespace plascale::slurm {

struct Submission {
  std::string sweep_job_id;
  std::string fit_job_id;
};

// The sbatch command lines submit() runs (what --dry-run prints), script paths included.
std::vector<std::string> sweep_sbatch_command(const BatchJob& job);
std::vector<std::string> fit_sbatch_command(const BatchJob& job, const std::string& sweep_job_id);

// Checks the job, refuses when a sweep job of this study is still pending or running (two
// coordinators must not share a study), writes both scripts into STUDY/slurm/, submits the
// sweep job held, the fit job with --dependency=afterok on it, records both, then releases
// the sweep job. InputError for bad values; std::runtime_error with Slurm's message when a
// Slurm command fails (after cancelling what it had submitted).
Submission submit(const BatchJob& job);

}  // namespace plascale::slurm
