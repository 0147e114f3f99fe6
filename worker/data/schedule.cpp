#include "worker/data/schedule.h"

#include "sweeps/errors.h"
#include "worker/rng.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace plascale {
namespace {

int find_source(const RunSpec& spec, const std::string& name, const std::string& where) {
  for (size_t i = 0; i < spec.sources.size(); ++i) {
    if (spec.sources[i].name == name) return static_cast<int>(i);
  }
  std::string known;
  for (const DataSource& source : spec.sources) known += (known.empty() ? "" : ", ") + source.name;
  throw InputError(where + " names source '" + name + "', which is not among the run's sources (" + known + ")");
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

void shape_batch(Batch& batch, int sequences, int seq_len) {
  batch.sequences = sequences;
  batch.seq_len = seq_len;
  batch.inputs.resize(static_cast<size_t>(sequences) * seq_len);
  batch.targets.resize(static_cast<size_t>(sequences) * seq_len);
  batch.sources.resize(static_cast<size_t>(sequences));
}

}  // namespace

std::vector<int64_t> DataPosition::to_integers() const {
  std::vector<int64_t> integers{step};
  integers.insert(integers.end(), source_sequences.begin(), source_sequences.end());
  return integers;
}

DataPosition DataPosition::from_integers(std::span<const int64_t> integers) {
  if (integers.empty()) throw InputError("data position: empty array, expected {step, per-source counters...}");
  DataPosition position;
  position.step = integers[0];
  position.source_sequences.assign(integers.begin() + 1, integers.end());
  return position;
}

DataSchedule::DataSchedule(const RunSpec& spec) : spec_(spec) {
  const int context = spec.model.context;
  const int64_t batch_tokens = spec.training.batch_tokens;
  if (context < 1) throw InputError("model.context must be at least 1, not " + std::to_string(context));
  if (batch_tokens < context || batch_tokens % context != 0) {
    throw InputError("training.batch_tokens " + std::to_string(batch_tokens) +
                     " must be a positive multiple of model.context " + std::to_string(context));
  }
  if (spec.token_budget <= 0) throw InputError("token_budget must be positive");
  sequences_per_batch_ = static_cast<int>(batch_tokens / context);
  validation_sequences_ = std::max({1, spec.probe.eval_sequences, spec.diagnostics.sample_sequences});

  SourceOptions options;
  options.run_seed = spec.seed;
  options.sequence_tokens = context + 1;
  options.vocab = spec.model.vocab;
  options.validation_sequences = validation_sequences_;
  options.synthetic = spec.synthetic;
  for (const DataSource& source : spec.sources) sources_.push_back(open_token_source(source, options));

  const int64_t budget_steps = ceil_div(spec.token_budget, batch_tokens);
  std::vector<bool> trained(spec.sources.size(), false);
  if (spec.schedule.kind == ScheduleKind::continual) {
    if (spec.schedule.order.empty()) throw InputError("schedule.order is empty: a continual schedule needs tasks");
    if (spec.schedule.tokens_per_task <= 0) throw InputError("schedule.tokens_per_task must be positive");
    if (spec.schedule.cycles < 1) throw InputError("schedule.cycles must be at least 1");
    const int64_t steps_per_task = ceil_div(spec.schedule.tokens_per_task, batch_tokens);
    std::vector<int64_t> instances(spec.sources.size(), 0);
    const int64_t task_count = static_cast<int64_t>(spec.schedule.order.size()) * spec.schedule.cycles;
    for (int64_t i = 0; i < task_count && i * steps_per_task < budget_steps; ++i) {
      Task task;
      task.index = static_cast<int>(i);
      task.source = find_source(spec, spec.schedule.order[i % spec.schedule.order.size()], "schedule.order");
      task.cycle = static_cast<int>(i / static_cast<int64_t>(spec.schedule.order.size()));
      task.instance = instances[task.source]++;
      task.first_step = i * steps_per_task;
      task.steps = steps_per_task;
      trained[task.source] = true;
      tasks_.push_back(task);
    }
    total_steps_ = std::min(budget_steps, static_cast<int64_t>(tasks_.size()) * steps_per_task);
  } else {
    if (spec.schedule.weights.empty()) throw InputError("schedule.weights is empty: a stationary mixture needs sources");
    mixture_cumulative_.assign(spec.sources.size(), 0.0);
    double total = 0;
    for (const auto& [name, weight] : spec.schedule.weights) {
      if (!(weight >= 0)) throw InputError("schedule.weights['" + name + "'] must be >= 0");
      const int source = find_source(spec, name, "schedule.weights");
      mixture_cumulative_[source] += weight;
      total += weight;
      if (weight > 0) trained[source] = true;
    }
    if (!(total > 0)) throw InputError("schedule.weights sum to 0: at least one weight must be positive");
    double running = 0;
    for (double& weight : mixture_cumulative_) {
      running += weight / total;
      weight = running;
    }
    total_steps_ = budget_steps;
    tasks_.push_back(Task{0, -1, 0, 0, 0, total_steps_});
  }
  for (size_t i = 0; i < trained.size(); ++i) {
    if (trained[i]) training_sources_.push_back(static_cast<int>(i));
  }
  if (spec.probe.enabled && !spec.probe.source.empty()) {
    probe_source_ = find_source(spec, spec.probe.source, "probe.source");
  }
  position_.source_sequences.assign(spec.sources.size(), 0);
}

const Task& DataSchedule::task_at(int64_t step) const {
  if (step < 0 || step >= total_steps_) {
    throw std::out_of_range("step " + std::to_string(step) + " outside the schedule's [0, " +
                            std::to_string(total_steps_) + ")");
  }
  const auto after = std::upper_bound(tasks_.begin(), tasks_.end(), step,
                                      [](int64_t s, const Task& task) { return s < task.first_step; });
  return *(after - 1);
}

void DataSchedule::fill_rows(std::span<const int64_t> indices, bool validation, Batch& batch) const {
  const int seq_len = batch.seq_len;
  // Threads only pay off for batches that take about a millisecond or more to generate.
  const bool parallel = int64_t{batch.sequences} * seq_len >= (int64_t{1} << 16);
#pragma omp parallel if (parallel)
  {
    std::vector<int32_t> sequence(static_cast<size_t>(seq_len) + 1);
#pragma omp for schedule(static)
    for (int row = 0; row < batch.sequences; ++row) {
      const TokenSource& source = *sources_[batch.sources[row]];
      if (validation) {
        source.validation_sequence(indices[row], sequence);
      } else {
        source.train_sequence(indices[row], sequence);
      }
      std::copy(sequence.begin(), sequence.end() - 1, batch.inputs.begin() + int64_t{row} * seq_len);
      std::copy(sequence.begin() + 1, sequence.end(), batch.targets.begin() + int64_t{row} * seq_len);
    }
  }
}

void DataSchedule::next_batch(Batch& batch) {
  const int64_t step = position_.step;
  const Task& task = task_at(step);
  shape_batch(batch, sequences_per_batch_, spec_.model.context);
  std::vector<int64_t> indices(sequences_per_batch_);
  for (int row = 0; row < sequences_per_batch_; ++row) {
    int source = task.source;
    if (source < 0) {
      const uint64_t sequence = static_cast<uint64_t>(step) * sequences_per_batch_ + row;
      const double draw = Rng(derive_seed(spec_.seed, "mixture", {sequence})).uniform();
      source = static_cast<int>(std::upper_bound(mixture_cumulative_.begin(), mixture_cumulative_.end(), draw) -
                                mixture_cumulative_.begin());
      // Rounding can leave the last cumulative weight a hair below 1: take the last source
      // with weight.
      if (source >= static_cast<int>(mixture_cumulative_.size())) source = training_sources_.back();
    }
    batch.sources[row] = source;
    indices[row] = position_.source_sequences[source]++;
  }
  fill_rows(indices, false, batch);
  ++position_.step;
}

void DataSchedule::restore(const DataPosition& position) {
  if (position.source_sequences.size() != spec_.sources.size()) {
    throw InputError("data position has " + std::to_string(position.source_sequences.size()) +
                     " source counters, this run has " + std::to_string(spec_.sources.size()) + " sources");
  }
  if (position.step < 0 || position.step > total_steps_) {
    throw InputError("data position step " + std::to_string(position.step) + " outside the schedule's [0, " +
                     std::to_string(total_steps_) + "]");
  }
  for (int64_t count : position.source_sequences) {
    if (count < 0) throw InputError("data position has a negative source counter");
  }
  position_ = position;
}

void DataSchedule::validation_batch(int source, int first, int count, Batch& batch) const {
  if (first < 0 || count < 0 || first + count > validation_sequences_) {
    throw std::out_of_range("validation sequences [" + std::to_string(first) + ", " + std::to_string(first + count) +
                            ") outside [0, " + std::to_string(validation_sequences_) + ")");
  }
  if (source < 0 || source >= static_cast<int>(sources_.size())) {
    throw std::out_of_range("validation_batch: no source " + std::to_string(source));
  }
  shape_batch(batch, count, spec_.model.context);
  std::vector<int64_t> indices(count);
  for (int row = 0; row < count; ++row) {
    batch.sources[row] = source;
    indices[row] = first + row;
  }
  fill_rows(indices, true, batch);
}

void DataSchedule::probe_batch(int64_t probe_step, Batch& batch) const {
  if (probe_source_ < 0) throw std::logic_error("probe_batch: the run's probe has no source");
  shape_batch(batch, sequences_per_batch_, spec_.model.context);
  std::vector<int64_t> indices(sequences_per_batch_);
  for (int row = 0; row < sequences_per_batch_; ++row) {
    batch.sources[row] = probe_source_;
    indices[row] = probe_step * sequences_per_batch_ + row;
  }
  fill_rows(indices, false, batch);
}

void DataSchedule::probe_eval_batch(Batch& batch) const {
  if (probe_source_ < 0) throw std::logic_error("probe_eval_batch: the run's probe has no source");
  validation_batch(probe_source_, 0, spec_.probe.eval_sequences, batch);
}

void DataSchedule::diagnostics_batch(Batch& batch) const {
  const int source = probe_source_ >= 0 ? probe_source_ : training_sources_.front();
  validation_batch(source, 0, spec_.diagnostics.sample_sequences, batch);
}

}  // namespace plascale
