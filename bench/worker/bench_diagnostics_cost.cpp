// Cost of the measurements at a typical cadence, as a fraction of the
// training time of the same run: diagnostics (trajectory rows: validation loss per source,
// parameter statistics, the capture pass for dormant units, attention entropy and
// effective rank), probes (copies trained on the probe source, and the scratch baseline)
// and checkpoints. The peer is the run's own training steps, timed in the same process by
// the trainer (TrainResult's per-activity seconds); medians over repeats.
//
// The run is bench/worker/cost-model.yaml's (the example sweep's "tiny" run as first
// measured: a diagnostics row every 128K tokens, a probe after every task), its budget cut to
// --tokens (default two tasks) so the cadence is unchanged. The full run's fractions are
// projected from the measured per-step, per-row and per-probe medians and the full run's
// counts of steps, rows and probes.

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "sweeps/expand.h"
#include "sweeps/sweep.h"
#include "worker/trainer.h"

namespace plascale {
namespace {

using bench::median;
using bench::cpu_model;

struct Costs {
  double step = 0, row = 0, probe = 0, checkpoint = 0;  // seconds per event
  double train_fraction_diagnostics = 0, train_fraction_probes = 0, train_fraction_checkpoints = 0;
};

int run(int repeats, int threads, int64_t tokens) {
  std::vector<RunSpec> runs = expand_sweep(load_sweep(PLASCALE_SOURCE_DIR "/bench/worker/cost-model.yaml"));
  auto baseline = std::find_if(runs.begin(), runs.end(), [](const RunSpec& run) {
    return run.mitigation.strategies.empty();
  });
  RunSpec full = *baseline;
  RunSpec spec = full;
  spec.token_budget = std::min(tokens, full.token_budget);
  spec.id = run_id(spec);

  const auto dir = std::filesystem::temp_directory_path() / fmt::format("plascale-bench-cost-{}", spec.id);
  std::vector<double> step, row, probe, checkpoint, diagnostics_share, probe_share, checkpoint_share;
  TrainResult last;
  for (int repeat = 0; repeat < repeats; ++repeat) {
    std::filesystem::remove_all(dir);
    TrainOptions options;
    options.out_dir = dir;
    options.threads = threads;
    last = train_run(spec, options);
    step.push_back(last.train_seconds / static_cast<double>(last.steps));
    row.push_back(last.diagnostics_seconds / static_cast<double>(last.rows));
    probe.push_back(last.probe_seconds / static_cast<double>(std::max<int64_t>(1, last.probes)));
    checkpoint.push_back(last.checkpoint_seconds / static_cast<double>(std::max<int64_t>(1, last.checkpoints)));
    diagnostics_share.push_back(last.diagnostics_seconds / last.train_seconds);
    probe_share.push_back(last.probe_seconds / last.train_seconds);
    checkpoint_share.push_back(last.checkpoint_seconds / last.train_seconds);
    fmt::print("repeat {}: training {:.2f} s, diagnostics {:.3f} s ({} rows), probes {:.2f} s ({}), "
               "checkpoints {:.3f} s\n",
               repeat + 1, last.train_seconds, last.diagnostics_seconds, last.rows, last.probe_seconds, last.probes,
               last.checkpoint_seconds);
  }
  std::filesystem::remove_all(dir);

  // Counts of the full run at the same cadence: steps, rows (token 0, every diagnostics
  // interval, the end; probe points coincide with task ends, multiples of the interval
  // here) and probes (start, every task end, scratch baseline).
  const int64_t full_steps = (full.token_budget + full.training.batch_tokens - 1) / full.training.batch_tokens;
  const int64_t full_tokens = full_steps * full.training.batch_tokens;
  const int64_t full_rows = 1 + full_tokens / full.diagnostics.every_tokens +
                            (full_tokens % full.diagnostics.every_tokens != 0 ? 1 : 0);
  const int64_t tasks = static_cast<int64_t>(full.schedule.order.size()) * full.schedule.cycles;
  const int64_t full_probes = (full.probe.at_start ? 1 : 0) + tasks / std::max(1, full.probe.every_tasks) +
                              (full.probe.scratch_baseline ? 1 : 0);
  const double full_train = median(step) * static_cast<double>(full_steps);

  fmt::print("\nmachine: {}, {} threads; run '{}' ({} layers, d_model {}, context {}, batch {} tokens)\n",
             cpu_model(), threads == 0 ? std::string("all") : std::to_string(threads), full.model.size_name,
             full.model.layers, full.model.d_model, full.model.context, full.training.batch_tokens);
  fmt::print("medians of {} repeats of a {}-token run ({} steps, {} rows, {} probes of {} steps):\n", repeats,
             spec.token_budget, last.steps, last.rows, last.probes, spec.probe.steps);
  fmt::print("  per training step   {:8.2f} ms  ({:.0f} tokens/s)\n", median(step) * 1e3,
             static_cast<double>(spec.training.batch_tokens) / median(step));
  fmt::print("  per diagnostics row {:8.2f} ms  = {:.2f} training steps\n", median(row) * 1e3,
             median(row) / median(step));
  fmt::print("  per probe           {:8.2f} ms  = {:.2f} training steps\n", median(probe) * 1e3,
             median(probe) / median(step));
  fmt::print("  per checkpoint      {:8.2f} ms\n", median(checkpoint) * 1e3);
  fmt::print("measured, this run: diagnostics {:.2f}%, probes {:.1f}%, checkpoints {:.2f}% of training time\n",
             100 * median(diagnostics_share), 100 * median(probe_share), 100 * median(checkpoint_share));
  fmt::print("projected, full {}-token run ({} steps, {} rows, {} probes): diagnostics {:.2f}%, probes {:.1f}% of "
             "training time (goal: diagnostics < 5%)\n",
             full.token_budget, full_steps, full_rows, full_probes,
             100 * median(row) * static_cast<double>(full_rows) / full_train,
             100 * median(probe) * static_cast<double>(full_probes) / full_train);
  return 0;
}

}  // namespace
}  // namespace plascale

int main(int argc, char** argv) {
  CLI::App app{"Cost of diagnostics, probes and checkpoints relative to training (bench/worker/cost-model.yaml)"};
  int repeats = 3;
  int threads = 1;
  int64_t tokens = 256000;
  app.add_option("--repeats", repeats, "Runs to take medians over")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--threads", threads, "CPU threads (0 = all cores)")->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--tokens", tokens, "Training tokens per run (the cadence stays the sweep's)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return plascale::run(repeats, threads, tokens);
}
