#pragma once
// A worker rank's side of `plascale run`: starts one child `plascale train` per assigned
// run, bound to its GPUs (CUDA_VISIBLE_DEVICES) or its share of the cores (--threads; one CPU
// run at a time, beside any GPU runs), reads
// the children's progress lines, kills a child that stays silent for the stall timeout, and
// on a stop order SIGTERMs every child (which checkpoints and exits 3) and SIGKILLs those
// still running after the deadline. No MPI here: the transport is the caller's.

#include <filesystem>
#include <list>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/child.h"
#include "orchestrator/protocol.h"
#include "orchestrator/scheduler.h"

namespace plascale {

// The dispatch benchmark's children, which train nothing.
enum class DryTrain {
  off,     // the real `plascale train`
  spawn,   // spawn `plascale train --dry-train`, which exits 0 at once
  inline_, // spawn nothing: a run is reported completed as soon as it is assigned
};

struct SupervisorOptions {
  std::filesystem::path study_dir;
  std::filesystem::path plascale;    // the executable the children run
  int worker = 0;                    // this worker's rank
  int node = 0;
  std::vector<std::string> devices;  // the node's GPUs as CUDA_VISIBLE_DEVICES names them
  std::vector<int> gpus;             // indices into `devices` this worker owns; empty = CPU worker
  int threads = 1;                   // a child's --threads when its order says 0
  double stall_timeout_seconds = 600;
  double stop_deadline_seconds = 60;
  DryTrain dry_train = DryTrain::off;
};

class Supervisor {
 public:
  explicit Supervisor(SupervisorOptions options);

  // What this worker can take now (for a request to the coordinator).
  WorkerOffer offer() const;
  bool has_capacity() const;
  bool busy() const { return !children_.empty() || !finished_.empty(); }

  // Starts the run's child; a child that cannot be started is reported failed by poll().
  void start(const RunOrder& order, double now_seconds);
  // Progress of the children since the last call, and the runs that ended.
  void poll(double now_seconds, std::vector<ProgressReport>& progress, std::vector<RunReport>& ended);
  // SIGTERM every child; poll() SIGKILLs the ones still running after the stop deadline and
  // reports them all `stopped` (unless they completed or diverged meanwhile).
  void stop_all(double now_seconds);

 private:
  struct Running {
    RunOrder order;
    ChildProcess child;
    double last_heard = 0;     // when the child last wrote a line (or started)
    int64_t tokens = 0;
    bool stalled = false;      // killed for silence
    bool stopping = false;     // SIGTERMed by stop_all
    double kill_at = 0;        // stopping: SIGKILL after this time
  };

  ChildSpec child_spec(const RunOrder& order) const;
  RunReport report_end(const Running& run, const ChildExit& exit) const;

  SupervisorOptions options_;
  std::list<Running> children_;
  std::vector<RunReport> finished_;  // ended without a child (dry inline, spawn failure)
};

}  // namespace plascale
