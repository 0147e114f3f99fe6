#include "report/study_data.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "sweeps/cost.h"
#include "sweeps/errors.h"
#include "sweeps/runspec_yaml.h"

namespace plascale::report {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Typed access to one /fits group, with errors that name the group and the missing member.
struct FitGroup {
  std::string path;
  DataGroup group;

  [[noreturn]] void missing(const std::string& what) const {
    throw InputError(fmt::format("study.h5:/fits/{}: {} is missing or has the wrong type; rerun `plascale fit`",
                                 path, what));
  }
  bool has(const std::string& name) const { return group.attributes.count(name) > 0; }
  double number(const std::string& name) const {
    auto found = group.attributes.find(name);
    if (found == group.attributes.end()) missing("attribute " + name);
    if (auto* value = std::get_if<double>(&found->second)) return *value;
    if (auto* value = std::get_if<int64_t>(&found->second)) return static_cast<double>(*value);
    missing("attribute " + name);
  }
  int integer(const std::string& name) const { return static_cast<int>(number(name)); }
  std::string text(const std::string& name) const {
    auto found = group.attributes.find(name);
    if (found == group.attributes.end() || !std::holds_alternative<std::string>(found->second))
      missing("attribute " + name);
    return std::get<std::string>(found->second);
  }
  const std::vector<double>& array(const std::string& name, size_t length) const {
    auto found = group.arrays.find(name);
    if (found == group.arrays.end() || found->second.values.size() != length)
      missing(fmt::format("dataset {} ({} values)", name, length));
    return found->second.values;
  }
  const std::vector<std::string>& strings(const std::string& name) const {
    auto found = group.string_lists.find(name);
    if (found == group.string_lists.end()) missing("string dataset " + name);
    return found->second;
  }
};

fitting::OnsetStatus parse_onset_status(const FitGroup& group, const std::string& name) {
  for (auto status : {fitting::OnsetStatus::degraded, fitting::OnsetStatus::censored,
                      fitting::OnsetStatus::too_few_probes})
    if (name == fitting::onset_status_name(status)) return status;
  group.missing(fmt::format("a known onset status (got '{}')", name));
}

std::vector<fitting::RunOnset> read_onsets(const FitGroup& group) {
  const auto& ids = group.strings("run_id");
  const size_t runs = ids.size();
  const auto& mitigations = group.strings("mitigation");
  const auto& sizes = group.strings("size");
  const auto& seeds = group.strings("seed");
  const auto& statuses = group.strings("status");
  if (mitigations.size() != runs || sizes.size() != runs || seeds.size() != runs || statuses.size() != runs)
    group.missing(fmt::format("one entry per run ({}) in mitigation, size, seed and status", runs));
  const auto& params = group.array("params", runs);
  const auto& onset_tokens = group.array("onset_tokens", runs);
  const auto& last_probe = group.array("last_probe_tokens", runs);
  const auto& probe_index = group.array("probe_index", runs);
  const auto& smooth = group.array("smooth_tokens", runs);
  const auto& smooth_low = group.array("smooth_low", runs);
  const auto& smooth_high = group.array("smooth_high", runs);
  std::vector<fitting::RunOnset> onsets;
  for (size_t i = 0; i < runs; ++i) {
    fitting::RunOnset run{ids[i], sizes[i], mitigations[i], 0, 0, params[i], {}};
    try {
      run.seed = std::stoull(seeds[i]);
    } catch (const std::exception&) {
      group.missing(fmt::format("a decimal seed (got '{}')", seeds[i]));
    }
    run.onset.status = parse_onset_status(group, statuses[i]);
    run.onset.tokens = onset_tokens[i];
    run.onset.last_probe_tokens = last_probe[i];
    run.onset.probe_index = static_cast<int>(probe_index[i]);
    run.onset.smooth_tokens = smooth[i];
    run.onset.smooth_low = smooth_low[i];
    run.onset.smooth_high = smooth_high[i];
    onsets.push_back(std::move(run));
  }
  return onsets;
}

fitting::MitigationLaw read_law(const FitGroup& group) {
  fitting::MitigationLaw entry{group.text("mitigation"), std::nullopt, ""};
  if (!group.has("b")) {
    entry.note = group.text("note");
    return entry;
  }
  fitting::OnsetLaw law;
  law.a = group.number("a");
  law.b = group.number("b");
  law.se_log_a = group.number("se_log_a");
  law.se_b = group.number("se_b");
  law.b_low = group.number("b_low");
  law.b_high = group.number("b_high");
  law.sigma = group.number("sigma");
  law.r2 = group.number("r2");
  law.rmse = group.number("rmse");
  law.loo_rmse = group.number("loo_rmse");
  law.runs = group.integer("runs");
  law.degraded = group.integer("degraded");
  law.censored = group.integer("censored");
  law.used = group.integer("used");
  law.censoring = group.text("censoring");
  const auto& covariance = group.array("covariance_log_a_b", 4);
  std::copy(covariance.begin(), covariance.end(), law.covariance);
  auto found = group.group.arrays.find("predict_params");
  const size_t predictions = found == group.group.arrays.end() ? 0 : found->second.values.size();
  const auto& at = group.array("predict_params", predictions);
  const auto& tokens = group.array("predict_tokens", predictions);
  const auto& low = group.array("predict_low", predictions);
  const auto& high = group.array("predict_high", predictions);
  for (size_t i = 0; i < predictions; ++i) law.predictions.push_back({at[i], tokens[i], low[i], high[i]});
  entry.law = law;
  return entry;
}

fitting::MitigationComparison read_comparison(const FitGroup& group) {
  fitting::MitigationComparison comparison{group.text("mitigation"), {}, std::nullopt};
  comparison.shift.factor = group.number("shift_factor");
  comparison.shift.low = group.number("shift_low");
  comparison.shift.high = group.number("shift_high");
  comparison.shift.pairs = group.integer("pairs");
  comparison.shift.used = group.integer("pairs_used");
  comparison.shift.censored_pairs = group.integer("pairs_censored");
  comparison.shift.bootstrap_replicates = group.integer("bootstrap_replicates");
  if (group.has("exponent_difference"))
    comparison.exponent = fitting::ExponentDifference{group.number("exponent_difference"),
                                                      group.number("exponent_difference_se"),
                                                      group.number("exponent_difference_low"),
                                                      group.number("exponent_difference_high")};
  return comparison;
}

std::optional<fitting::FitSummary> read_loss_law(const FitGroup& group) {
  if (!group.group.string_lists.count("param")) return std::nullopt;
  fitting::FitSummary summary;
  summary.model = "chinchilla";
  summary.method = "huber_lbfgs";
  const auto& names = group.strings("param");
  const auto& value = group.array("value", names.size());
  const auto& se = group.array("se", names.size());
  const auto& low = group.array("ci_low", names.size());
  const auto& high = group.array("ci_high", names.size());
  for (size_t i = 0; i < names.size(); ++i) summary.params.push_back({names[i], value[i], se[i], low[i], high[i]});
  summary.objective = group.number("objective");
  summary.r2 = group.number("r2");
  summary.r2_log = group.number("r2_log");
  summary.rmse = group.number("rmse");
  summary.loo_rmse = group.number("loo_rmse");
  summary.level = group.number("level");
  summary.n_points = group.integer("n_points");
  summary.interval_method = group.text("interval_method");
  return summary;
}

}  // namespace

