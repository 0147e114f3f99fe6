#pragma once
// The scheduling policy: which pending run a worker with free capacity gets next. Pure: no
// MPI, no clock of its own (callers pass the time in seconds), so the coordinator
// (orchestrator/coordinator.h) and the discrete-event simulator (orchestrator/sim/) drive the
// same code and the tests can replay any interleaving.
//
// Policy (DESIGN.md "Scheduling", docs/orchestrator.md "Scheduling policy"): pull-based,
// longest first. A worker offers the GPUs it has free on its node (a CPU worker offers one
// CPU slot); it gets the eligible pending run with the most work per GPU (cost / GPUs, so
// the longest-running) that fits the offer. A run needing G GPUs is gang-assigned G GPUs of
// one node. Failed runs come back after a backoff until max_attempts is reached.
// Anti-starvation: a longer run that does not fit the offer, fits no other worker's free
// GPUs now, but would fit this worker once it drains, reserves the worker; a reserved worker
// gets only that run, or runs estimated to end before it has drained. So a worker refused
// now must offer again after the next finish() anywhere or at next_retry_time().

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace plascale {

struct SchedulerOptions {
  int max_attempts = 3;          // attempts a run gets before it is given up as failed
  double backoff_seconds = 10;   // retry k waits backoff_seconds * 2^(k-1) after the failure
};

struct SchedulableRun {
  std::string id;
  double cost = 0;   // estimated FLOPs (sweeps/cost.h estimated_flops); cost / gpus orders the queue
  int gpus = 0;      // GPUs the run needs on one node; 0 = a CPU run (one CPU slot)
  int attempts = 0;  // attempts already made before this scheduler existed (resume)
};

// What a worker rank can take right now.
struct WorkerOffer {
  int worker = 0;               // the worker's rank
  int node = 0;                 // index of its node
  std::vector<int> free_gpus;   // node-local device indices free on that worker
  bool cpu_slot_free = false;   // CPU-only worker: it runs one child at a time
};

struct Assignment {
  std::string run_id;
  int worker = 0;
  std::vector<int> gpus;  // node-local device indices (CUDA_VISIBLE_DEVICES); empty for CPU
  int attempt = 1;        // 1-based number of this attempt
};

enum class RunEnd {
  completed,  // trained to its budget
  diverged,   // non-finite loss: recorded, never retried
  failed,     // crashed, stalled or exited non-zero: retried after a backoff while attempts remain
  rejected,   // refused its input (exit 2: a bad spec or data file): failed at once, since
              // retrying cannot fix the input
  stopped,    // stopped by the coordinator (preemption): pending again, no attempt counted
};

struct SchedulerCounts {
  int64_t pending = 0;    // waiting, including runs in backoff
  int64_t running = 0;
  int64_t completed = 0;
  int64_t diverged = 0;
  int64_t failed = 0;     // given up after max_attempts
};

class Scheduler {
 public:
  explicit Scheduler(std::vector<SchedulableRun> runs, SchedulerOptions options = {});

  // The run this offer should start now, or nothing (no pending run fits, or all fitting
  // runs are backing off).
  std::optional<Assignment> assign(const WorkerOffer& offer, double now_seconds);

  // A started run ended. Returns true when the run goes back to pending (failed with attempts
  // left, or stopped).
  bool finish(const std::string& run_id, RunEnd end, double now_seconds);

  SchedulerCounts counts() const;
  bool settled() const;  // nothing pending or running: every run is completed, diverged or failed
  // The earliest time a backed-off run becomes eligible, if any is waiting (so a caller with
  // idle workers knows when to ask again). "Waiting" is relative to the latest now_seconds
  // given to assign() or finish(): a time already reached is not reported once a call at or
  // after it was made, but is reported again until then (do not wait on it with no offer).
  std::optional<double> next_retry_time() const;

 private:
  enum class State { pending, running, completed, diverged, failed };
  struct RunState {
    SchedulableRun run;
    double work_per_gpu = 0;    // cost / GPUs: proportional to the run's duration
    State state = State::pending;
    double eligible_at = 0;     // pending: not assigned before this time (backoff)
    double started_at = 0;      // running: when
    int worker = -1;            // running: where
    int reserved_on = -1;       // pending: the worker draining for it, -1 = none
  };
  struct WorkerState {
    int busy = 0;               // GPUs of our runs running there
    int free = 0;               // GPUs free: as of its last offer, updated by assign/finish
    int reserved_for = -1;      // index of the run it drains for, -1 = none
    std::vector<size_t> running;  // indices of our runs running there
  };

  RunState& running_run(const std::string& run_id);
  std::optional<Assignment> start(size_t run_index, int worker_id,
                                  const std::vector<int>& sorted_free, double now_seconds);
  std::optional<Assignment> backfill(const WorkerOffer& offer, const std::vector<int>& sorted_free,
                                     double now_seconds);
  void clear_reservation(RunState& run);
  // Free GPUs of the best-placed unreserved worker other than this one.
  int most_free_gpus_except(int worker_id) const;

  SchedulerOptions options_;
  std::vector<RunState> runs_;  // queue order: work_per_gpu descending, then input order
  std::set<size_t> pending_;    // indices into runs_, so iteration is in queue order
  std::map<std::string, size_t> index_;
  std::map<int, WorkerState> workers_;
  SchedulerCounts counts_;
  double latest_time_ = 0;      // the latest now_seconds seen
  // Completed runs' work per GPU and seconds, summed: their ratio estimates how fast a GPU
  // gets through work, so that a draining worker can backfill runs that end in time.
  double completed_work_per_gpu_ = 0;
  double completed_seconds_ = 0;
};

}  // namespace plascale
