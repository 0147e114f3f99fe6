#pragma once
// Each subcommand lives in app/cmd_<name>.cpp and registers itself on the CLI here.
// Parsing only records what to do; the chosen subcommand's action runs after parsing,
// so errors in it are reported with the right exit code by main().

#include <CLI/CLI.hpp>

#include <functional>

namespace plascale {

struct CommandResult {
  std::function<int()> run;  // returns the process exit code
};

void register_commands(CLI::App& app, CommandResult& result);

}  // namespace plascale
