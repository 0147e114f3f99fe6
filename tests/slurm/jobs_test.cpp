// STUDY/slurm/jobs.tsv and the sweep's `slurm:` section.

#include <gtest/gtest.h>

#include <fstream>

#include "slurm/jobs.h"
#include "slurm_test_util.h"
#include "sweeps/errors.h"
#include "sweeps/expand.h"
#include "sweeps/format.h"
#include "sweeps/sweep.h"
#include "tiny_sweep.h"

namespace plascale::slurm {
namespace {

namespace fs = std::filesystem;

TEST(JobsFile, AppendedJobsReadBackInOrder) {
  const TempDir study;
  EXPECT_TRUE(read_jobs(study.path).empty());
  EXPECT_EQ(jobs_table(study.path), "");
  append_job(study.path, {"11", "sweep", "2026-11-23T04:00:00Z", 0});
  append_job(study.path, {"12", "fit", "2026-11-23T04:00:01Z", 0});
  append_job(study.path, {"19", "sweep", "2026-11-23T05:00:00Z", 1});
  const std::vector<JobRecord> jobs = read_jobs(study.path);
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs[1].job_id, "12");
  EXPECT_EQ(jobs[1].kind, "fit");
  EXPECT_EQ(jobs[1].submitted_utc, "2026-11-23T04:00:01Z");
  EXPECT_EQ(jobs[2].resubmit_index, 1);
  EXPECT_EQ(resubmissions(jobs), 1);
  EXPECT_EQ(read_text(jobs_file(study.path)).substr(0, 44), "job_id\tkind\tsubmitted_utc\tresubmit_index\n11\t");
}

TEST(JobsFile, TableListsEveryJobAndTheResubmissionCount) {
  const TempDir study;
  append_job(study.path, {"11", "sweep", "2026-11-23T04:00:00Z", 0});
  append_job(study.path, {"12", "fit", "2026-11-23T04:00:01Z", 0});
  append_job(study.path, {"19", "sweep", "2026-11-23T05:00:00Z", 1});
  const std::string table = jobs_table(study.path);
  EXPECT_NE(table.find("resubmitted 1 time)"), std::string::npos) << table;
  EXPECT_NE(table.find("19      sweep  2026-11-23T05:00:00Z         1"), std::string::npos) << table;
  EXPECT_NE(table.find("12      fit"), std::string::npos) << table;
}

TEST(JobsFile, MalformedLineNamesFileAndLine) {
  const TempDir study;
  append_job(study.path, {"11", "sweep", "t", 0});
  std::ofstream(jobs_file(study.path), std::ios::app) << "12\tsweeep\tt\t0\n";
  try {
    read_jobs(study.path);
    FAIL() << "accepted a malformed line";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find(jobs_file(study.path).string() + ":3:"), std::string::npos) << error.what();
  }
}

TEST(JobsFile, UtcNowIsIso8601) {
  const std::string now = utc_now();
  ASSERT_EQ(now.size(), 20u);
  EXPECT_EQ(now[10], 'T');
  EXPECT_EQ(now.back(), 'Z');
}

TEST(SlurmSection, EveryKeyIsReadAndDefaultsStand) {
  const Sweep plain = parse_sweep(tiny_sweep_yaml(), "tiny.yaml");
  EXPECT_EQ(plain.slurm.nodes, 1);
  EXPECT_EQ(plain.slurm.launcher, "srun");
  EXPECT_EQ(plain.slurm.warning_seconds, 300);
  EXPECT_EQ(plain.slurm.max_resubmits, 10);
  const Sweep sweep = parse_sweep(tiny_sweep_yaml(R"(slurm:
  qos: high
  nodes: 4
  workers_per_node: 2
  gpus_per_node: 8
  cpus_per_gpu: 12
  mem: 480G
  time_limit: "1-00:00:00"
  constraint: "h100&ib"
  sbatch_options: [--exclusive]
  launcher: mpirun
  warning_seconds: 600
  max_resubmits: 3
)"),
                                  "tiny.yaml");
  const SlurmConfig& slurm = sweep.slurm;
  EXPECT_EQ(slurm.qos, "high");
  EXPECT_EQ(slurm.nodes, 4);
  EXPECT_EQ(slurm.workers_per_node, 2);
  EXPECT_EQ(slurm.gpus_per_node, 8);
  EXPECT_EQ(slurm.cpus_per_gpu, 12);
  EXPECT_EQ(slurm.mem, "480G");
  EXPECT_EQ(slurm.time_limit, "1-00:00:00");
  EXPECT_EQ(slurm.constraint, "h100&ib");
  EXPECT_EQ(slurm.sbatch_options, std::vector<std::string>{"--exclusive"});
  EXPECT_EQ(slurm.launcher, "mpirun");
  EXPECT_EQ(slurm.warning_seconds, 600);
  EXPECT_EQ(slurm.max_resubmits, 3);
}

TEST(SlurmSection, ErrorsCarryTheirPosition) {
  const std::string yaml = tiny_sweep_yaml("slurm: {nodes: 0, launcher: mpiexec, time: 5}\n");
  try {
    parse_sweep(yaml, "tiny.yaml");
    FAIL() << "accepted";
  } catch (const SpecError& error) {
    const std::string text = error.what();
    EXPECT_NE(text.find("tiny.yaml:18:38: slurm: unknown key \"time\""), std::string::npos) << text;
  }
  try {
    parse_sweep(tiny_sweep_yaml("slurm: {nodes: 0, launcher: mpiexec}\n"), "tiny.yaml");
    FAIL() << "accepted";
  } catch (const SpecError& error) {
    ASSERT_EQ(error.errors().size(), 2u) << error.what();
    EXPECT_EQ(error.errors()[0].rfind("tiny.yaml:18:16: nodes = 0 is out of range", 0), 0u) << error.what();
    EXPECT_EQ(error.errors()[1].rfind("tiny.yaml:18:29: launcher: got \"mpiexec\"", 0), 0u) << error.what();
  }
}

TEST(SlurmSection, DoesNotChangeRunIds) {
  const Sweep plain = parse_sweep(tiny_sweep_yaml(), "tiny.yaml");
  const Sweep with = parse_sweep(tiny_sweep_yaml("slurm: {nodes: 2, gpus_per_node: 4}\n"), "tiny.yaml");
  const std::vector<RunSpec> plain_runs = expand_sweep(plain);
  const std::vector<RunSpec> with_runs = expand_sweep(with);
  ASSERT_EQ(plain_runs.size(), with_runs.size());
  for (size_t i = 0; i < plain_runs.size(); ++i) EXPECT_EQ(plain_runs[i].id, with_runs[i].id);
}

}  // namespace
}  // namespace plascale::slurm
