#include "orchestrator/sim/simulator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <queue>
#include <stdexcept>
#include <unordered_map>

#include "sweeps/errors.h"

namespace plascale {

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A uniform draw in (0, 1) fixed by its coordinates, so that a run's fate does not depend
// on the order in which the simulation happens to ask.
double uniform(uint64_t seed, uint64_t run, uint64_t attempt, uint64_t purpose) {
  const uint64_t bits = splitmix64(splitmix64(splitmix64(splitmix64(seed) ^ run) ^ attempt) ^ purpose);
  return (static_cast<double>(bits >> 11) + 0.5) * 0x1.0p-53;
}

enum Purpose : uint64_t { kFails = 1, kFailPoint, kNoiseA, kNoiseB };

void check_fits(const std::vector<SimRun>& runs, const ClusterConfig& cluster) {
  if (cluster.nodes < 1 || cluster.gpus_per_node < 1) {
    throw InputError("cluster: nodes and gpus_per_node must be at least 1 (got " +
                     std::to_string(cluster.nodes) + " nodes of " +
                     std::to_string(cluster.gpus_per_node) + " GPUs)");
  }
  for (const SimRun& run : runs) {
    if (run.gpus < 1 || run.gpus > cluster.gpus_per_node) {
      throw InputError("run " + run.id + " needs " + std::to_string(run.gpus) +
                       " GPUs; allowed: 1 to the " + std::to_string(cluster.gpus_per_node) +
                       " GPUs of one node");
    }
  }
}

// One attempt as the simulation plays it. Its length and fate depend only on (seed, run,
// attempt), never on the schedule, so every policy plays the same attempts.
struct Attempt {
  double seconds = 0;
  bool fails = false;
};

Attempt play(const SimRun& run, size_t run_index, int attempt_number, const SimOptions& options) {
  const auto attempt = static_cast<uint64_t>(attempt_number);
  Attempt played;
  played.seconds = run.seconds;
  if (options.speed_noise > 0) {  // Box-Muller: one standard normal per attempt
    const double normal = std::sqrt(-2 * std::log(uniform(options.seed, run_index, attempt, kNoiseA))) *
                          std::cos(2 * std::numbers::pi * uniform(options.seed, run_index, attempt, kNoiseB));
    played.seconds *= std::exp(options.speed_noise * normal);
  }
  played.fails = attempt == 1 && uniform(options.seed, run_index, attempt, kFails) < options.failure_fraction;
  if (played.fails) played.seconds *= uniform(options.seed, run_index, attempt, kFailPoint);
  return played;
}

// Seconds of all of a run's attempts, back to back.
double all_attempts_seconds(const SimRun& run, size_t run_index, const SimOptions& options) {
  double seconds = 0;
  for (int attempt = 1;; ++attempt) {
    const Attempt played = play(run, run_index, attempt, options);
    seconds += played.seconds;
    if (!played.fails || attempt >= options.scheduler.max_attempts) return seconds;
  }
}

struct Running {
  double end = 0;
  int64_t started = 0;  // tie-break: equal end times finish in start order
  size_t run = 0;
  int node = 0;
  std::vector<int> gpus;
  bool fails = false;
};

struct EndsLater {
  bool operator()(const Running& a, const Running& b) const {
    return a.end != b.end ? a.end > b.end : a.started > b.started;
  }
};

}  // namespace

std::vector<SimRun> simulated_runs(const std::vector<RunSpec>& specs, const GpuAssumptions& gpu) {
  std::vector<SimRun> runs;
  runs.reserve(specs.size());
  for (const RunSpec& spec : specs) {
    if (spec.resources.gpus < 1) {
      throw InputError("run " + spec.id + " (size " + spec.model.size_name +
                       ") has resources.gpus 0; the simulator models GPU runs only: give the "
                       "sweep or the size resources.gpus >= 1");
    }
    SimRun run;
    run.id = spec.id;
    run.cost = estimated_flops(spec);
    run.gpus = spec.resources.gpus;
    run.seconds = run.cost / (run.gpus * gpu.mfu * gpu.peak_tflops * 1e12);
    runs.push_back(std::move(run));
  }
  return runs;
}

double makespan_lower_bound(const std::vector<SimRun>& runs, const ClusterConfig& cluster,
                            const SimOptions& options) {
  double gpu_seconds = 0, longest = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    const double seconds = all_attempts_seconds(runs[i], i, options);
    gpu_seconds += runs[i].gpus * seconds;
    longest = std::max(longest, seconds);
  }
  return std::max(gpu_seconds / (static_cast<double>(cluster.nodes) * cluster.gpus_per_node), longest);
}

