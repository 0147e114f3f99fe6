// `plascale train RUNSPEC.yaml --out DIR` or `plascale train --run ID (--sweep SWEEP.yaml |
// --default) [--out DIR]`: trains one run alone (worker/trainer.h), continuing from DIR's
// checkpoint if it has one. Exit codes (docs/cli.md): 0 done, 2 bad input, 3 stopped by
// SIGTERM/SIGUSR1 after checkpointing (run the same command again), 4 diverged.
//
// A run taken from a sweep without --out trains into the sweep's study, STUDY/runs/<id>, and
// is recorded in STUDY/study.h5 (registered, its status kept, merged when done) so that
// `plascale status` and `plascale fit` see it. This process is then study.h5's writer for the
// moments it updates it: train such runs one after another, not side by side.

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "app/commands.h"
#include "orchestrator/progress_channel.h"
#include "storage/layout.h"
#include "storage/study.h"
#include "sweeps/errors.h"
#include "sweeps/expand.h"
#include "sweeps/runspec_yaml.h"
#include "sweeps/spec_reader.h"
#include "sweeps/sweep.h"
#include "worker/trainer.h"

namespace plascale {

namespace {

struct TrainCommandOptions {
  std::string runspec_path;
  std::string run;
  std::string sweep_path;
  bool use_default = false;
  std::string out;
  int threads = 0;
  int64_t stop_after_tokens = 0;
  int progress_fd = -1;    // the supervisor's pipe (orchestrator/progress_channel.h), -1 = none
  bool dry_train = false;  // dispatch benchmark: exit 0 at once
};

// The run's spec and where it trains.
struct ChosenRun {
  RunSpec spec;
  std::filesystem::path out_dir;
  std::filesystem::path study_dir;  // set when the run is recorded in its sweep's study
  std::string sweep_yaml;           // that sweep's text, to create the study
};

std::string near_ids(const std::vector<RunSpec>& runs, const std::string& id) {
  std::vector<std::pair<int, std::string>> by_distance;
  for (const RunSpec& run : runs) by_distance.emplace_back(edit_distance(id, run.id), run.id);
  std::sort(by_distance.begin(), by_distance.end());
  std::vector<std::string> nearest;
  for (size_t index = 0; index < std::min<size_t>(5, by_distance.size()); ++index) {
    nearest.push_back(by_distance[index].second);
  }
  return join(nearest);
}

ChosenRun choose_run(const TrainCommandOptions& options) {
  const bool from_sweep = !options.sweep_path.empty() || options.use_default;
  if (!options.runspec_path.empty()) {
    if (from_sweep || !options.run.empty()) {
      throw InputError("train: give either a RunSpec file or --run ID with --sweep/--default, not both");
    }
    if (options.out.empty()) throw InputError("train: --out DIR is required with a RunSpec file");
    return {load_runspec(options.runspec_path), options.out, {}, {}};
  }
  if (options.run.empty() || !from_sweep || (!options.sweep_path.empty() && options.use_default)) {
    throw InputError("train: give a RunSpec file, or --run ID with exactly one of --sweep SWEEP.yaml and --default");
  }
  Sweep sweep = options.use_default ? load_default_sweep() : load_sweep(options.sweep_path);
  std::vector<RunSpec> runs = expand_sweep(sweep);
  auto found = std::find_if(runs.begin(), runs.end(), [&](const RunSpec& run) { return run.id == options.run; });
  if (found == runs.end()) {
    throw InputError(fmt::format("--run: no run '{}' in sweep '{}' ({} runs; nearest ids: {}); "
                                 "`plascale plan` lists them",
                                 options.run, sweep.name, runs.size(), near_ids(runs, options.run)));
  }
  if (!options.out.empty()) return {*found, options.out, {}, {}};
  return {*found, run_dir_path(sweep.output_study, found->id), sweep.output_study, sweep.text};
}

std::string clock_text(double seconds) {
  const auto total = static_cast<int64_t>(std::max(0.0, seconds) + 0.5);
  return fmt::format("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60);
}

// A \r-updated line on a terminal, a plain line every kLogEverySeconds otherwise.
class ProgressDisplay {
 public:
  explicit ProgressDisplay(bool terminal) : terminal_(terminal), start_(Clock::now()), last_(start_) {}

  void update(const TrainProgress& progress) {
    const auto now = Clock::now();
    const bool last_step = progress.step == progress.total_steps;
    const double since = std::chrono::duration<double>(now - last_).count();
    if (!last_step && since < (terminal_ ? kRedrawSeconds : kLogEverySeconds)) return;
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = static_cast<double>(progress.tokens - progress.start_tokens) / std::max(elapsed, 1e-9);
    const double eta = rate > 0 ? static_cast<double>(progress.total_tokens - progress.tokens) / rate : 0;
    std::string line = fmt::format("tokens {}/{} ({:.1f}%)  {:.0f} tokens/s  loss {:.4f}  ETA {}", progress.tokens,
                                   progress.total_tokens,
                                   100.0 * static_cast<double>(progress.tokens) /
                                       static_cast<double>(std::max<int64_t>(progress.total_tokens, 1)),
                                   rate, progress.loss, clock_text(eta));
    if (terminal_) {
      fmt::print("\r\033[K{}", line);
      drawn_ = true;
    } else {
      fmt::print("{}\n", line);
    }
    std::fflush(stdout);
  }

  void event(const std::string& text) {
    fmt::print("{}{}\n", terminal_ && drawn_ ? "\r\033[K" : "", text);
    drawn_ = false;
    std::fflush(stdout);
  }

  void finish() {
    if (terminal_ && drawn_) fmt::print("\n");
    drawn_ = false;
    std::fflush(stdout);
  }

  double elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr double kRedrawSeconds = 0.1;
  static constexpr double kLogEverySeconds = 10.0;
  bool terminal_;
  bool drawn_ = false;
  Clock::time_point start_;
  Clock::time_point last_;
};

// The run's entry in study.h5, kept by this process when no coordinator runs the study.
class StudyRecord {
 public:
  StudyRecord(const ChosenRun& chosen, const std::string& spec_yaml) : chosen_(chosen) {
    if (chosen.study_dir.empty()) return;
    if (!std::filesystem::exists(study_file_path(chosen.study_dir))) {
      StudyWriter::create(chosen.study_dir, chosen.sweep_yaml, sweep_hash(chosen.sweep_yaml));
    } else {
      StudyReader study(chosen.study_dir);
      if (study.has_run(chosen.spec.id)) attempts_ = study.run(chosen.spec.id).attributes.attempts;
    }
    ++attempts_;
    StudyWriter study = StudyWriter::open(chosen.study_dir);
    study.register_run(run_attributes(chosen.spec, RunStatus::running, spec_yaml));
    study.set_status(chosen.spec.id, RunStatus::running, attempts_);
  }

  void finish(RunStatus status, const std::string& error = "") {
    if (chosen_.study_dir.empty()) return;
    StudyWriter study = StudyWriter::open(chosen_.study_dir);
    study.set_status(chosen_.spec.id, status, attempts_, error);
    if (status == RunStatus::done) study.merge_run(chosen_.spec.id);
  }

 private:
  const ChosenRun& chosen_;
  int64_t attempts_ = 0;
};

// Progress lines for the supervising worker rank: its heartbeat and the sweep's display.
class ProgressChannel {
 public:
  explicit ProgressChannel(int fd) : fd_(fd) {}

  void progress(const TrainProgress& progress) {
    if (fd_ < 0) return;
    const auto now = std::chrono::steady_clock::now();
    if (progress.step != progress.total_steps && now - last_ < std::chrono::duration<double>(kProgressSeconds)) return;
    last_ = now;
    write_all(progress_line({progress.tokens, progress.total_tokens, progress.loss}));
  }
  void event(const std::string& text) {
    if (fd_ >= 0) write_all(event_line(text));
  }

 private:
  // A supervisor that is gone makes this write raise SIGPIPE, which ends the run like a kill:
  // it resumes from its last checkpoint under the next supervisor.
  void write_all(const std::string& line) {
    for (size_t written = 0; written < line.size();) {
      const ssize_t count = ::write(fd_, line.data() + written, line.size() - written);
      if (count < 0 && errno == EINTR) continue;
      if (count < 0) throw std::runtime_error(fmt::format("--progress-fd {}: {}", fd_, std::strerror(errno)));
      written += static_cast<size_t>(count);
    }
  }
  int fd_;
  std::chrono::steady_clock::time_point last_{};
};

int train(const TrainCommandOptions& options) {
  if (options.dry_train) {
    ProgressChannel(options.progress_fd).event("dry train");
    return kExitOk;
  }
  ChosenRun chosen = choose_run(options);
  ProgressChannel channel(options.progress_fd);
  ProgressDisplay display(::isatty(STDOUT_FILENO) != 0);
  TrainOptions train_options;
  train_options.out_dir = chosen.out_dir;
  train_options.spec_yaml = runspec_to_yaml(chosen.spec);
  train_options.threads = options.threads;
  train_options.stop_after_tokens = options.stop_after_tokens;
  train_options.on_progress = [&](const TrainProgress& progress) {
    display.update(progress);
    channel.progress(progress);
  };
  train_options.on_event = [&](const std::string& text) {
    display.event(text);
    channel.event(text);
  };
  display.event(fmt::format("run {} ({} layers, d_model {}, {} tokens) into {}", chosen.spec.id,
                            chosen.spec.model.layers, chosen.spec.model.d_model, chosen.spec.token_budget,
                            chosen.out_dir.string()));
  StudyRecord record(chosen, train_options.spec_yaml);
  TrainResult result;
  try {
    result = train_run(chosen.spec, train_options);
  } catch (const std::exception& error) {
    record.finish(RunStatus::failed, error.what());
    throw;
  }
  display.finish();
  switch (result.outcome) {
    case TrainOutcome::completed:
      display.event(fmt::format("done: {} tokens, {} steps, {:.1f} s (training {:.1f} s, diagnostics {:.1f} s, "
                                "probes {:.1f} s, checkpoints {:.1f} s); {}",
                                result.tokens, result.steps, display.elapsed(), result.train_seconds,
                                result.diagnostics_seconds, result.probe_seconds, result.checkpoint_seconds,
                                (chosen.out_dir / "run.h5").string()));
      record.finish(RunStatus::done);
      return kExitOk;
    case TrainOutcome::stopped:
      record.finish(RunStatus::pending);
      return kExitResubmit;
    case TrainOutcome::diverged:
      record.finish(RunStatus::diverged, "loss became NaN or infinite");
      return kExitDiverged;
  }
  return kExitFailure;
}

}  // namespace

void register_train(CLI::App& app, CommandResult& result) {
  auto options = std::make_shared<TrainCommandOptions>();
  CLI::App* command = app.add_subcommand(
      "train", "Train one run alone (continues from the checkpoint in --out if there is one)");
  command->add_option("runspec", options->runspec_path, "RunSpec YAML file (docs/sweep-spec.md)");
  command->add_option("--run", options->run, "Run id of a sweep's run (see `plascale plan`)");
  command->add_option("--sweep", options->sweep_path, "Sweep YAML file holding --run");
  command->add_flag("--default", options->use_default, "Take --run from the built-in example sweep");
  command->add_option("--out", options->out,
                      "Run directory for run.h5 and ckpt/ (default with a sweep: STUDY/runs/<id>)");
  command->add_option("--threads", options->threads, "CPU threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  command->add_option("--stop-after-tokens", options->stop_after_tokens,
                      "Stop as SIGTERM would once this many tokens are trained: checkpoint, exit 3 (0 = never)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--progress-fd", options->progress_fd,
                      "Write progress lines to this open file descriptor (the orchestrator's heartbeat)")
      ->check(CLI::NonNegativeNumber);
  command->add_flag("--dry-train", options->dry_train,
                    "Dispatch benchmark only: train nothing, exit 0 at once");
  command->callback([&result, options] { result.run = [options] { return train(*options); }; });
}

}  // namespace plascale
