// `plascale fit` as a user runs it: the real binary on CSV files and on a study written with
// the storage writers, its JSON read by Python's json module and its /fits read by h5py.

#include <gtest/gtest.h>
#include <fmt/core.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "storage/layout.h"
#include "storage/run_file.h"
#include "storage/study.h"

namespace plascale {
namespace {

struct Outcome {
  int exit_code;
  std::string output;  // stdout and stderr
};

Outcome run(const std::string& arguments) {
  std::string command = std::string(PLASCALE_EXE) + " " + arguments + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[4096];
  while (size_t read = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, read);
  int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "plascale-fit-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

void write_file(const std::filesystem::path& path, const std::string& text) { std::ofstream(path) << text; }

// Runs a Python check; the script prints "ok" when every assertion held.
void python_check(const std::filesystem::path& script_path, const std::string& script) {
  write_file(script_path, script);
  std::string command = fmt::format("{} {} 2>&1", PLASCALE_PYTHON, script_path.string());
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[4096];
  while (size_t read = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, read);
  EXPECT_EQ(pclose(pipe), 0) << output;
  EXPECT_NE(output.find("ok"), std::string::npos) << output;
}

const std::string kEpoch = std::string(PLASCALE_SOURCE_DIR) + "/../shared/data/chinchilla_svg_extracted.csv";

TEST(FitCli, ChinchillaOnEpochDataAsJson) {
  ScratchDir dir;
  Outcome outcome = run(fmt::format("fit --csv {} --model chinchilla --n 'Model Size' --flops 'Training FLOP' "
                                    "--loss loss --drop-highest-loss 5 --json",
                                    kEpoch));
  ASSERT_EQ(outcome.exit_code, 0) << outcome.output;
  write_file(dir / "fit.json", outcome.output);
  python_check(dir / "check.py", fmt::format(R"(
import json
fit = json.load(open("{}"))
p = fit["params"]
assert set(p) == {{"A", "B", "E", "alpha", "beta"}}, p
for name, want in [("A", 477.8), ("B", 2143.9), ("E", 1.817), ("alpha", 0.347), ("beta", 0.367)]:
    assert abs(p[name]["value"] / want - 1) < 0.01, (name, p[name])
    assert p[name]["ci_low"] < p[name]["value"] < p[name]["ci_high"], (name, p[name])
assert fit["n_points"] == 240 and fit["predictions"] == []
assert fit["r2"] > 0.99 and fit["r2_log"] > 0.99 and 0 < fit["rmse"] < fit["loo_rmse"] < 0.03, fit
print("ok")
)",
                                                       (dir / "fit.json").string()));
}

TEST(FitCli, PowerLawWithPredictionsAndBootstrapAsJson) {
  ScratchDir dir;
  write_file(dir / "data.csv", "size,\"onset, tokens\"\n1,3.1\n2,4.9\n4,8.2\n8,12.8\n16,21.5\n32,33.0\n");
  for (std::string method : {"loglog_ols", "nls"}) {
    Outcome outcome = run(fmt::format("fit --csv {} --x size --y 'onset, tokens' --model power_law --method {} "
                                      "--predict 100,1000 --bootstrap 200 --seed 4 --json",
                                      (dir / "data.csv").string(), method));
    ASSERT_EQ(outcome.exit_code, 0) << outcome.output;
    write_file(dir / "fit.json", outcome.output);
    python_check(dir / "check.py", fmt::format(R"(
import json
fit = json.load(open("{}"))
assert set(fit["params"]) == {{"a", "b"}}, fit
b = fit["params"]["b"]
assert 0.65 < b["value"] < 0.7 and b["se"] > 0 and b["ci_low"] < b["value"] < b["ci_high"], b
assert fit["n_points"] == 6 and fit["method"] == "{}" and fit["interval_method"] == "bootstrap_percentile"
for key in ["r2", "r2_log", "rmse", "loo_rmse"]:
    assert isinstance(fit[key], float), key
xs = [p["x"] for p in fit["predictions"]]
assert xs == [100, 1000], xs
for p in fit["predictions"]:
    assert p["lo"] < p["y"] < p["hi"], p
print("ok")
)",
                                                         (dir / "fit.json").string(), method));
  }
  Outcome table = run(fmt::format("fit --csv {} --x size --y 'onset, tokens'", (dir / "data.csv").string()));
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("power_law fit by loglog_ols"), std::string::npos) << table.output;
}

