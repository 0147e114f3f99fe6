#pragma once
// One run's file, runs/<run_id>/run.h5, written only by the process training that run.
//
//   RunAttributes run = ...;
//   auto writer = RunFileWriter::create(run_file_path(study_dir, run.id), run);
//   writer.append(row);           // buffered; written every options.batch_rows rows
//   writer.append_probe(tokens, auc, curve, curve_steps);
//   writer.flush();               // everything so far is on disk and survives kill -9
//
// Resuming from a checkpoint taken at T tokens: RunFileWriter::open(path), then
// truncate_after_tokens(T) so rows recorded after the checkpoint are not duplicated.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "storage/trajectory.h"
#include "sweeps/run_spec.h"

namespace plascale {

enum class RunStatus { pending, running, done, failed, diverged };

// "pending", "running", "done", "failed", "diverged": the strings stored in the files.
const char* run_status_name(RunStatus status);
// Throws InputError naming the allowed values when `name` is none of them.
RunStatus parse_run_status(std::string_view name);

// The attributes of /runs/<id> in study.h5 (and, apart from status, attempts and
// last_error, of run.h5's root, written once when the run file is created).
struct RunAttributes {
  std::string id;                     // run id (sweeps run_id()); the group name
  std::string size;                   // size label from the sweep, e.g. "4.9M"
  int64_t n_params_nonembedding = 0;  // what the onset law uses
  int64_t n_params_total = 0;
  int64_t token_budget = 0;
  std::string mitigation;             // mitigation label, "none" for the baseline
  uint64_t seed = 0;
  RunStatus status = RunStatus::pending;
  int64_t attempts = 0;               // times the run has been started
  std::string spec_yaml;              // the resolved RunSpec, enough to rerun it alone
  std::string last_error;             // why the last attempt failed; empty if none
};

// The attributes a run is recorded under: labels and sizes from its spec, no attempts yet.
RunAttributes run_attributes(const RunSpec& spec, RunStatus status, const std::string& spec_yaml);

struct RunFileOptions {
  int64_t batch_rows = 1024;  // rows buffered in memory, then written with one call per metric
  int64_t chunk_rows = 1024;  // HDF5 chunk length along the point axis
};

class RunFileWriter {
 public:
  // Creates the run file and its folder. Throws if the file already exists.
  static RunFileWriter create(const std::filesystem::path& path, const RunAttributes& attributes,
                              const RunFileOptions& options = {});
  // Reopens an existing run file to continue it. If a crash left the metrics with
  // different lengths, all are cut to the shortest. InputError for a bad or newer file.
  static RunFileWriter open(const std::filesystem::path& path, const RunFileOptions& options = {});

  RunFileWriter(RunFileWriter&&) noexcept;
  RunFileWriter& operator=(RunFileWriter&&) noexcept;
  ~RunFileWriter();  // flushes; errors there are swallowed, so call flush() to see them

  // Throws std::invalid_argument for a row that breaks TrajectoryRow's rules.
  void append(const TrajectoryRow& row);
  // Written immediately (probes are rare). curve_steps must be the same for every probe.
  void append_probe(int64_t tokens, double auc, std::span<const double> curve,
                    std::span<const int64_t> curve_steps);
  // The probe from a fresh initialisation; replaces an earlier one.
  void set_scratch_baseline(double auc, std::span<const double> curve);

  // Writes buffered rows and flushes the file: afterwards a kill -9 loses nothing.
  void flush();

  // Keeps the first `points` rows and the probes taken at or before the last kept row's
  // tokens (none if points is 0); flushes.
  void truncate_to(int64_t points);
  // Keeps the rows and probes with tokens <= max_tokens; flushes.
  void truncate_after_tokens(int64_t max_tokens);

  int64_t points() const;  // rows appended so far, buffered ones included
  std::optional<int64_t> last_tokens() const;
  const std::filesystem::path& path() const;

 private:
  struct State;
  explicit RunFileWriter(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace plascale
