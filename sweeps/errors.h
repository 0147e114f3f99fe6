#pragma once
// Errors every module reports to the user, and the exit codes `plascale` maps them to.

#include <stdexcept>
#include <string>
#include <vector>

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

// Bad spec file (sweep or RunSpec YAML): every problem found in one pass, each line
// "file:line:column: what is wrong; allowed: ...", in order of position.
class SpecError : public InputError {
 public:
  explicit SpecError(std::vector<std::string> errors)
      : InputError(summary(errors)), errors_(std::move(errors)) {}
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  static std::string summary(const std::vector<std::string>& errors) {
    std::string text = errors.size() == 1 ? "" : std::to_string(errors.size()) + " errors:\n";
    for (size_t i = 0; i < errors.size(); ++i) text += (i ? "\n" : "") + errors[i];
    return text;
  }
  std::vector<std::string> errors_;
};

}  // namespace plascale