TEST(FitCli, BadInputNamesThePlaceAndExitsTwo) {
  ScratchDir dir;
  write_file(dir / "data.csv", "x,y,z\n1,2,a\n2,0,3\n3,4,5\n4,5,6\n");
  std::string csv = (dir / "data.csv").string();
  write_file(dir / "same.csv", "x,y\n2,1\n2,2\n2,3\n");
  struct Case {
    std::string arguments, expected;
  };
  std::vector<Case> cases = {
      {fmt::format("fit --csv {} --x x --y w", csv), "no column named 'w'; the columns are 'x', 'y', 'z'"},
      {fmt::format("fit --csv {} --x x --y z", csv), fmt::format("{}:2: column 'z' holds 'a'", csv)},
      {fmt::format("fit --csv {} --x x --y y", csv), fmt::format("{}:3: column 'y' holds 0, but it must be positive", csv)},
      {fmt::format("fit --csv {} --x x --y y --model saturating_power_law --method loglog_ols", csv),
       "--method loglog_ols fits only --model power_law"},
      {fmt::format("fit --csv {} --x x --y y --model exponential", csv), "unknown model 'exponential'"},
      {fmt::format("fit --csv {}/missing.csv --x x --y y", dir.path().string()), "cannot open the CSV file"},
      {fmt::format("fit --csv {} --model chinchilla --n x --loss y", csv), "exactly one of --d COLUMN and --flops"},
      {fmt::format("fit {} --csv {} --x x --y y", dir.path().string(), csv), "either a STUDY folder or --csv FILE"},
      {fmt::format("fit {}", dir.path().string()), "study.h5"},
      {fmt::format("fit --csv {}/same.csv --x x --y y", dir.path().string()), "same.csv: log-log OLS: all x values are equal"},
  };
  for (const Case& c : cases) {
    Outcome outcome = run(c.arguments);
    EXPECT_EQ(outcome.exit_code, 2) << c.arguments << "\n" << outcome.output;
    EXPECT_NE(outcome.output.find(c.expected), std::string::npos) << c.arguments << "\n" << outcome.output;
  }
}