StoredFit read_stored_fit(const StudyReader& study) {
  StoredFit stored;
  fitting::StudyFit& fit = stored.fit;
  const std::vector<std::string> groups = study.fit_groups();
  auto read = [&](const std::string& path) { return FitGroup{path, study.read_fit_group(path)}; };
  const FitGroup onsets = read("onsets");
  fit.onsets = read_onsets(onsets);
  fit.skipped = onsets.strings("skipped");
  stored.level = onsets.number("level");
  for (const std::string& path : groups) {
    if (path.rfind("laws/", 0) == 0) fit.laws.push_back(read_law(read(path)));
    if (path.rfind("comparisons/", 0) == 0) {
      const FitGroup group = read(path);
      stored.baseline = group.text("baseline");
      fit.comparisons.push_back(read_comparison(group));
    }
  }
  if (std::find(groups.begin(), groups.end(), "loss_law") != groups.end()) {
    const FitGroup loss = read("loss_law");
    fit.loss_law_note = loss.text("note");
    fit.loss_law = read_loss_law(loss);
  }
  // write_study_fit stores the baseline's law first; group names are sorted, so restore it.
  std::stable_partition(fit.laws.begin(), fit.laws.end(),
                        [&](const fitting::MitigationLaw& law) { return law.mitigation == stored.baseline; });
  return stored;
}

