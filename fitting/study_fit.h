#pragma once
// Everything `plascale fit STUDY` computes from a study, and its /fits layout in study.h5
// (docs/storage.md): onsets per run, the onset law per mitigation, each mitigation against
// the baseline, and the classic loss law L(N, D) from the baseline runs' final losses.
//
// The work is done by the pure functions (find_onset, fit_onset_law, onset_shift,
// analyse_chinchilla); this file only gathers their inputs from the study and stores results.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fitting/comparison.h"
#include "fitting/onset.h"
#include "fitting/onset_law.h"
#include "fitting/summary.h"
#include "storage/study.h"

namespace plascale::fitting {

struct StudyFitOptions {
  OnsetOptions onset;
  OnsetLawOptions law;               // its level is used for every interval
  std::string baseline = "none";     // mitigation label the others are compared with
  int bootstrap = 1000;              // resamples for onset shift factors
  uint64_t seed = 0;
  std::string loss_metric = "val_loss";  // trajectory metric for the loss law (mean over sources)
  int threads = 0;
};

struct RunOnset {
  std::string run_id, size, mitigation;
  uint64_t seed = 0;
  int64_t token_budget = 0;
  double params = 0.0;  // non-embedding
  Onset onset;
};

struct MitigationLaw {
  std::string mitigation;
  std::optional<OnsetLaw> law;  // absent when the runs do not determine one
  std::string note;             // why it is absent
};

struct MitigationComparison {
  std::string mitigation;
  OnsetShift shift;
  std::optional<ExponentDifference> exponent;  // when both laws exist
};

struct StudyFit {
  std::vector<RunOnset> onsets;
  std::vector<std::string> skipped;  // "<run id>: why" for runs left out entirely
  std::vector<MitigationLaw> laws;   // baseline first, then by name
  std::vector<MitigationComparison> comparisons;
  std::optional<FitSummary> loss_law;
  std::string loss_law_note;         // which runs it used, or why it is absent
};

// Uses runs with status done; others are listed in `skipped`.
StudyFit fit_study(const StudyReader& study, const StudyFitOptions& options);
// Replaces /fits/onsets, /fits/laws, /fits/comparisons and /fits/loss_law.
void write_study_fit(StudyWriter& writer, const StudyFit& fit, const StudyFitOptions& options);
std::string study_fit_table(const StudyFit& fit);

}  // namespace plascale::fitting
