#include "worker/trainer.h"

#include <fmt/core.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <vector>

#include "storage/checkpoint.h"
#include "storage/run_file.h"
#include "sweeps/errors.h"
#include "worker/backend.h"
#include "worker/data/schedule.h"
#include "worker/diagnostics/attention_entropy.h"
#include "worker/diagnostics/dormant_units.h"
#include "worker/diagnostics/effective_rank.h"
#include "worker/lr_schedule.h"
#include "worker/mitigations/mitigations.h"
#include "worker/probe.h"
#include "worker/rng.h"
#include "worker/signals.h"
#include "worker/train_step.h"

namespace plascale {
namespace {

namespace fs = std::filesystem;

// True when counting up from `before` to `after` passes a positive multiple of `every`.
bool crosses_multiple(int64_t before, int64_t after, int64_t every) {
  return every > 0 && after / every > before / every;
}

// Adds the wall time of its scope to `seconds`.
class ScopeTimer {
 public:
  explicit ScopeTimer(double& seconds) : seconds_(seconds), start_(std::chrono::steady_clock::now()) {}
  ~ScopeTimer() { seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  ScopeTimer(const ScopeTimer&) = delete;
  ScopeTimer& operator=(const ScopeTimer&) = delete;

 private:
  double& seconds_;
  std::chrono::steady_clock::time_point start_;
};


class Trainer {
 public:
  Trainer(const RunSpec& spec, const TrainOptions& options)
      : spec_(spec),
        options_(options),
        mitigations_(spec),
        training_(mitigations_.training(spec.training)),
        data_(spec),
        backend_options_{spec.training.backend, options.threads},
        model_(make_backend(spec.model, backend_options_)),
        checkpoint_dir_(options.out_dir / "ckpt"),
        run_path_(options.out_dir / "run.h5") {
    if (spec_.id.empty()) spec_.id = run_id(spec_);
    if (spec_.probe.enabled && data_.probe_source() >= 0) {
      prober_.emplace(spec_, data_, backend_options_);
    }
    for (int source : data_.training_sources()) validation_sources_.push_back(source);
    if (data_.probe_source() >= 0) validation_sources_.push_back(data_.probe_source());
    for (int source : validation_sources_) validation_names_.push_back(spec_.sources[source].name);
    for (const auto& tensor : model_->layout().tensors) tensor_names_.push_back(tensor.name);
  }

  TrainResult run() {
    result_.resumed = resume_or_start();
    const int64_t total_steps = data_.total_steps();
    while (step_ < total_steps) {
      if (int signal = stop_requested(); signal >= 0) {
        save_checkpoint();
        event(fmt::format("stopped at {} tokens{}; checkpoint written, run again to continue", tokens(),
                          signal > 0 ? fmt::format(" by signal {}", signal) : std::string()));
        return finish(TrainOutcome::stopped, signal);
      }
      const int64_t tokens_before = tokens();
      if (!take_step()) {
        append_row(/*diverged=*/true);
        event(fmt::format("diverged at step {} ({} tokens): loss {}", step_, tokens(), last_loss_));
        return finish(TrainOutcome::diverged, 0);
      }
      if (options_.on_progress) {
        options_.on_progress({step_, total_steps, tokens(), total_steps * spec_.training.batch_tokens,
                              start_tokens_, last_loss_});
      }
      const bool probe_due = probe_point(tokens_before);
      if (probe_due || step_ == total_steps ||
          crosses_multiple(tokens_before, tokens(), spec_.diagnostics.every_tokens)) {
        append_row(false);
      }
      if (probe_due) run_probe();
      if (step_ == total_steps || crosses_multiple(tokens_before, tokens(), spec_.checkpoint_every_tokens)) {
        save_checkpoint();
      }
    }
    return finish(TrainOutcome::completed, 0);
  }

 private:
  int64_t tokens() const { return step_ * spec_.training.batch_tokens; }

  void event(const std::string& text) const {
    if (options_.on_event) options_.on_event(text);
  }

  // The signal number, 0 for the test hook, -1 to keep going.
  int stop_requested() const {
    if (int signal = stop_signal_received(); signal != 0) return signal;
    if (options_.stop_after_tokens > 0 && tokens() >= options_.stop_after_tokens && step_ > start_step_) return 0;
    return -1;
  }

