#pragma once
// The study file, STUDY/study.h5: the sweep, one group per run with its attributes and
// status, the trajectories of completed runs (merged from their run.h5) and the fits.
//
// StudyWriter is used by the coordinator alone (one writer per file); every call leaves
// the file flushed. StudyReader opens read-only and works while runs are being written.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "storage/layout.h"
#include "storage/run_file.h"
#include "storage/trajectory.h"

namespace plascale {

// A group of named arrays, string lists and attributes: what the fitting module stores
// under /fits/<path> (onsets per run, laws per mitigation, comparisons with CIs).
struct NumericArray {
  std::vector<size_t> shape;  // {} for a single number
  std::vector<double> values; // row-major
};
using AttributeValue = std::variant<int64_t, double, std::string>;
struct DataGroup {
  std::map<std::string, NumericArray> arrays;
  std::map<std::string, std::vector<std::string>> string_lists;  // e.g. run ids, mitigation names
  std::map<std::string, AttributeValue> attributes;
};

struct StudyInfo {
  int64_t format_version = 0;
  std::string plascale_version;
  std::string created_utc;  // ISO 8601, e.g. 2026-11-23T01:54:00Z
  std::string sweep_yaml;
  std::string sweep_hash;
};

struct RunInfo {
  RunAttributes attributes;
  bool merged = false;                 // trajectory and probe copied into study.h5
  int64_t points = 0;                  // trajectory rows recorded
  std::optional<int64_t> last_tokens;  // tokens at the last row
  std::string run_file_error;          // runs/<id>/run.h5 exists but could not be read
};

class StudyWriter {
 public:
  // Creates STUDY/, STUDY/runs/ and STUDY/study.h5. Throws if study.h5 already exists.
  static StudyWriter create(const std::filesystem::path& study_dir, const std::string& sweep_yaml,
                            const std::string& sweep_hash);
  // Opens an existing study to continue it. InputError for a bad or newer study.h5.
  static StudyWriter open(const std::filesystem::path& study_dir);

  StudyWriter(StudyWriter&&) noexcept;
  StudyWriter& operator=(StudyWriter&&) noexcept;
  ~StudyWriter();

  // Adds /runs/<id> with the given attributes; returns false when the run was already
  // registered with the same spec_yaml (its status is kept). A different spec_yaml under
  // the same id is refused with InputError unless `replace`, which starts the run afresh.
  bool register_run(const RunAttributes& run, bool replace = false);
  void set_status(const std::string& run_id, RunStatus status, int64_t attempts,
                  const std::string& last_error = "");
  // Copies runs/<id>/run.h5's trajectory and probe into /runs/<id>/, replacing an earlier
  // merge. Call it when the run has finished (done, failed or diverged).
  void merge_run(const std::string& run_id);
  // Replaces /fits/<path> (path may contain '/') with `group`.
  void write_fit_group(const std::string& path, const DataGroup& group);

  const std::filesystem::path& dir() const;

 private:
  struct State;
  explicit StudyWriter(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

class StudyReader {
 public:
  // Opens STUDY/study.h5 read-only. InputError for a missing, damaged or newer study.
  explicit StudyReader(const std::filesystem::path& study_dir);
  StudyReader(StudyReader&&) noexcept;
  StudyReader& operator=(StudyReader&&) noexcept;
  ~StudyReader();

  const StudyInfo& info() const;
  // All runs in id order, with points recorded so far (from run.h5 for unmerged runs).
  std::vector<RunInfo> runs() const;
  bool has_run(const std::string& run_id) const;
  RunInfo run(const std::string& run_id) const;  // InputError for a run not registered
  // Merged data from study.h5, else runs/<id>/run.h5, else empty (the run has not started).
  Trajectory read_trajectory(const std::string& run_id) const;
  Probe read_probe(const std::string& run_id) const;
  // Paths under /fits that hold data, e.g. {"onsets", "laws/none"}, in name order.
  std::vector<std::string> fit_groups() const;
  DataGroup read_fit_group(const std::string& path) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace plascale
