#include "orchestrator/sim/simulator.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sweeps/errors.h"
#include "sweeps/expand.h"

namespace plascale {
namespace {

SimRun sim_run(const std::string& id, int gpus, double seconds) {
  return {id, gpus * seconds, gpus, seconds};  // cost in GPU-seconds: the order is by seconds
}

// One node of 4 GPUs, worked by hand:
//   t=0   A (4 GPUs, 10 s) fills the node
//   t=10  B (2 GPUs, 6 s) and C (2 GPUs, 5 s) fill it again
//   t=15  C ends: D (1 GPU, 4 s) and E (1 GPU, 3 s) take its two GPUs
//   t=16  B ends; t=18 E ends; t=19 D ends: makespan 19 s
// Bound: (40 + 12 + 10 + 4 + 3) GPU-s / 4 GPUs = 17.25 s (> longest run, 10 s).
const std::vector<SimRun> kHandRuns = {sim_run("E", 1, 3), sim_run("A", 4, 10), sim_run("D", 1, 4),
                                       sim_run("B", 2, 6), sim_run("C", 2, 5)};

TEST(Simulator, MatchesAHandComputedSchedule) {
  const SimResult result = simulate(kHandRuns, {1, 4});
  EXPECT_DOUBLE_EQ(result.makespan_seconds, 19);
  EXPECT_DOUBLE_EQ(result.lower_bound_seconds, 17.25);
  EXPECT_EQ(result.assignments, 5);
  EXPECT_DOUBLE_EQ(result.busy_gpu_seconds, 69);
}

// Round-robin on one node keeps the given order E, A, D, B, C:
//   E 0-3; A waits for all 4 GPUs: 3-13; D 13-17; B 13-19; C waits for 2 free: D's end, 17-22.
TEST(Simulator, RoundRobinKeepsTheGivenOrderPerNode) {
  EXPECT_DOUBLE_EQ(simulate_round_robin(kHandRuns, {1, 4}).makespan_seconds, 22);
  // Two nodes: node 0 gets E, D, C (E 0-3, D 0-4, C 0-5), node 1 gets A, B (A 0-10, B 10-16).
  EXPECT_DOUBLE_EQ(simulate_round_robin(kHandRuns, {2, 4}).makespan_seconds, 16);
}

TEST(Simulator, LowerBoundIsTheLongestRunWhenGpusAreMany) {
  EXPECT_DOUBLE_EQ(makespan_lower_bound(kHandRuns, {100, 8}), 10);
}

Sweep widened_ladder(const std::string& seeds) {
  return load_sweep_with(std::string(PLASCALE_SOURCE_DIR) + "/sweeps/examples/zyphra-ladder.yaml",
                         {{"budgets", "[240B, 480B, 960B, full]"},
                          {"mitigations", "[none, continual_backprop, redo, shrink_perturb, l2_init]"},
                          {"seeds", seeds}});
}

TEST(Simulator, RunsTakeTheirEstimatedFlopsAtTheAssumedThroughput) {
  const std::vector<RunSpec> specs = expand_sweep(load_sweep(std::string(PLASCALE_SOURCE_DIR) +
                                                             "/sweeps/examples/zyphra-ladder.yaml"));
  GpuAssumptions gpu;
  gpu.mfu = 0.5;
  gpu.peak_tflops = 1000;
  const std::vector<SimRun> runs = simulated_runs(specs, gpu);
  ASSERT_EQ(runs.size(), specs.size());
  for (size_t i = 0; i < runs.size(); ++i) {
    EXPECT_EQ(runs[i].id, specs[i].id);
    EXPECT_EQ(runs[i].gpus, specs[i].resources.gpus);
    EXPECT_DOUBLE_EQ(runs[i].cost, estimated_flops(specs[i]));
    EXPECT_DOUBLE_EQ(runs[i].seconds, estimated_flops(specs[i]) / (specs[i].resources.gpus * 0.5e15));
  }
  RunSpec cpu_run = specs.front();
  cpu_run.resources.gpus = 0;
  EXPECT_THROW(simulated_runs({cpu_run}), InputError);
}

TEST(Simulator, WidenedSweepKeepsTheLadderAndMultipliesItsAxes) {
  const Sweep sweep = widened_ladder("[0, 1]");
  EXPECT_EQ(sweep.sizes.size(), 8u);
  EXPECT_EQ(sweep.budgets.size(), 4u);
  EXPECT_EQ(sweep.budgets.back(), 1'920'000'000'000);
  EXPECT_EQ(expand_sweep(sweep).size(), 8u * 4 * 5 * 2);
  EXPECT_THROW(load_sweep_with(std::string(PLASCALE_SOURCE_DIR) + "/sweeps/examples/zyphra-ladder.yaml",
                               {{"seeds", "[-1]"}}),
               InputError);
}

// The policy's goal (docs/performance.md): within 5% of the lower bound on the ladder sweep.
// 320 runs on 16 nodes: the bound is the total work, so packing and the gang runs both count.
TEST(Simulator, PolicyIsWithinFivePercentOfTheBoundOnAMidSizeSweep) {
  const std::vector<SimRun> runs = simulated_runs(expand_sweep(widened_ladder("[0, 1]")));
  const ClusterConfig cluster{16, 8};
  const SimResult policy = simulate(runs, cluster);
  EXPECT_EQ(policy.assignments, static_cast<int64_t>(runs.size()));
  EXPECT_GT(policy.lower_bound_seconds, 0);
  EXPECT_GE(policy.makespan_seconds, policy.lower_bound_seconds);
  EXPECT_LE(policy.makespan_seconds, 1.05 * policy.lower_bound_seconds);
  EXPECT_LT(policy.makespan_seconds, simulate_round_robin(runs, cluster).makespan_seconds);
}

TEST(Simulator, FailuresAreRetriedAndTheSameSeedGivesTheSameSchedule) {
  const std::vector<SimRun> runs = simulated_runs(expand_sweep(widened_ladder("[0]")));
  SimOptions options;
  options.failure_fraction = 1;  // every run's first attempt crashes
  options.speed_noise = 0.2;
  options.seed = 7;
  options.scheduler.max_attempts = 2;
  const SimResult first = simulate(runs, {8, 8}, options);
  EXPECT_EQ(first.assignments, 2 * static_cast<int64_t>(runs.size()));
  const SimResult again = simulate(runs, {8, 8}, options);
  EXPECT_EQ(again.makespan_seconds, first.makespan_seconds);
  EXPECT_EQ(again.busy_gpu_seconds, first.busy_gpu_seconds);
  options.seed = 8;
  EXPECT_NE(simulate(runs, {8, 8}, options).makespan_seconds, first.makespan_seconds);
}

// Faults and noise depend on (seed, run, attempt) only: both policies play the same attempts,
// and the bound is of those attempts.
TEST(Simulator, BothPoliciesPlayTheSameAttemptsAndTheBoundCountsThem) {
  const std::vector<SimRun> runs = simulated_runs(expand_sweep(widened_ladder("[0]")));
  SimOptions options;
  options.failure_fraction = 0.3;
  options.speed_noise = 0.2;
  options.seed = 3;
  const ClusterConfig cluster{8, 8};
  const SimResult policy = simulate(runs, cluster, options);
  const SimResult round_robin = simulate_round_robin(runs, cluster, options);
  EXPECT_DOUBLE_EQ(policy.busy_gpu_seconds, round_robin.busy_gpu_seconds);
  EXPECT_DOUBLE_EQ(policy.lower_bound_seconds, makespan_lower_bound(runs, cluster, options));
  EXPECT_DOUBLE_EQ(policy.lower_bound_seconds,
                   std::max(policy.busy_gpu_seconds / 64, policy.lower_bound_seconds));
  EXPECT_GE(policy.makespan_seconds, policy.lower_bound_seconds);
  EXPECT_GE(round_robin.makespan_seconds, policy.lower_bound_seconds);
  EXPECT_NE(policy.lower_bound_seconds, makespan_lower_bound(runs, cluster));
}

TEST(Simulator, RejectsRunsWiderThanANode) {
  EXPECT_THROW(simulate({sim_run("wide", 16, 1)}, {4, 8}), InputError);
  EXPECT_THROW(simulate_round_robin({sim_run("wide", 16, 1)}, {4, 8}), InputError);
  EXPECT_THROW(simulate(kHandRuns, {0, 8}), InputError);
}

}  // namespace
}  // namespace plascale