  TrainResult finish(TrainOutcome outcome, int signal) {
    writer_->flush();
    result_.outcome = outcome;
    result_.steps = step_;
    result_.tokens = tokens();
    result_.stop_signal = signal;
    return result_;
  }

  void append_row(bool diverged) {
    ScopeTimer timer(result_.diagnostics_seconds);
    writer_->append(measure(diverged));
    ++result_.rows;
  }

  // Returns true when continuing from a checkpoint.
  bool resume_or_start() {
    if (auto checkpoint = read_latest_checkpoint(checkpoint_dir_)) {
      if (mitigations_.needs_initial_parameters()) {
        model_->init_parameters(derive_seed(spec_.seed, "init"));
        mitigations_.on_initialised(*model_);
      }
      restore(*checkpoint);
      if (!fs::exists(run_path_)) {
        throw InputError(fmt::format("{}: missing, but {} holds checkpoints of this run; delete {} to start over",
                                     run_path_.string(), checkpoint_dir_.string(), checkpoint_dir_.string()));
      }
      writer_.emplace(RunFileWriter::open(run_path_));
      writer_->truncate_after_tokens(tokens());
      start_step_ = step_;
      start_tokens_ = tokens();
      event(fmt::format("resuming from the checkpoint at {} tokens (step {})", tokens(), step_));
      return true;
    }
    model_->init_parameters(derive_seed(spec_.seed, "init"));
    mitigations_.on_initialised(*model_);
    // A run.h5 without a checkpoint is from an attempt that stopped before its first
    // checkpoint: starting over recomputes its rows identically.
    fs::remove(run_path_);
    writer_.emplace(RunFileWriter::create(run_path_, run_attributes(spec_, RunStatus::running, options_.spec_yaml)));
    append_row(false);
    if (prober_ && spec_.probe.at_start) run_probe();
    if (prober_ && spec_.probe.scratch_baseline && options_.run_probes) {
      ScopeTimer timer(result_.probe_seconds);
      ProbeResult scratch = prober_->scratch_baseline();
      ++result_.probes;
      writer_->set_scratch_baseline(scratch.auc, scratch.curve);
      event(fmt::format("scratch baseline probe: AUC {:.6g}", scratch.auc));
    }
    writer_->flush();
    return false;
  }

  // One optimizer step; false when the loss or gradient is not finite.
  bool take_step() {
    ScopeTimer timer(result_.train_seconds);
    const Task& task = data_.task_at(step_);
    const bool per_task = spec_.schedule.kind == ScheduleKind::continual && spec_.schedule.reset_optimizer;
    if (per_task && step_ == task.first_step && step_ > 0) {
      model_->reset_optimizer();
      optimizer_step_ = 0;
    }
    const int64_t phase_step = per_task ? step_ - task.first_step : step_;
    const int64_t phase_steps = per_task ? task.steps : data_.total_steps();
    last_lr_ = learning_rate(training_, phase_step, phase_steps);
    data_.next_batch(batch_);
    const StepExtras extras = mitigations_.before_step(step_, tokens());
    StepResult stepped = train_step(*model_, batch_, training_, last_lr_, optimizer_step_ + 1, extras);
    ++step_;
    last_loss_ = stepped.loss;
    last_grad_norm_ = stepped.grad_norm;
    if (!std::isfinite(stepped.loss) || !std::isfinite(stepped.grad_norm)) return false;
    mitigations_.after_step(*model_, stepped, step_);
    ++optimizer_step_;
    train_loss_sum_ += stepped.loss;
    ++train_loss_steps_;
    return true;
  }

  // Is the point reached by the step just taken (from tokens_before) a probe point?
  bool probe_point(int64_t tokens_before) const {
    if (!prober_) return false;
    if (crosses_multiple(tokens_before, tokens(), spec_.probe.every_tokens)) return true;
    if (spec_.probe.every_tasks > 0 && spec_.schedule.kind == ScheduleKind::continual) {
      const Task& task = data_.task_at(step_ - 1);
      const bool task_ends = step_ == task.first_step + task.steps || step_ == data_.total_steps();
      return task_ends && (task.index + 1) % spec_.probe.every_tasks == 0;
    }
    return false;
  }

