// Dispatch throughput of `plascale run`: 1 coordinator + 15 worker ranks (mpirun -np 16) on
// runs that do nothing, so what is timed is the coordinator and the protocol:
//
//   inline: `--dry-train inline`, the worker ranks spawn no process; a run is request ->
//           assign -> result messages and the coordinator's bookkeeping (no study is written);
//   spawn:  `--dry-train spawn`, each run spawns a real child `plascale train --dry-train`
//           that exits at once;
//   peer:   the same children spawned by 15 ranks splitting the runs statically round-robin,
//           with no coordinator at all (what a job array would do): the cost of the process
//           itself, against which the spawn mode's coordinator overhead shows.
//
// Rates are runs / wall seconds of the dispatch loop (from the coordinator's `dispatch:` line;
// MPI start-up excluded), medians of --repeats. The coordinator's CPU time per run is its
// process CPU time over the loop divided by the runs.
//
//   bench_orchestrator_dispatch [--inline-runs N] [--spawn-runs N] [--repeats R] [--ranks K]

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <mpi.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "bench/bench_common.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;

const std::string kPlascale = std::string(PLASCALE_BINARY_DIR) + "/app/plascale";

// `runs` runs of a tiny model (they never train: the children are dry).
std::string sweep_yaml(int runs) {
  std::string seeds;
  for (int seed = 0; seed < runs; ++seed) seeds += (seed ? ", " : "") + std::to_string(seed);
  return fmt::format(R"(name: dispatch
model: {{family: gpt, context: 16, vocab: 64, mlp_ratio: 4}}
sizes: [{{name: s1, layers: 1, d_model: 32, heads: 2}}]
data:
  synthetic: {{seed: 3, order: 2, branching: 4}}
  sources: [{{name: a, kind: synthetic, language: 0}}, {{name: p, kind: synthetic, language: 2}}]
  schedule: {{kind: continual, order: [a], tokens_per_task: 1K, cycles: 1}}
probe: {{source: p, steps: 2, eval_interval: 1, eval_sequences: 2, every_tasks: 1}}
training: {{lr: 3e-3, batch_tokens: 64}}
budgets: [full]
mitigations: [none]
seeds: [{}]
output: {{study: study}}
)",
                     seeds);
}

