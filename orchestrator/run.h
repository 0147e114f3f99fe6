#pragma once
// `plascale run`: executes a sweep into its study, alone or as one rank of an MPI job
// (docs/orchestrator.md). Rank 0 is the coordinator (Coordinator + StudyBook + display);
// every other rank is a worker rank (Supervisor). With one rank, rank 0 also supervises
// the children itself.

#include <filesystem>
#include <string>

#include "orchestrator/scheduler.h"
#include "orchestrator/supervisor.h"

namespace plascale {

enum class DisplayMode {
  automatic,  // live on a terminal with one rank; lines otherwise (mpirun gives ranks a terminal even
              // when its own output goes to a file)
  live,       // a summary redrawn in place
  lines,      // one line per state change and a periodic summary
};

struct RunSweepOptions {
  std::string sweep_path;              // the sweep file, or empty with use_default
  bool use_default = false;            // the built-in example sweep
  std::filesystem::path study_dir;     // empty = the sweep's output.study
  std::filesystem::path plascale;      // the executable children run (`train`)
  SchedulerOptions scheduling;         // attempts and backoff
  int threads = 0;                     // per child; 0 = the run's resources.cpus, else the rank's share
  int gpus_per_node = -1;              // -1 = count CUDA_VISIBLE_DEVICES (0 if unset)
  double stall_timeout_seconds = 600;
  double stop_deadline_seconds = 60;
  double summary_every_seconds = 30;
  DisplayMode display = DisplayMode::automatic;
  bool force = false;                  // train changed runs beside the recorded ones
  DryTrain dry_train = DryTrain::off;  // dispatch benchmark only: nothing is trained or recorded
};

// Initialises and finalises MPI itself. Returns the process exit code (sweeps/errors.h):
// 0 all runs done or diverged, 1 some run failed every attempt, 2 bad input, 3 stopped by
// SIGTERM/SIGUSR1/SIGINT (run again to continue). Every rank returns the same code.
int run_sweep(const RunSweepOptions& options);

}  // namespace plascale
