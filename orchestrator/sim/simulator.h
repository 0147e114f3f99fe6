#pragma once
// A discrete-event simulator of a sweep on a GPU cluster. It drives the real scheduling
// policy (orchestrator/scheduler.h) the way the coordinator does: every worker with free
// GPUs offers them after each event, and runs end when their estimated runtime has passed.
// It answers "how long does this sweep take on N GPUs, against the best possible", and
// compares with a static round-robin split (what a Slurm job array gives).
//
// Time model: a run needing G GPUs takes estimated_flops / (G x mfu x peak) seconds, i.e.
// linear scaling across its GPUs (sweeps/cost.h GpuAssumptions). One worker per node.

#include <cstdint>
#include <string>
#include <vector>

#include "orchestrator/scheduler.h"
#include "sweeps/cost.h"
#include "sweeps/run_spec.h"
#include "sweeps/sweep.h"

namespace plascale {

struct SimRun {
  std::string id;
  double cost = 0;     // estimated FLOPs (cost / gpus is the scheduler's sort key)
  int gpus = 1;        // on one node
  double seconds = 0;  // runtime on its gpus without faults or noise
};

// One SimRun per spec, in the given order. InputError for a CPU run (resources.gpus 0):
// the simulator models GPU clusters only.
std::vector<SimRun> simulated_runs(const std::vector<RunSpec>& specs, const GpuAssumptions& gpu = {});

struct ClusterConfig {
  int nodes = 1;
  int gpus_per_node = 8;
};

struct SimOptions {
  SchedulerOptions scheduler;
  // Faults and noise, off by default (the makespan table is without them). Deterministic
  // given seed: every draw is a hash of (seed, run, attempt).
  double failure_fraction = 0;  // runs whose first attempt crashes at a uniform point of it
  double speed_noise = 0;       // sigma of a log-normal runtime factor per attempt
  uint64_t seed = 0;
};

struct SimResult {
  double makespan_seconds = 0;     // first start to last end
  double lower_bound_seconds = 0;  // makespan_lower_bound() of the runs with these options
  double busy_gpu_seconds = 0;     // GPU-seconds spent running, failed attempts included
  int64_t assignments = 0;         // runs started (retries included)
  int64_t offers = 0;              // Scheduler::assign calls
};

// Total GPU-seconds / GPUs, or the longest run if that is longer: no schedule beats it.
// With faults or noise, of the attempts as played (all of a run's attempts back to back
// count as its length): they depend on the seed only, not on the schedule.
double makespan_lower_bound(const std::vector<SimRun>& runs, const ClusterConfig& cluster,
                            const SimOptions& options = {});

// The policy of scheduler.h. InputError if a run needs more GPUs than a node has.
SimResult simulate(const std::vector<SimRun>& runs, const ClusterConfig& cluster,
                   const SimOptions& options = {});

// Static round-robin: run k (in the given order) goes to node k mod nodes; each node starts
// its share in that order, each as soon as enough of its GPUs are free. The same attempts as
// simulate() plays; a failed attempt is retried at once on the same GPUs (a job array
// task's retry loop), without backoff.
SimResult simulate_round_robin(const std::vector<SimRun>& runs, const ClusterConfig& cluster,
                               const SimOptions& options = {});

// The sweep file at `path` with some top-level keys replaced, e.g. {"seeds", "[0, 1, 2]"}:
// how the benchmark widens a real sweep's axes. Validated like any sweep; messages then
// refer to the re-emitted text.
Sweep load_sweep_with(const std::string& path,
                      const std::vector<std::pair<std::string, std::string>>& replaced_keys);

}  // namespace plascale