// A study with a known onset law: onset = 2e8 (P / 5e6)^0.8 tokens without mitigation, twice
// that with "wd"; probes every 1e8 tokens, 12 of them for seed 0 and 10 for seed 1, so the
// larger sizes are censored. AUC falls to the onset and rises after it.
TEST(FitCli, FitsAStudyWrittenByTheStorageWriters) {
  ScratchDir dir;
  std::filesystem::path study = dir / "study";
  {
    StudyWriter writer = StudyWriter::create(study, "sweep: test\n", "hash");
    const std::vector<double> sizes = {5e6, 12e6, 28e6, 54e6};
    int index = 0;
    for (std::string mitigation : {"none", "wd"})
      for (uint64_t seed : {0, 1})
        for (double size : sizes) {
          RunAttributes run;
          run.id = fmt::format("run{:02d}", index++);
          run.size = fmt::format("{}M", size / 1e6);
          run.n_params_nonembedding = static_cast<int64_t>(size);
          run.n_params_total = run.n_params_nonembedding * 2;
          int probes = seed == 0 ? 12 : 10;
          run.token_budget = static_cast<int64_t>((probes - 1) * 1e8);
          run.mitigation = mitigation;
          run.seed = seed;
          run.spec_yaml = fmt::format("id: {}\n", run.id);
          writer.register_run(run);
          RunFileWriter file = RunFileWriter::create(run_file_path(study, run.id), run);
          double onset = 2e8 * std::pow(size / 5e6, 0.8) * (mitigation == "wd" ? 2.0 : 1.0);
          std::vector<int64_t> curve_steps = {0, 10};
          for (int k = 0; k < probes; ++k) {
            double tokens = k * 1e8;
            TrajectoryRow row;
            row.step = k;
            row.tokens = static_cast<int64_t>(tokens);
            // Loss law E + A/N^alpha + B/D^beta, exactly.
            row.scalars["val_loss"] = 1.8 + 400 * std::pow(size, -0.34) + 2000 * std::pow(std::max(tokens, 1e7), -0.37);
            file.append(row);
            double auc = 3.0 + 0.1 * std::abs(tokens - onset) / 1e8;
            std::vector<double> curve = {auc, auc * 0.9};
            file.append_probe(row.tokens, auc, curve, curve_steps);
          }
          file.flush();
          writer.merge_run(run.id);
          writer.set_status(run.id, RunStatus::done, 1);
        }
  }
  Outcome outcome = run(fmt::format("fit {} --study-bootstrap 200", study.string()));
  ASSERT_EQ(outcome.exit_code, 0) << outcome.output;
  EXPECT_NE(outcome.output.find("Onset laws"), std::string::npos) << outcome.output;
  EXPECT_NE(outcome.output.find("> "), std::string::npos) << outcome.output;  // censored runs say onset > last probe
  python_check(dir / "check.py", fmt::format(R"(
import h5py, math
with h5py.File("{}", "r") as f:
    onsets = f["fits/onsets"]
    ids = [s.decode() for s in onsets["run_id"][:]]
    status = [s.decode() for s in onsets["status"][:]]
    mitigation = [s.decode() for s in onsets["mitigation"][:]]
    tokens = onsets["onset_tokens"][:]
    assert len(ids) == 16, ids
    assert sorted(set(s.decode() for s in onsets["seed"][:])) == ["0", "1"]
    # run00: 5M, none, seed 0: onset 2e8 tokens exactly at a probe.
    assert status[ids.index("run00")] == "degraded" and tokens[ids.index("run00")] == 2e8
    # run03: 54M, none, seed 0: onset 1.34e9 is past the last probe (1.1e9): censored, no value.
    assert status[ids.index("run03")] == "censored" and math.isnan(tokens[ids.index("run03")])
    law = f["fits/laws/none"].attrs
    censored_none = sum(1 for s, m in zip(status, mitigation) if s == "censored" and m == "none")
    assert law["censored"] == censored_none and law["runs"] == 8 and censored_none >= 2, dict(law)
    assert "Tobit" in law["censoring"], law["censoring"]
    assert 0.5 < law["b"] < 1.1 and law["b_low"] < law["b"] < law["b_high"], dict(law)
    assert list(f["fits/laws/none/predict_params"][:]) == [1e9, 7e9]
    low, mid, high = (f["fits/laws/none/" + k][:] for k in ["predict_low", "predict_tokens", "predict_high"])
    assert all(low < mid) and all(mid < high)
    wd = f["fits/comparisons/wd"].attrs
    assert wd["baseline"] == "none" and abs(wd["shift_factor"] - 2.0) < 1e-9, dict(wd)
    assert wd["pairs"] == 8 and wd["pairs_used"] + wd["pairs_censored"] == 8
    assert "exponent_difference" in wd
    loss = f["fits/loss_law"]
    names = [s.decode() for s in loss["param"][:]]
    assert names == ["A", "B", "E", "alpha", "beta"], names
    assert loss.attrs["r2"] > 0.99 and loss.attrs["n_points"] == 8, dict(loss.attrs)
print("ok")
)",
                                             study_file_path(study).string()));
  // Fitting again replaces /fits instead of adding to it.
  ASSERT_EQ(run(fmt::format("fit {} --study-bootstrap 50", study.string())).exit_code, 0);
  StudyReader reader(study);
  EXPECT_EQ(reader.read_fit_group("comparisons/wd").attributes.at("bootstrap_replicates"), AttributeValue(int64_t{50}));
}

}  // namespace
}  // namespace plascale