SimResult simulate(const std::vector<SimRun>& runs, const ClusterConfig& cluster,
                   const SimOptions& options) {
  check_fits(runs, cluster);
  std::vector<SchedulableRun> schedulable;
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < runs.size(); ++i) {
    schedulable.push_back({runs[i].id, runs[i].cost, runs[i].gpus, 0});
    index.emplace(runs[i].id, i);
  }
  Scheduler scheduler(std::move(schedulable), options.scheduler);

  std::vector<std::vector<int>> free_gpus(cluster.nodes);
  for (auto& node : free_gpus) {
    for (int gpu = 0; gpu < cluster.gpus_per_node; ++gpu) node.push_back(gpu);
  }
  std::priority_queue<Running, std::vector<Running>, EndsLater> running;
  SimResult result;
  result.lower_bound_seconds = makespan_lower_bound(runs, cluster, options);

  // Every node with free GPUs offers them until the scheduler has nothing for it.
  const auto offer_all = [&](double now) {
    for (int node = 0; node < cluster.nodes; ++node) {
      std::vector<int>& free = free_gpus[node];
      while (!free.empty()) {
        WorkerOffer offer;
        offer.worker = node;
        offer.node = node;
        offer.free_gpus = free;
        ++result.offers;
        const std::optional<Assignment> assignment = scheduler.assign(offer, now);
        if (!assignment) break;
        for (int gpu : assignment->gpus) free.erase(std::find(free.begin(), free.end(), gpu));

        Running started;
        started.run = index.at(assignment->run_id);
        const SimRun& run = runs[started.run];
        const Attempt played = play(run, started.run, assignment->attempt, options);
        started.fails = played.fails;
        started.end = now + played.seconds;
        started.started = result.assignments++;
        started.node = node;
        started.gpus = assignment->gpus;
        result.busy_gpu_seconds += played.seconds * run.gpus;
        running.push(std::move(started));
      }
    }
  };

  offer_all(0);
  constexpr double kNever = std::numeric_limits<double>::infinity();
  for (double clock = 0;;) {
    double now = running.empty() ? kNever : running.top().end;
    // A retry time already reached waits for GPUs to free up, not for the clock.
    if (const auto retry = scheduler.next_retry_time(); retry && *retry > clock) now = std::min(now, *retry);
    if (now == kNever) break;
    clock = now;
    while (!running.empty() && running.top().end <= now) {
      const Running& ended = running.top();
      std::vector<int>& free = free_gpus[ended.node];
      free.insert(free.end(), ended.gpus.begin(), ended.gpus.end());
      std::sort(free.begin(), free.end());
      scheduler.finish(runs[ended.run].id, ended.fails ? RunEnd::failed : RunEnd::completed, now);
      result.makespan_seconds = now;
      running.pop();
    }
    offer_all(now);
  }
  if (!scheduler.settled()) {
    throw std::logic_error("simulate: the event queue ran dry with " +
                           std::to_string(scheduler.counts().pending) + " runs still pending");
  }
  return result;
}

SimResult simulate_round_robin(const std::vector<SimRun>& runs, const ClusterConfig& cluster,
                               const SimOptions& options) {
  check_fits(runs, cluster);
  SimResult result;
  result.lower_bound_seconds = makespan_lower_bound(runs, cluster, options);
  for (int node = 0; node < cluster.nodes; ++node) {
    // (end time, GPUs) of the runs on this node, earliest end on top.
    using Ending = std::pair<double, int>;
    std::priority_queue<Ending, std::vector<Ending>, std::greater<>> ending;
    double now = 0;
    int free = cluster.gpus_per_node;
    for (size_t k = static_cast<size_t>(node); k < runs.size(); k += static_cast<size_t>(cluster.nodes)) {
      const SimRun& run = runs[k];
      while (free < run.gpus) {
        now = std::max(now, ending.top().first);
        free += ending.top().second;
        ending.pop();
      }
      const double seconds = all_attempts_seconds(run, k, options);
      free -= run.gpus;
      ending.emplace(now + seconds, run.gpus);
      result.makespan_seconds = std::max(result.makespan_seconds, now + seconds);
      result.busy_gpu_seconds += run.gpus * seconds;
      ++result.assignments;
    }
  }
  return result;
}

}  // namespace plascale
