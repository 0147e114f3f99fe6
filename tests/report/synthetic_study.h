#pragma once
// A study written with the storage writers, with known numbers: two mitigations (one with
// a hostile label), two sizes, two seeds, probes with known AUCs and a scratch baseline,
// per-layer dormant fractions, two validation sources, and one run each pending, running
// (run.h5 only), failed and diverged (NaN losses at its last point).

#include <fmt/core.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "storage/study.h"

namespace plascale::testing {

inline constexpr const char* kHostileMitigation = "cbp \"x\" <script>alert('m')</script> & y\nz";
inline constexpr const char* kHostileSize = "big<b>&'";

class ReportScratch {
 public:
  ReportScratch() {
    std::string pattern = (std::filesystem::temp_directory_path() / "plascale-report-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ReportScratch() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct SyntheticRun {
  std::string id, size, mitigation;
  int64_t params = 0;
  uint64_t seed = 0;
  std::vector<double> auc;  // one probe every 1000 tokens from 0
  RunStatus status = RunStatus::done;
};

// AUC of probe k: 10 - k until the minimum at `onset_probe`, rising after it; onset_probe
// past the end = still falling (censored). Seed s adds 0.1 s.
inline std::vector<double> auc_sequence(int probes, int onset_probe, uint64_t seed) {
  std::vector<double> auc;
  for (int k = 0; k < probes; ++k)
    auc.push_back(10.0 - std::min(k, onset_probe) + std::max(0, k - onset_probe) * 0.8 + 0.1 * seed);
  return auc;
}

inline std::vector<SyntheticRun> synthetic_runs() {
  std::vector<SyntheticRun> runs;
  const std::string mitigations[2] = {"none", kHostileMitigation};
  const std::string sizes[2] = {"small", kHostileSize};
  const int64_t params[2] = {100000, 400000};
  int index = 0;
  for (int m = 0; m < 2; ++m)
    for (int s = 0; s < 2; ++s)
      for (uint64_t seed = 0; seed < 2; ++seed) {
        // Onsets later for the larger size and with the mitigation; the large none run of seed 1 is censored.
        const int onset = (m == 0 && s == 1 && seed == 1) ? 99 : 2 + s + m;
        runs.push_back({fmt::format("r{:02d}", index++), sizes[s], mitigations[m], params[s], seed,
                        auc_sequence(8, onset, seed)});
      }
  runs.push_back({"r90pending", "small", "none", params[0], 7, {}, RunStatus::pending});
  runs.push_back({"r91running", "small", "none", params[0], 8, auc_sequence(3, 99, 0), RunStatus::running});
  runs.push_back({"r92failed", kHostileSize, "none", params[1], 9, auc_sequence(2, 99, 0), RunStatus::failed});
  runs.push_back({"r93diverged", "small", "none", params[0], 10, auc_sequence(4, 99, 0), RunStatus::diverged});
  return runs;
}

inline void write_synthetic_study(const std::filesystem::path& dir) {
  auto study = StudyWriter::create(dir, "name: synthetic\n# not a complete sweep\n", "feedfacefeedface");
  for (const SyntheticRun& run : synthetic_runs()) {
    RunAttributes a;
    a.id = run.id;
    a.size = run.size;
    a.mitigation = run.mitigation;
    a.n_params_nonembedding = run.params;
    a.n_params_total = run.params * 2;
    a.token_budget = 7000;
    a.seed = run.seed;
    a.spec_yaml = "id: " + run.id;
    study.register_run(a);
    if (run.status == RunStatus::pending) continue;
    auto writer = RunFileWriter::create(run_file_path(dir, run.id), a);
    for (size_t k = 0; k < run.auc.size(); ++k) {
      TrajectoryRow row;
      row.step = static_cast<int64_t>(k) * 10;
      row.tokens = static_cast<int64_t>(k) * 1000;
      row.scalars["param_abs_mean"] = 0.02 + 0.001 * k;
      row.scalars["lazy_heads"] = static_cast<double>(k % 3);
      row.scalars["collapsed_heads"] = 1.0;
      row.scalars["mitigation_resets"] = static_cast<double>(k);
      row.vectors["val_loss"] = {{4.0 - 0.1 * k, 5.0 - 0.1 * k}, {"english", "code"}};
      if (run.status == RunStatus::diverged && k + 1 == run.auc.size()) {
        row.scalars["train_loss"] = NAN;
        row.vectors["val_loss"].values = {NAN, INFINITY};
      }
      row.vectors["dormant_fraction"] = {{0.1 * k / 8, 0.5}, {}};
      writer.append(row);
      const double curve[3] = {run.auc[k], run.auc[k] - 1, run.auc[k] - 2};
      const int64_t steps[3] = {0, 2, 4};
      writer.append_probe(row.tokens, run.auc[k], curve, steps);
    }
    const double scratch_curve[3] = {8, 7, 6};
    if (!run.auc.empty()) writer.set_scratch_baseline(8.0, scratch_curve);
    writer.flush();
    if (run.status == RunStatus::running) {
      study.set_status(run.id, RunStatus::running, 1);
      continue;  // not merged: readers take run.h5
    }
    study.merge_run(run.id);
    const char* error = run.status == RunStatus::failed     ? "worker lost: <oom> & \"killed\""
                        : run.status == RunStatus::diverged ? "loss became NaN or infinite"
                                                            : "";
    study.set_status(run.id, run.status, run.status == RunStatus::failed ? 3 : 1, error);
  }
}

}  // namespace plascale::testing
