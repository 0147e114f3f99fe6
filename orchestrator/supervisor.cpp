#include "orchestrator/supervisor.h"

#include <fmt/format.h>
#include <signal.h>

#include <algorithm>
#include <fstream>

#include "orchestrator/progress_channel.h"
#include "orchestrator/run_files.h"
#include "sweeps/errors.h"

namespace plascale {

namespace {

// The last non-empty line of the child's log: its `plascale: error: ...` when it reported one.
std::string last_log_line(const std::filesystem::path& log_file) {
  constexpr std::streamoff kTail = 4096;
  std::ifstream in(log_file, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(std::max<std::streamoff>(0, size - kTail));
  std::string tail((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r' || tail.back() == ' ')) tail.pop_back();
  const size_t newline = tail.rfind('\n');
  std::string line = newline == std::string::npos ? tail : tail.substr(newline + 1);
  const size_t carriage = line.rfind('\r');  // a progress line redrawn in place
  return carriage == std::string::npos ? line : line.substr(carriage + 1);
}

std::string visible_devices(const std::vector<int>& gpus, const std::vector<std::string>& devices) {
  std::vector<std::string> names;
  for (int gpu : gpus) names.push_back(devices.at(static_cast<size_t>(gpu)));
  return fmt::format("{}", fmt::join(names, ","));
}

}  // namespace

Supervisor::Supervisor(SupervisorOptions options) : options_(std::move(options)) {}

WorkerOffer Supervisor::offer() const {
  WorkerOffer offer;
  offer.worker = options_.worker;
  offer.node = options_.node;
  // One CPU run at a time, also beside GPU runs on a GPU worker (CPU runs must not wait
  // forever on nodes whose ranks see GPUs).
  offer.cpu_slot_free = std::none_of(children_.begin(), children_.end(),
                                     [](const Running& run) { return run.order.assignment.gpus.empty(); });
  for (int gpu : options_.gpus) {
    const bool used = std::any_of(children_.begin(), children_.end(), [&](const Running& run) {
      const auto& taken = run.order.assignment.gpus;
      return std::find(taken.begin(), taken.end(), gpu) != taken.end();
    });
    if (!used) offer.free_gpus.push_back(gpu);
  }
  return offer;
}

bool Supervisor::has_capacity() const {
  const WorkerOffer now = offer();
  return now.cpu_slot_free || !now.free_gpus.empty();
}

ChildSpec Supervisor::child_spec(const RunOrder& order) const {
  const std::string& run_id = order.assignment.run_id;
  const int threads = order.threads > 0 ? order.threads : options_.threads;
  ChildSpec spec;
  spec.argv = {options_.plascale.string(), "train"};
  if (options_.dry_train == DryTrain::spawn) {
    spec.argv.push_back("--dry-train");
  } else {
    const RunPaths paths = run_paths(options_.study_dir, run_id);
    spec.argv.insert(spec.argv.end(), {paths.spec.string(), "--out", paths.dir.string()});
    spec.log_file = paths.log;
  }
  spec.argv.insert(spec.argv.end(), {"--threads", std::to_string(threads), "--progress-fd",
                                     std::to_string(ChildProcess::kProgressFd)});
  // Passive OpenMP waiting: children share cores with each other and with the ranks, and
  // spinning threads would make them many times slower.
  spec.environment = {"OMP_WAIT_POLICY=passive", "CUDA_VISIBLE_DEVICES=" + visible_devices(order.assignment.gpus, options_.devices)};
  return spec;
}

void Supervisor::start(const RunOrder& order, double now_seconds) {
  if (options_.dry_train == DryTrain::inline_) {
    RunReport report;
    report.run_id = order.assignment.run_id;
    report.worker = options_.worker;
    report.end = RunEnd::completed;
    report.exit_code = 0;
    finished_.push_back(std::move(report));
    return;
  }
  try {
    children_.push_back(Running{order, ChildProcess(child_spec(order)), now_seconds});
  } catch (const std::exception& error) {
    RunReport report;
    report.run_id = order.assignment.run_id;
    report.worker = options_.worker;
    report.end = RunEnd::failed;
    report.error = error.what();
    finished_.push_back(std::move(report));
  }
}

RunReport Supervisor::report_end(const Running& run, const ChildExit& exit) const {
  RunReport report;
  report.run_id = run.order.assignment.run_id;
  report.worker = options_.worker;
  report.exit_code = exit.exit_code;
  report.signal = exit.signal;
  report.tokens = run.tokens;
  if (exit.exit_code == kExitOk) {
    report.end = RunEnd::completed;
  } else if (exit.exit_code == kExitDiverged) {
    report.end = RunEnd::diverged;
    report.error = "loss became NaN or infinite";
  } else if (exit.exit_code == kExitResubmit || exit.signal == SIGINT || (run.stopping && !run.stalled)) {
    // Checkpointed on SIGTERM (ours or the batch system's), interrupted from the terminal, or
    // killed after the stop deadline: it continues from its last checkpoint, and that costs
    // it no attempt.
    report.end = RunEnd::stopped;
  } else {
    report.end = RunEnd::failed;
    if (run.stalled) {
      report.error = fmt::format("stalled: no progress for {} s; killed", options_.stall_timeout_seconds);
    } else {
      const std::string line = options_.dry_train == DryTrain::off
                                   ? last_log_line(run_paths(options_.study_dir, report.run_id).log)
                                   : std::string();
      report.error = describe_exit(exit) + (line.empty() ? "" : ": " + line);
      if (exit.exit_code == kExitBadInput) report.end = RunEnd::rejected;
    }
  }
  return report;
}

void Supervisor::poll(double now_seconds, std::vector<ProgressReport>& progress, std::vector<RunReport>& ended) {
  for (RunReport& report : finished_) ended.push_back(std::move(report));
  finished_.clear();
  for (auto run = children_.begin(); run != children_.end();) {
    std::optional<ChildProgress> latest;
    for (const std::string& line : run->child.read_lines()) {
      run->last_heard = now_seconds;
      if (auto parsed = parse_progress_line(line)) latest = parsed;
    }
    if (latest) {
      run->tokens = latest->tokens;
      progress.push_back({run->order.assignment.run_id, options_.worker, latest->tokens, latest->total_tokens,
                          latest->loss});
    }
    if (std::optional<ChildExit> exit = run->child.try_wait()) {
      // Lines written just before the exit are read above or lost with the pipe: the run
      // file, not the progress channel, is the record.
      ended.push_back(report_end(*run, *exit));
      run = children_.erase(run);
      continue;
    }
    if (run->stopping && now_seconds >= run->kill_at) {
      run->child.send_signal(SIGKILL);
    } else if (!run->stopping && !run->stalled && now_seconds - run->last_heard > options_.stall_timeout_seconds) {
      run->stalled = true;
      run->child.send_signal(SIGKILL);
    }
    ++run;
  }
}

void Supervisor::stop_all(double now_seconds) {
  for (Running& run : children_) {
    if (run.stopping) continue;
    run.stopping = true;
    run.kill_at = now_seconds + options_.stop_deadline_seconds;
    run.child.send_signal(SIGTERM);
  }
}

}  // namespace plascale
