#pragma once
// STUDY/slurm/jobs.tsv: every Slurm job of a study, one tab-separated line each, appended by
// `plascale submit` and by the sweep script when it resubmits itself (docs/slurm.md):
//
//   job_id  kind   submitted_utc         resubmit_index
//   4242    sweep  2026-11-23T04:00:00Z  0
//   4243    fit    2026-11-23T04:00:00Z  0
//   4250    sweep  2026-11-23T09:58:12Z  1
//
// The fit job keeps its id across resubmissions: its dependency moves to the newest sweep job.

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace plascale::slurm {

struct JobRecord {
  std::string job_id;
  std::string kind;           // "sweep" or "fit"
  std::string submitted_utc;  // ISO 8601, e.g. 2026-11-23T04:00:00Z
  int resubmit_index = 0;     // sweep: 0 for the submitted job, k for the k-th resubmission
};

std::filesystem::path jobs_file(const std::filesystem::path& study_dir);

// The study's jobs in submission order; empty when it has no jobs file. A malformed line is
// an InputError naming file:line.
std::vector<JobRecord> read_jobs(const std::filesystem::path& study_dir);
// Appends one line (creating STUDY/slurm/ and the header line when needed).
void append_job(const std::filesystem::path& study_dir, const JobRecord& job);

// Highest resubmit index among the sweep jobs: how often the sweep resubmitted itself.
int resubmissions(const std::vector<JobRecord>& jobs);

// Current states (PENDING, RUNNING, COMPLETED, FAILED, ...) by job id, from squeue (jobs the
// controller still holds) and sacct (older ones, where accounting is on). Jobs neither knows,
// or all when no Slurm commands are installed, are absent.
std::map<std::string, std::string> job_states(const std::vector<std::string>& job_ids);

// `plascale status`'s Slurm section: the jobs with their states; empty when no jobs file.
std::string jobs_table(const std::filesystem::path& study_dir);
// The same as a JSON array of {job_id, kind, submitted_utc, resubmit_index, state (null when
// Slurm does not know the job)}; "[]" when no jobs file.
std::string jobs_json(const std::filesystem::path& study_dir);

}  // namespace plascale::slurm
