#pragma once
// The scheduling policy: which pending run a worker with free capacity gets next. Pure: no
// MPI, no clock of its own (callers pass the time in seconds), so the coordinator
// (orchestrator/coordinator.h) and the discrete-event simulator (orchestrator/sim/) drive the
// same code and the tests can replay any interleaving.
//
// Policy (DESIGN.md "Scheduling"): pull-based, largest estimated cost first. A worker offers
// the GPUs it has free on its node (a CPU worker offers one CPU slot); it gets the most
// expensive eligible pending run that fits the offer. A run needing G GPUs is gang-assigned G
// GPUs of one node. Failed runs come back after a backoff until max_attempts is reached.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace plascale {

struct SchedulerOptions {
  int max_attempts = 3;          // attempts a run gets before it is given up as failed
  double backoff_seconds = 10;   // retry k waits backoff_seconds * 2^(k-1) after the failure
};

struct SchedulableRun {
  std::string id;
  double cost = 0;   // estimated FLOPs (sweeps/cost.h estimated_flops); larger goes first
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
  // idle workers knows when to ask again).
  std::optional<double> next_retry_time() const;

 private:
  // State chosen by scheduler.cpp (queue ordered by cost, per-run state).
};

}  // namespace plascale
