// The scheduling policy on the Zyphra size ladder, widened to a study-sized sweep, on 64, 512
// and 4,096 simulated H100s (8 per node): makespan against the lower bound
// max(total GPU-seconds / GPUs, longest run), next to a static round-robin split of the same
// runs (the peer: what a Slurm job array gives), the same policy with the queue ordered by
// total FLOPs instead of FLOPs per GPU (ablation), and the policy's decision throughput
// (whole simulations timed: Scheduler::assign calls and the simulator's own events).
//
//   bench_orchestrator_simulate [--repeats R] [--seeds N] [--gpus 64,512,4096]
//                               [--failures F --noise S] [--sweep path.yaml]

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <chrono>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "orchestrator/sim/simulator.h"
#include "sweeps/errors.h"
#include "sweeps/expand.h"

using namespace plascale;

int main(int argc, char** argv) {
  CLI::App app{"Simulated makespan of the scheduling policy vs round-robin"};
  int repeats = 21;
  int seeds = 5;
  std::vector<int> gpu_counts = {64, 512, 4096};
  SimOptions options;
  std::string sweep_path = std::string(PLASCALE_SOURCE_DIR) + "/sweeps/examples/zyphra-ladder.yaml";
  app.add_option("--repeats", repeats, "timed repeats of each simulation (median reported)")->check(CLI::PositiveNumber);
  app.add_option("--seeds", seeds, "seeds per grid point (seeds 0 .. N-1)")->check(CLI::PositiveNumber);
  app.add_option("--gpus", gpu_counts, "cluster sizes, multiples of 8")->delimiter(',');
  app.add_option("--failures", options.failure_fraction, "fraction of runs whose first attempt crashes")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--noise", options.speed_noise, "sigma of the log-normal runtime factor")->check(CLI::NonNegativeNumber);
  app.add_option("--sweep", sweep_path, "the sweep whose axes are widened");
  CLI11_PARSE(app, argc, argv);

  try {
    // Four budgets (1/8 to all of the 1.92T-token schedule), the five single-strategy
    // candidates with their defaults, five seeds by default: 8 x 4 x 5 x 5 = 800 runs.
    std::string seed_list = "[0";
    for (int seed = 1; seed < seeds; ++seed) seed_list += ", " + std::to_string(seed);
    const Sweep sweep = load_sweep_with(sweep_path, {
        {"budgets", "[240B, 480B, 960B, full]"},
        {"mitigations", "[none, continual_backprop, redo, shrink_perturb, l2_init]"},
        {"seeds", seed_list + "]"},
    });
    const std::vector<SimRun> runs = simulated_runs(expand_sweep(sweep));
    // Ablation: the queue ordered by total FLOPs instead of FLOPs per GPU. The scheduler
    // sorts by cost / gpus, so multiplying each cost by its GPUs gives that order.
    std::vector<SimRun> flops_ordered = runs;
    for (SimRun& run : flops_ordered) run.cost *= run.gpus;
    double gpu_seconds = 0, longest = 0;
    for (const SimRun& run : runs) {
      gpu_seconds += run.gpus * run.seconds;
      longest = std::max(longest, run.seconds);
    }
    fmt::print("sweep: {} widened to {} runs; {:.0f} GPU-days of work, longest run {:.1f} days "
               "(H100, MFU 0.40, linear in GPUs)\n",
               sweep.name, runs.size(), gpu_seconds / 86400, longest / 86400);
    fmt::print("machine: {}; failures {}, noise {}\n\n", bench::cpu_model(), options.failure_fraction,
               options.speed_noise);
    fmt::print("| GPUs | runs | lower bound (days) | plascale (days) | / bound | round-robin (days) | / bound | "
               "FLOPs order / bound | assignments/s | offers/s |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int gpus : gpu_counts) {
      if (gpus % 8 != 0) throw InputError("--gpus: " + std::to_string(gpus) + " is not a multiple of 8 GPUs per node");
      const ClusterConfig cluster{gpus / 8, 8};
      SimResult policy;
      std::vector<double> seconds;
      for (int repeat = 0; repeat < repeats; ++repeat) {
        const auto start = std::chrono::steady_clock::now();
        policy = simulate(runs, cluster, options);
        seconds.push_back(bench::seconds_since(start));
      }
      const SimResult round_robin = simulate_round_robin(runs, cluster, options);
      const SimResult by_flops = simulate(flops_ordered, cluster, options);
      const double wall = bench::median(seconds);
      const double bound = policy.lower_bound_seconds;
      fmt::print("| {} | {} | {:.1f} | {:.1f} | {:.3f} | {:.1f} | {:.3f} | {:.3f} | {:.3g} | {:.3g} |\n", gpus,
                 runs.size(), bound / 86400, policy.makespan_seconds / 86400, policy.makespan_seconds / bound,
                 round_robin.makespan_seconds / 86400, round_robin.makespan_seconds / bound,
                 by_flops.makespan_seconds / bound, policy.assignments / wall, policy.offers / wall);
    }
  } catch (const InputError& error) {
    fmt::print(stderr, "error: {}\n", error.what());
    return kExitBadInput;
  }
  return 0;
}