  void run_probe() {
    if (!options_.run_probes) return;
    ScopeTimer timer(result_.probe_seconds);
    ProbeResult probed = prober_->probe(*model_);
    ++result_.probes;
    writer_->append_probe(tokens(), probed.auc, probed.curve, probe_curve_steps(spec_.probe));
    event(fmt::format("probe at {} tokens: AUC {:.6g}{}", tokens(), probed.auc,
                      probed.diverged ? " (the probe copy diverged)" : ""));
  }

  TrajectoryRow measure(bool diverged) {
    TrajectoryRow row;
    row.step = step_;
    row.tokens = tokens();
    if (step_ > 0) {
      row.scalars["lr"] = last_lr_;
      row.scalars["grad_norm"] = last_grad_norm_;
      row.scalars["train_loss"] =
          diverged ? last_loss_
                   : (train_loss_steps_ > 0 ? train_loss_sum_ / static_cast<double>(train_loss_steps_)
                                            : std::numeric_limits<double>::quiet_NaN());
      train_loss_sum_ = 0;
      train_loss_steps_ = 0;
    }
    mitigations_.add_counters(row);
    if (diverged) return row;  // the other metrics of a diverged model are meaningless

    VectorMetric val_loss{{}, validation_names_};
    for (int source : validation_sources_) {
      data_.validation_batch(source, 0, data_.validation_sequences(), eval_batch_);
      val_loss.values.push_back(mean_loss(*model_, eval_batch_));
    }
    row.vectors["val_loss"] = std::move(val_loss);

    ParameterStats stats = model_->parameter_stats();
    row.scalars["param_abs_mean"] = stats.nonembedding_abs_mean;
    row.vectors["tensor_norm"] = VectorMetric{stats.tensor_l2, tensor_names_};

    data_.diagnostics_batch(eval_batch_);
    model_->capture(eval_batch_.view(), CaptureOptions{}, capture_);
    const ModelConfig& model = spec_.model;
    const int query_end = spec_.diagnostics.entropy_query_end > 0
                              ? std::min(spec_.diagnostics.entropy_query_end, capture_.seq_len)
                              : capture_.seq_len;
    const int query_begin = std::min(spec_.diagnostics.entropy_query_begin, query_end - 1);
    const double max_entropy = max_attention_entropy(query_begin, query_end);
    VectorMetric dormant, zero_units, erank;
    MatrixMetric entropy{model.layers, model.heads, {}};
    int lazy = 0, collapsed = 0;
    for (const LayerCapture& layer : capture_.layers) {
      dormant.values.push_back(dormant_fraction(layer.mlp_abs_mean, spec_.diagnostics.dormant_threshold));
      zero_units.values.push_back(zero_unit_fraction(layer.mlp_zero_tokens, capture_.tokens));
      std::vector<double> heads =
          head_entropies(layer.attention_entropy, model.heads, capture_.seq_len, query_begin, query_end);
      HeadCounts counts = classify_heads(heads, max_entropy, spec_.diagnostics.lazy_fraction,
                                         spec_.diagnostics.collapsed_fraction);
      lazy += counts.lazy;
      collapsed += counts.collapsed;
      entropy.values.insert(entropy.values.end(), heads.begin(), heads.end());
      erank.values.push_back(effective_rank(layer.residual, capture_.residual_rows, model.d_model));
    }
    row.vectors["dormant_fraction"] = std::move(dormant);
    row.vectors["zero_unit_fraction"] = std::move(zero_units);
    row.vectors["effective_rank"] = std::move(erank);
    row.matrices["attn_entropy"] = std::move(entropy);
    row.scalars["attn_entropy_max"] = max_entropy;
    row.scalars["lazy_heads"] = lazy;
    row.scalars["collapsed_heads"] = collapsed;
    return row;
  }

