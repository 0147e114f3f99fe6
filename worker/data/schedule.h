#pragma once
// The data schedule of one run: which tokens every optimizer step trains on, where tasks
// begin (so the trainer can reset AdamW and restart warmup), the fixed validation
// sequences of every source, and the probe's training and evaluation data.
//
//   sequences per batch  = training.batch_tokens / model.context (must divide exactly)
//   steps per task       = ceil(schedule.tokens_per_task / batch_tokens)   (continual)
//   total steps          = ceil(token_budget / batch_tokens), capped by the schedule's length
//                          (continual: order.size() * cycles tasks); the budget may end the
//                          last task early, Task::steps stays its nominal length.
//   continual            task i trains on source order[i % order.size()], instance
//                          i / order.size(); each sequence is the source's next unread one.
//   stationary           one task over every step; each sequence's source is drawn with the
//                          mixture weights from derive_seed(seed, "mixture", {sequence}).
// Every sequence is context + 1 tokens: inputs are the first context, targets the last.
//
// Held-out sets (fixed by run seed and source, never trained on): every source has
// validation_sequences() = max(probe.eval_sequences, diagnostics.sample_sequences)
// sequences. The probe evaluates on the probe source's first probe.eval_sequences; the
// diagnostics run on its first diagnostics.sample_sequences (on the first scheduled
// source's when the probe has no source). The probe's training data is the probe source's
// training stream from its start: every probe point and the scratch baseline see exactly
// the same batches, so differences between probes come from the model alone.
// Rows of large batches are generated in parallel (OpenMP); each row is a pure function of its source and
// sequence number, so the result does not depend on the thread count.

#include "sweeps/run_spec.h"
#include "worker/backend.h"
#include "worker/data/token_source.h"

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace plascale {

struct Task {
  int index = 0;          // position in the schedule
  int source = -1;        // index into RunSpec::sources; -1 = the stationary mixture
  int cycle = 0;          // continual: which pass through schedule.order
  int64_t instance = 0;   // continual: earlier instances of this source
  int64_t first_step = 0;
  int64_t steps = 0;      // nominal length in optimizer steps
};

struct Batch {
  int sequences = 0;
  int seq_len = 0;               // the model context
  std::vector<int32_t> inputs;   // [sequences, seq_len]
  std::vector<int32_t> targets;  // [sequences, seq_len]
  std::vector<int> sources;      // [sequences] index into RunSpec::sources
  TokenBatch view() const { return {inputs, targets, sequences, seq_len}; }
};

// Where the training stream stands; restoring it makes the next batch identical.
struct DataPosition {
  int64_t step = 0;                       // next training step to read
  std::vector<int64_t> source_sequences;  // training sequences read so far, per source
  // Flat form for checkpoints: {step, source_sequences...}.
  std::vector<int64_t> to_integers() const;
  static DataPosition from_integers(std::span<const int64_t> integers);
};

class DataSchedule {
 public:
  // Opens and validates every source of the spec. Throws InputError for a bad spec (batch
  // not a multiple of the context, unknown source names, empty schedule) or bad data.
  explicit DataSchedule(const RunSpec& spec);

  int sequences_per_batch() const { return sequences_per_batch_; }
  int64_t total_steps() const { return total_steps_; }
  const std::vector<Task>& tasks() const { return tasks_; }
  const Task& task_at(int64_t step) const;  // step in [0, total_steps)

  // The batch of step position().step; advances the position. Throws std::out_of_range past
  // total_steps().
  void next_batch(Batch& batch);
  const DataPosition& position() const { return position_; }
  // Throws InputError if the position does not fit this schedule (other source count,
  // step out of range).
  void restore(const DataPosition& position);

  // Sources with a validation loss in the trajectory: those the schedule trains on, in
  // RunSpec::sources order.
  const std::vector<int>& training_sources() const { return training_sources_; }
  int validation_sequences() const { return validation_sequences_; }
  // Held-out sequences [first, first + count) of `source` (count may be less than a batch,
  // so callers can bound memory).
  void validation_batch(int source, int first, int count, Batch& batch) const;

  int probe_source() const { return probe_source_; }  // -1: the probe has no source
  // The probe copy's batch for its optimizer step `probe_step` (0-based).
  void probe_batch(int64_t probe_step, Batch& batch) const;
  // The probe's fixed evaluation set: probe.eval_sequences held-out probe-source sequences.
  void probe_eval_batch(Batch& batch) const;
  // The diagnostics sample: diagnostics.sample_sequences held-out sequences (see above).
  void diagnostics_batch(Batch& batch) const;

  const TokenSource& source(int index) const { return *sources_.at(index); }

 private:
  // Fills every row of batch (shaped, sources set) with sequence indices[row] of its source.
  void fill_rows(std::span<const int64_t> indices, bool validation, Batch& batch) const;

  RunSpec spec_;
  int sequences_per_batch_ = 0;
  int validation_sequences_ = 0;
  int64_t total_steps_ = 0;
  std::vector<Task> tasks_;
  std::vector<std::unique_ptr<TokenSource>> sources_;  // one per RunSpec::sources entry
  std::vector<int> training_sources_;
  std::vector<double> mixture_cumulative_;  // stationary: cumulative weight per source
  int probe_source_ = -1;
  DataPosition position_;
};

}  // namespace plascale
