#pragma once
// Runs a program (sbatch, scontrol, squeue) without a shell and collects what it printed.

#include <string>
#include <vector>

namespace plascale::slurm {

struct CommandResult {
  int exit_code = 0;   // the program's exit status; 127 when it could not be started
  std::string output;  // stdout
  std::string errors;  // stderr
};

// Runs argv[0] (looked up in PATH) with the arguments as given, waits for it to end.
CommandResult run_command(const std::vector<std::string>& argv);

// True when `program` is an executable in PATH.
bool in_path(const std::string& program);

}  // namespace plascale::slurm