  void save_checkpoint() {
    ScopeTimer timer(result_.checkpoint_seconds);
    writer_->flush();  // the run file holds every row the checkpoint's tokens imply
    const int64_t total = model_->layout().total;
    Checkpoint checkpoint;
    checkpoint.run_id = spec_.id;
    checkpoint.tokens = tokens();
    for (auto [name, kind] : {std::pair{"params", BufferKind::parameters}, std::pair{"adam_m", BufferKind::adam_m},
                              std::pair{"adam_v", BufferKind::adam_v}}) {
      std::vector<float>& values = checkpoint.floats[name];
      values.resize(total);
      model_->read_buffer(kind, 0, values);
    }
    checkpoint.integers["step"] = {step_};
    checkpoint.integers["optimizer_step"] = {optimizer_step_};
    checkpoint.integers["train_loss_steps"] = {train_loss_steps_};
    checkpoint.integers["data_position"] = data_.position().to_integers();
    checkpoint.words["train_loss_sum"] = {std::bit_cast<uint64_t>(train_loss_sum_)};
    mitigations_.save(checkpoint);
    const fs::path path = write_checkpoint(checkpoint_dir_, checkpoint);
    ++result_.checkpoints;
    event(fmt::format("checkpoint {}", path.string()));
  }

  void restore(const Checkpoint& checkpoint) {
    const std::string file = fmt::format("{}/ckpt-{}.h5", checkpoint_dir_.string(), checkpoint.tokens);
    if (checkpoint.run_id != spec_.id) {
      throw InputError(fmt::format("{}: a checkpoint of run {}, not of run {}; use another --out directory", file,
                                   checkpoint.run_id, spec_.id));
    }
    auto floats = [&](const char* name) -> const std::vector<float>& {
      auto found = checkpoint.floats.find(name);
      if (found == checkpoint.floats.end() || static_cast<int64_t>(found->second.size()) != model_->layout().total) {
        throw InputError(fmt::format("{}: floats/{} missing or not {} values (the model's parameter count)", file,
                                     name, model_->layout().total));
      }
      return found->second;
    };
    auto integer = [&](const char* name) -> const std::vector<int64_t>& {
      auto found = checkpoint.integers.find(name);
      if (found == checkpoint.integers.end() || found->second.empty()) {
        throw InputError(fmt::format("{}: integers/{} missing", file, name));
      }
      return found->second;
    };
    auto word = checkpoint.words.find("train_loss_sum");
    if (word == checkpoint.words.end() || word->second.size() != 1) {
      throw InputError(fmt::format("{}: words/train_loss_sum missing", file));
    }
    model_->write_buffer(BufferKind::parameters, 0, floats("params"));
    model_->write_buffer(BufferKind::adam_m, 0, floats("adam_m"));
    model_->write_buffer(BufferKind::adam_v, 0, floats("adam_v"));
    model_->zero_gradients();
    step_ = integer("step")[0];
    optimizer_step_ = integer("optimizer_step")[0];
    train_loss_steps_ = integer("train_loss_steps")[0];
    train_loss_sum_ = std::bit_cast<double>(word->second[0]);
    data_.restore(DataPosition::from_integers(integer("data_position")));
    mitigations_.restore(checkpoint, file);
    if (data_.position().step != step_ || step_ > data_.total_steps() || checkpoint.tokens != tokens()) {
      throw InputError(fmt::format("{}: step {} does not match its data position or token count", file, step_));
    }
  }

  RunSpec spec_;
  TrainOptions options_;
  Mitigations mitigations_;
  TrainingConfig training_;  // the main run's: spec_.training with the mitigations' overrides
  DataSchedule data_;
  BackendOptions backend_options_;
  std::unique_ptr<ModelBackend> model_;
  std::optional<Prober> prober_;
  std::optional<RunFileWriter> writer_;
  fs::path checkpoint_dir_;
  fs::path run_path_;

  std::vector<int> validation_sources_;  // training sources, then the probe source
  std::vector<std::string> validation_names_;
  std::vector<std::string> tensor_names_;

  // Trainer state; everything here that a resumed run needs is in the checkpoint.
  int64_t step_ = 0;
  int64_t optimizer_step_ = 0;  // AdamW updates since the last optimizer reset
  double train_loss_sum_ = 0;   // over the steps since the last row
  int64_t train_loss_steps_ = 0;
  int64_t start_step_ = 0;
  int64_t start_tokens_ = 0;
  double last_lr_ = 0;
  double last_loss_ = 0;
  double last_grad_norm_ = 0;

  TrainResult result_;
  Batch batch_;
  Batch eval_batch_;
  Capture capture_;
};

}  // namespace

TrainResult train_run(const RunSpec& spec, const TrainOptions& options) {
  install_stop_signal_handlers();  // before opening data, so an early SIGTERM is not fatal
  return Trainer(spec, options).run();
}

}  // namespace plascale