StudyData load_study_data(const std::filesystem::path& study_dir, const fitting::StudyFitOptions& fit_options) {
  StudyData data;
  data.dir = std::filesystem::absolute(study_dir);
  const StudyReader reader(study_dir);
  data.info = reader.info();
  try {
    data.sweep = parse_sweep(data.info.sweep_yaml, "study.h5:sweep_yaml");
  } catch (const std::exception& error) {
    data.sweep_error = error.what();
  }

  for (const RunInfo& info : reader.runs()) {
    RunData run{info, reader.read_trajectory(info.attributes.id), reader.read_probe(info.attributes.id), kNaN, kNaN};
    try {
      const RunSpec spec = parse_runspec(info.attributes.spec_yaml, "spec_yaml of run " + info.attributes.id);
      run.flops_per_token = flops_per_token(spec.model);
      run.planned_flops = estimated_flops(spec);
    } catch (const std::exception&) {
      // A spec that no longer validates (moved data files) only costs the compute estimate.
    }
    data.runs.push_back(std::move(run));
  }

  const std::vector<std::string> groups = reader.fit_groups();
  const bool has_stored_fits = std::find(groups.begin(), groups.end(), "onsets") != groups.end();
  data.baseline = fit_options.baseline;
  data.level = fit_options.law.level;
  if (has_stored_fits) {
    StoredFit stored = read_stored_fit(reader);
    data.fit = std::move(stored.fit);
    data.level = stored.level;
    data.baseline = stored.baseline;
  } else {
    data.fit = fitting::fit_study(reader, fit_options);
    data.fits_computed = true;
  }

  std::map<std::string, int64_t> budgets;
  for (const RunData& run : data.runs) budgets[run.info.attributes.id] = run.info.attributes.token_budget;
  for (fitting::RunOnset& onset : data.fit.onsets)
    if (auto found = budgets.find(onset.run_id); found != budgets.end()) onset.token_budget = found->second;

  std::set<std::string> known;
  for (const auto& onset : data.fit.onsets) known.insert(onset.run_id);
  // Runs skipped for their status were not done when the fits were made; others (too few probes) count as known.
  for (const std::string& skipped : data.fit.skipped)
    if (skipped.find(": status ") == std::string::npos) known.insert(skipped.substr(0, skipped.find(':')));
  for (const RunData& run : data.runs)
    if (run.info.attributes.status == RunStatus::done && !known.count(run.info.attributes.id))
      data.stale_runs.push_back(run.info.attributes.id);

  std::set<std::string> mitigations;
  std::map<std::string, int64_t> size_params;
  for (const RunData& run : data.runs) {
    mitigations.insert(run.info.attributes.mitigation);
    size_params.emplace(run.info.attributes.size, run.info.attributes.n_params_nonembedding);
  }
  if (mitigations.count(data.baseline)) data.mitigations.push_back(data.baseline);
  for (const std::string& name : mitigations)
    if (name != data.baseline) data.mitigations.push_back(name);
  for (const auto& [label, params] : size_params) data.sizes.push_back(label);
  std::stable_sort(data.sizes.begin(), data.sizes.end(),
                   [&](const std::string& l, const std::string& r) { return size_params[l] < size_params[r]; });
  return data;
}

}  // namespace plascale::report
