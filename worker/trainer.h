#pragma once
// Trains one run from its RunSpec into a run directory (DESIGN.md storage layout):
//   DIR/run.h5   trajectory rows and probes, through storage's RunFileWriter
//   DIR/ckpt/    checkpoints (storage/checkpoint.h)
// If DIR already holds a checkpoint of this run, training continues from it bit-identically:
// the run file is cut back to the checkpoint's tokens and every later number is recomputed
// exactly as an uninterrupted run would compute it.
//
// Per optimizer step: the schedule's batch, gradients over micro-batches, clip, AdamW with
// the LR of the current phase (worker/lr_schedule.h; a phase is a task when the continual
// schedule resets the optimizer, else the whole run). At task boundaries with
// reset_optimizer the AdamW moments and step count are zeroed and warmup restarts.
// The run's mitigation strategies act around each step (worker/mitigations/mitigations.h);
// the probe copies train without them.
//
// Measurement points (one trajectory row each): token 0, every diagnostics.every_tokens,
// every probe point, the last step, and a diverged step. Probe points: token 0 if
// probe.at_start, every probe.every_tokens, after every probe.every_tasks tasks.
// Metrics of a row (docs/storage.md): train_loss (mean over the steps since the last row),
// lr and grad_norm (of the last step; absent at token 0), val_loss[source], param_abs_mean,
// tensor_norm[tensor], dormant_fraction[layer], zero_unit_fraction[layer],
// attn_entropy[layer, head], attn_entropy_max, lazy_heads, collapsed_heads,
// effective_rank[layer], and the counters of the run's mitigations (worker/mitigations/,
// docs/mitigations.md).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "storage/run_file.h"
#include "sweeps/run_spec.h"

namespace plascale {

struct TrainProgress {
  int64_t step = 0;
  int64_t total_steps = 0;
  int64_t tokens = 0;
  int64_t total_tokens = 0;
  int64_t start_tokens = 0;  // where this process started (the checkpoint's tokens on resume)
  double loss = 0;           // the last step's training loss
};

struct TrainOptions {
  std::filesystem::path out_dir;  // DIR: run.h5 and ckpt/ go here
  std::string spec_yaml;          // the RunSpec as YAML, stored in the run file
  int threads = 0;                // CPU threads; 0 = all cores
  // Called after every optimizer step, and with a line of text at notable events
  // (resume, probes, checkpoints).
  std::function<void(const TrainProgress&)> on_progress;
  std::function<void(const std::string&)> on_event;

  // Test hooks. stop_after_tokens > 0 acts like a SIGTERM arriving once that many tokens are
  // trained (same code path). run_probes = false keeps the probe points' diagnostics rows but
  // trains no probe copy, to prove probing leaves the main trajectory unchanged.
  int64_t stop_after_tokens = 0;
  bool run_probes = true;
};

enum class TrainOutcome {
  completed,  // the budget is trained; the last checkpoint is at the end
  stopped,    // SIGTERM/SIGUSR1 (or the test hook): checkpointed, run again to continue
  diverged,   // non-finite loss: the row is recorded, no checkpoint of the bad state
};

struct TrainResult {
  TrainOutcome outcome = TrainOutcome::completed;
  int64_t steps = 0;
  int64_t tokens = 0;
  bool resumed = false;  // continued from a checkpoint
  int stop_signal = 0;   // the signal that stopped it (0 for the test hook)
  // Wall seconds this process spent on each activity (the cost benchmark and the summary).
  double train_seconds = 0;        // optimizer steps, data included
  double diagnostics_seconds = 0;  // trajectory rows: validation losses, capture, statistics
  double probe_seconds = 0;        // probe copies and the scratch baseline
  double checkpoint_seconds = 0;
  int64_t rows = 0;    // trajectory rows this process recorded
  int64_t probes = 0;  // probes this process ran, the scratch baseline included
  int64_t checkpoints = 0;
};

// Throws InputError for bad data files or a run directory holding another run's checkpoint.
TrainResult train_run(const RunSpec& spec, const TrainOptions& options);

}  // namespace plascale
