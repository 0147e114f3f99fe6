#pragma once
// Everything the report shows, read once from a study: runs with their trajectories and
// probes, the parsed sweep, and the fits (stored in /fits, or computed in memory).

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "fitting/study_fit.h"
#include "storage/study.h"
#include "sweeps/sweep.h"

namespace plascale::report {

struct RunData {
  RunInfo info;
  Trajectory trajectory;
  Probe probe;
  double flops_per_token = 0.0;  // from the run's spec (sweeps/cost.h); NaN if its spec does not parse
  double planned_flops = 0.0;    // estimated_flops of the whole run; NaN likewise
};

struct StudyData {
  std::filesystem::path dir;
  StudyInfo info;
  std::optional<Sweep> sweep;  // parsed from study.h5's sweep_yaml
  std::string sweep_error;     // why it could not be parsed
  std::vector<RunData> runs;   // id order
  std::vector<std::string> mitigations;  // the baseline first, then by name
  std::vector<std::string> sizes;        // by non-embedding parameters, then label
  fitting::StudyFit fit;
  bool fits_computed = false;  // no /fits in the study: fit_study() ran in memory
  double level = 0.95;         // of every interval in `fit`
  std::string baseline = "none";
  std::vector<std::string> stale_runs;  // done runs the stored fits do not know (fitted before they finished)
};

// Reads the study; fits with `fit_options` only when it has no /fits.
StudyData load_study_data(const std::filesystem::path& study_dir, const fitting::StudyFitOptions& fit_options);

struct StoredFit {
  fitting::StudyFit fit;  // token_budget of each onset is 0 (not stored)
  double level = 0.95;
  std::string baseline = "none";  // from the comparisons; "none" when there are none
};
// /fits as written by write_study_fit (docs/storage.md). InputError naming
// study.h5:/fits/<group> and what is missing for a malformed group.
StoredFit read_stored_fit(const StudyReader& study);

}  // namespace plascale::report
