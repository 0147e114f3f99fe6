// The `plascale` command: one subcommand per file, wired here.

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdio>
#include <exception>

#include "app/commands.h"
#include "sweeps/errors.h"

int main(int argc, char** argv) {
  CLI::App app{"plascale: scaling-law studies of plasticity loss in language models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", PLASCALE_VERSION);

  plascale::CommandResult result;
  plascale::register_commands(app, result);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? plascale::kExitOk : plascale::kExitBadInput;
  }
  try {
    return result.run ? result.run() : plascale::kExitOk;
  } catch (const plascale::InputError& error) {
    fmt::print(stderr, "plascale: error: {}\n", error.what());
    return plascale::kExitBadInput;
  } catch (const std::exception& error) {
    fmt::print(stderr, "plascale: error: {}\n", error.what());
    return plascale::kExitFailure;
  }
}
