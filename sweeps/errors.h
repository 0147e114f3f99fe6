#pragma once
// Errors every module reports to the user, and the exit codes `plascale` maps them to.

#include <stdexcept>
#include <string>

namespace plascale {

// Process exit codes, documented in docs/cli.md. Scripts (Slurm, the orchestrator) rely on them.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,     // a run or command failed for a reason other than its input
  kExitBadInput = 2,    // bad YAML, data file, HDF5 file or command-line flag
  kExitResubmit = 3,    // stopped by SIGTERM/SIGUSR1 after checkpointing: run again to continue
  kExitDiverged = 4,    // training loss became NaN/inf; the trajectory is recorded
};

// Bad input from the user: the message already names the place (file:line:column,
// file and dataset, or flag) and says what is allowed. Maps to kExitBadInput.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace plascale