std::string run_and_capture(const std::string& command) {
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string output;
  char buffer[4096];
  for (size_t got; (got = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;) output.append(buffer, got);
  const int status = ::pclose(pipe);
  if (status != 0) throw std::runtime_error(fmt::format("`{}` failed (status {}):\n{}", command, status, output));
  return output;
}

struct Measured {
  double runs_per_second = 0;
  double coordinator_us_per_run = 0;
};

Measured plascale_run(int ranks, const fs::path& sweep, const std::string& mode) {
  const std::string output = run_and_capture(fmt::format(
      "mpirun --oversubscribe -np {} {} run {} --dry-train {} --display lines --summary-every 1000 2>&1", ranks,
      kPlascale, sweep.string(), mode));
  static const std::regex pattern(R"(dispatch: \d+ runs in [0-9.]+ s \(([0-9.e+]+) runs/s\); coordinator CPU [0-9.]+ s \(([0-9.]+) us per run\))");
  std::smatch match;
  if (!std::regex_search(output, match, pattern)) throw std::runtime_error("no dispatch line in:\n" + output);
  return {std::stod(match[1]), std::stod(match[2])};
}

double static_peer(int ranks, const fs::path& self, int runs) {
  const std::string output =
      run_and_capture(fmt::format("mpirun --oversubscribe -np {} {} --static-peer {} 2>&1", ranks, self.string(), runs));
  static const std::regex pattern(R"(static: ([0-9.]+) runs/s)");
  std::smatch match;
  if (!std::regex_search(output, match, pattern)) throw std::runtime_error("no static line in:\n" + output);
  return std::stod(match[1]);
}

// The peer, as one rank of mpirun: ranks 1.. spawn their share of the dry children one after
// another; rank 0 only times the whole between two barriers.
int static_peer_rank(int runs) {
  MPI_Init(nullptr, nullptr);
  int rank = 0;
  int size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Barrier(MPI_COMM_WORLD);
  const auto start = std::chrono::steady_clock::now();
  if (rank > 0) {
    std::vector<std::string> args{kPlascale, "train", "--dry-train", "--threads", "1"};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    for (int run = rank - 1; run < runs; run += size - 1) {
      pid_t pid = 0;
      if (::posix_spawn(&pid, kPlascale.c_str(), nullptr, nullptr, argv.data(), environ) != 0) return 1;
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) fmt::print("static: {:.1f} runs/s\n", runs / plascale::bench::seconds_since(start));
  MPI_Finalize();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--static-peer") return static_peer_rank(std::stoi(argv[2]));

  CLI::App app{"Dispatch throughput of plascale run (1 coordinator + worker ranks)"};
  int inline_runs = 20000;
  int spawn_runs = 600;
  int repeats = 3;
  int ranks = 16;
  app.add_option("--inline-runs", inline_runs, "runs dispatched without child processes")->check(CLI::PositiveNumber);
  app.add_option("--spawn-runs", spawn_runs, "runs dispatched with a real trivial child each")->check(CLI::PositiveNumber);
  app.add_option("--repeats", repeats, "repeats of each case (median reported)")->check(CLI::PositiveNumber);
  app.add_option("--ranks", ranks, "MPI ranks: 1 coordinator + ranks-1 workers")->check(CLI::Range(2, 1024));
  CLI11_PARSE(app, argc, argv);
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
  ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  ::setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
  ::setenv("OMP_WAIT_POLICY", "passive", 1);

  const fs::path dir = fs::temp_directory_path() / fmt::format("plascale-dispatch-{}", ::getpid());
  fs::create_directories(dir);
  std::ofstream(dir / "inline.yaml") << sweep_yaml(inline_runs);
  std::ofstream(dir / "spawn.yaml") << sweep_yaml(spawn_runs);
  const fs::path self = fs::read_symlink("/proc/self/exe");

  std::vector<double> inline_rate, inline_cpu, spawn_rate, spawn_cpu, peer_rate;
  for (int repeat = 0; repeat < repeats; ++repeat) {
    const Measured in = plascale_run(ranks, dir / "inline.yaml", "inline");
    inline_rate.push_back(in.runs_per_second);
    inline_cpu.push_back(in.coordinator_us_per_run);
    const Measured spawned = plascale_run(ranks, dir / "spawn.yaml", "spawn");
    spawn_rate.push_back(spawned.runs_per_second);
    spawn_cpu.push_back(spawned.coordinator_us_per_run);
    peer_rate.push_back(static_peer(ranks, self, spawn_runs));
  }
  fs::remove_all(dir);

  using plascale::bench::median;
  fmt::print("{}; mpirun -np {} (1 coordinator + {} workers); medians of {} repeats\n", plascale::bench::cpu_model(),
             ranks, ranks - 1, repeats);
  fmt::print("{:<44} {:>12} {:>22}\n", "case", "runs/s", "coordinator CPU/run");
  fmt::print("{:<44} {:>12.0f} {:>19.1f} us\n", fmt::format("inline, no child ({} runs)", inline_runs),
             median(inline_rate), median(inline_cpu));
  fmt::print("{:<44} {:>12.1f} {:>19.1f} us\n", fmt::format("spawn, trivial child ({} runs)", spawn_runs),
             median(spawn_rate), median(spawn_cpu));
  fmt::print("{:<44} {:>12.1f} {:>22}\n", "peer: static round-robin spawn, no coordinator", median(peer_rate), "-");
  fmt::print("spawn / peer: {:.2f}x\n", median(spawn_rate) / median(peer_rate));
  fmt::print("inline vs Slurm's ~500 jobs/s (REFERENCES.md section 5, not measured here): {:.0f}x\n",
             median(inline_rate) / 500.0);
  return 0;
}
