// `plascale validate SWEEP.yaml | --default`: parse and check a sweep, print a summary.

#include <fmt/core.h>

#include <memory>
#include <string>

#include "app/commands.h"
#include "sweeps/errors.h"
#include "sweeps/expand.h"
#include "sweeps/format.h"
#include "sweeps/sweep.h"

namespace plascale {

namespace {

struct ValidateOptions {
  std::string path;
  bool use_default = false;
};

int validate(const ValidateOptions& options) {
  if (options.path.empty() == !options.use_default)
    throw InputError("validate: give a sweep file or --default (exactly one)");
  Sweep sweep = options.use_default ? load_default_sweep() : load_sweep(options.path);
  std::vector<RunSpec> runs = expand_sweep(sweep);

  Sweep grid_only = sweep;
  grid_only.include.clear();
  size_t after_exclude = expand_sweep(grid_only).size();
  grid_only.exclude.clear();
  size_t grid = expand_sweep(grid_only).size();

  fmt::print("{}: OK: {} runs = {} sizes x {} budgets x {} mitigations x {} seeds", sweep.file, runs.size(),
             sweep.sizes.size(), sweep.budgets.size(), sweep.mitigations.size(), sweep.seeds.size());
  fmt::print(", {} excluded, {} included; study: {}\n", grid - after_exclude, runs.size() - after_exclude,
             sweep.output_study);
  return kExitOk;
}

}  // namespace

void register_validate(CLI::App& app, CommandResult& result) {
  auto options = std::make_shared<ValidateOptions>();
  CLI::App* command = app.add_subcommand("validate", "Check a sweep spec; list every error with file:line:column");
  command->add_option("sweep", options->path, "Sweep YAML file");
  command->add_flag("--default", options->use_default, "Check the built-in example sweep instead");
  command->callback([&result, options] { result.run = [options] { return validate(*options); }; });
}

}  // namespace plascale
