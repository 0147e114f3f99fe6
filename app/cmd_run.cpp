// `plascale run SWEEP.yaml | --default [--study DIR] [options]`: executes a whole sweep, alone
// or under mpirun/srun (orchestrator/run.h, docs/orchestrator.md). Exit codes (docs/cli.md):
// 0 every run done or diverged, 1 some run failed every attempt, 2 bad input, 3 stopped by
// SIGTERM/SIGUSR1: run the same command again to continue.

#include <fmt/core.h>

#include <cmath>
#include <memory>
#include <string>

#include "app/commands.h"
#include "orchestrator/run.h"
#include "sweeps/errors.h"

namespace plascale {

namespace {

// "--stall-timeout: 0 is not allowed; allowed: a number > 0" rather than CLI11's range of
// the whole double type.
CLI::Validator number_above(double minimum, bool inclusive) {
  const std::string allowed = fmt::format("a number {} {}", inclusive ? ">=" : ">", minimum);
  return CLI::Validator(
      [=](std::string& text) {
        double value = 0;
        const bool number = CLI::detail::lexical_cast(text, value) && std::isfinite(value);
        if (number && (inclusive ? value >= minimum : value > minimum)) return std::string();
        return fmt::format("{} is not allowed; allowed: {}", text, allowed);
      },
      allowed);
}

struct RunCommandOptions {
  RunSweepOptions sweep;
  std::string dry_train = "off";
  std::string display = "auto";
};

int run(RunCommandOptions& options) {
  if (options.sweep.sweep_path.empty() == !options.sweep.use_default) {
    throw InputError("run: give exactly one of SWEEP.yaml and --default");
  }
  options.sweep.dry_train = options.dry_train == "spawn"    ? DryTrain::spawn
                            : options.dry_train == "inline" ? DryTrain::inline_
                                                            : DryTrain::off;
  options.sweep.display = options.display == "live"    ? DisplayMode::live
                          : options.display == "lines" ? DisplayMode::lines
                                                       : DisplayMode::automatic;
  // Children run this very binary, wherever it was started from.
  options.sweep.plascale = std::filesystem::read_symlink("/proc/self/exe");
  return run_sweep(options.sweep);
}

}  // namespace

void register_run(CLI::App& app, CommandResult& result) {
  auto options = std::make_shared<RunCommandOptions>();
  RunSweepOptions& sweep = options->sweep;
  CLI::App* command = app.add_subcommand(
      "run", "Execute a sweep into its study, alone or under mpirun/srun (resumes an existing study)");
  command->add_option("sweep", sweep.sweep_path, "Sweep YAML file");
  command->add_flag("--default", sweep.use_default, "Run the built-in example sweep");
  command->add_option("--study", sweep.study_dir, "Study folder (default: the sweep's output.study)");
  command->add_option("--threads", sweep.threads,
                      "CPU threads per child (0 = the run's resources.cpus, else the rank's share of its node's cores)")
      ->check(number_above(0, true))
      ->capture_default_str();
  command->add_option("--max-attempts", sweep.scheduling.max_attempts, "Attempts a crashing run gets")
      ->check(number_above(1, true))
      ->capture_default_str();
  command->add_option("--backoff", sweep.scheduling.backoff_seconds, "Seconds before retry k: BACKOFF x 2^(k-1)")
      ->check(number_above(0, true))
      ->capture_default_str();
  command->add_option("--stall-timeout", sweep.stall_timeout_seconds,
                      "Seconds without progress after which a child is killed and retried")
      ->check(number_above(0, false))
      ->capture_default_str();
  command->add_option("--stop-deadline", sweep.stop_deadline_seconds,
                      "On SIGTERM/SIGUSR1: seconds children get to checkpoint before SIGKILL")
      ->check(number_above(0, true))
      ->capture_default_str();
  command->add_option("--gpus-per-node", sweep.gpus_per_node,
                      "GPUs per node (default: the entries of CUDA_VISIBLE_DEVICES, 0 if unset)")
      ->check(number_above(0, true));
  command->add_option("--summary-every", sweep.summary_every_seconds,
                      "Seconds between summary lines when the output is not a terminal")
      ->check(number_above(0, false))
      ->capture_default_str();
  command->add_option("--display", options->display,
                      "live = a summary redrawn in place, lines = one line per state change; "
                      "auto = live on a terminal with one rank")
      ->check(CLI::IsMember({"auto", "live", "lines"}))
      ->capture_default_str();
  command->add_flag("--force", sweep.force, "Train runs whose spec changed beside the recorded ones");
  command->add_option("--dry-train", options->dry_train,
                      "Dispatch benchmark only: spawn = children exit at once, inline = no children; "
                      "nothing is trained or recorded")
      ->check(CLI::IsMember({"off", "spawn", "inline"}))
      ->capture_default_str();
  command->callback([&result, options] { result.run = [options] { return run(*options); }; });
}

}  // namespace plascale
