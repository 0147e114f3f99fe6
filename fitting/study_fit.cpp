#include "fitting/study_fit.h"

#include <fmt/core.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <tuple>

#include "fitting/chinchilla.h"

namespace plascale::fitting {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Mean over sources of the metric at the last point where it is finite, with that point's tokens.
std::optional<std::pair<double, double>> final_loss(const Trajectory& trajectory, const std::string& metric) {
  auto found = trajectory.metrics.find(metric);
  if (found == trajectory.metrics.end()) return std::nullopt;
  const MetricSeries& series = found->second;
  for (size_t point = trajectory.points(); point-- > 0;) {
    double sum = 0.0;
    size_t count = 0;
    for (size_t entry = 0; entry < series.row_size(); ++entry)
      if (std::isfinite(series.at(point, entry))) sum += series.at(point, entry), ++count;
    if (count > 0) return std::make_pair(sum / count, static_cast<double>(trajectory.tokens[point]));
  }
  return std::nullopt;
}

OnsetObservation observation(const RunOnset& run) {
  bool censored = run.onset.status == OnsetStatus::censored;
  return {run.params, censored ? run.onset.last_probe_tokens : run.onset.tokens, censored};
}

// HDF5 group names cannot hold '/'; the real label is kept in the `mitigation` attribute.
std::string group_name(const std::string& mitigation) {
  std::string name = mitigation;
  for (char& c : name)
    if (c == '/') c = '_';
  return name.empty() || name == "." || name == ".." ? "_" + name : name;
}

NumericArray vector_array(std::vector<double> values) {
  NumericArray array;
  array.shape = {values.size()};
  array.values = std::move(values);
  return array;
}

}  // namespace

StudyFit fit_study(const StudyReader& study, const StudyFitOptions& options) {
  StudyFit fit;
  std::vector<ChinchillaPoint> loss_points;
  for (const RunInfo& info : study.runs()) {
    const RunAttributes& run = info.attributes;
    if (run.status != RunStatus::done) {
      fit.skipped.push_back(fmt::format("{}: status {}, not done", run.id, run_status_name(run.status)));
      continue;
    }
    Probe probe = study.read_probe(run.id);
    std::vector<double> tokens(probe.tokens.begin(), probe.tokens.end());
    RunOnset onset{run.id, run.size, run.mitigation, run.seed, run.token_budget,
                   static_cast<double>(run.n_params_nonembedding), {}};
    OnsetOptions onset_options = options.onset;
    onset_options.level = options.law.level;
    onset.onset = find_onset(tokens, probe.auc, onset_options);
    if (onset.onset.status == OnsetStatus::too_few_probes)
      fit.skipped.push_back(fmt::format("{}: {} probe(s), the onset rule needs 3", run.id, probe.probes()));
    else
      fit.onsets.push_back(onset);
    if (run.mitigation == options.baseline) {
      if (auto loss = final_loss(study.read_trajectory(run.id), options.loss_metric))
        if (loss->first > 0 && loss->second > 0 && run.n_params_nonembedding > 0)
          loss_points.push_back({static_cast<double>(run.n_params_nonembedding), loss->second, loss->first});
    }
  }

  std::map<std::string, std::vector<const RunOnset*>> by_mitigation;
  for (const RunOnset& run : fit.onsets) by_mitigation[run.mitigation].push_back(&run);
  std::vector<std::string> order;
  if (by_mitigation.count(options.baseline)) order.push_back(options.baseline);
  for (const auto& [name, runs] : by_mitigation)
    if (name != options.baseline) order.push_back(name);
  std::map<std::string, const OnsetLaw*> laws;
  for (const std::string& name : order) {
    std::vector<OnsetObservation> observations;
    for (const RunOnset* run : by_mitigation[name]) observations.push_back(observation(*run));
    MitigationLaw law{name, std::nullopt, ""};
    try {
      law.law = fit_onset_law(observations, options.law);
    } catch (const std::invalid_argument& error) {
      law.note = error.what();
    }
    fit.laws.push_back(std::move(law));
  }
  for (const MitigationLaw& law : fit.laws)
    if (law.law) laws[law.mitigation] = &*law.law;

  // Matched cells: same size, token budget and seed, with and without the mitigation.
  using Cell = std::tuple<std::string, int64_t, uint64_t>;
  std::map<Cell, const RunOnset*> baseline_cells;
  for (const RunOnset* run : by_mitigation[options.baseline])
    baseline_cells[{run->size, run->token_budget, run->seed}] = run;
  for (const std::string& name : order) {
    if (name == options.baseline) continue;
    std::vector<OnsetPair> pairs;
    for (const RunOnset* run : by_mitigation[name]) {
      auto match = baseline_cells.find({run->size, run->token_budget, run->seed});
      if (match == baseline_cells.end()) continue;
      OnsetObservation mitigated = observation(*run), baseline = observation(*match->second);
      pairs.push_back({mitigated.onset_tokens, mitigated.censored, baseline.onset_tokens, baseline.censored});
    }
    MitigationComparison comparison{name, onset_shift(pairs, options.bootstrap, options.seed, options.law.level),
                                    std::nullopt};
    if (laws.count(name) && laws.count(options.baseline))
      comparison.exponent = exponent_difference(*laws[name], *laws[options.baseline], options.law.level);
    fit.comparisons.push_back(comparison);
  }

  std::set<double> sizes, budgets;
  for (const ChinchillaPoint& point : loss_points) sizes.insert(point.params), budgets.insert(point.tokens);
  if (loss_points.size() >= 6 && sizes.size() >= 2 && budgets.size() >= 2) {
    ChinchillaOptions chinchilla;
    chinchilla.threads = options.threads;
    chinchilla.bootstrap = options.bootstrap;
    chinchilla.seed = options.seed;
    chinchilla.level = options.law.level;
    fit.loss_law = analyse_chinchilla(loss_points, chinchilla);
    fit.loss_law_note = fmt::format("final '{}' of {} '{}' runs; N = non-embedding parameters, D = tokens",
                                    options.loss_metric, loss_points.size(), options.baseline);
  } else {
    fit.loss_law_note = fmt::format(
        "not fitted: needs at least 6 '{}' runs with a final '{}' over at least 2 sizes and 2 token counts; "
        "have {} runs, {} sizes, {} token counts",
        options.baseline, options.loss_metric, loss_points.size(), sizes.size(), budgets.size());
  }
  return fit;
}

void write_study_fit(StudyWriter& writer, const StudyFit& fit, const StudyFitOptions& options) {
  DataGroup onsets;
  std::vector<std::string> ids, mitigations, sizes, statuses, seeds;
  std::vector<double> params, onset_tokens, last_probe, probe_index, smooth, smooth_low, smooth_high;
  for (const RunOnset& run : fit.onsets) {
    ids.push_back(run.run_id);
    mitigations.push_back(run.mitigation);
    sizes.push_back(run.size);
    statuses.push_back(onset_status_name(run.onset.status));
    params.push_back(run.params);
    seeds.push_back(std::to_string(run.seed));  // uint64: exact as text, not as float64
    onset_tokens.push_back(run.onset.tokens);
    last_probe.push_back(run.onset.last_probe_tokens);
    probe_index.push_back(run.onset.probe_index);
    smooth.push_back(run.onset.smooth_tokens);
    smooth_low.push_back(run.onset.smooth_low);
    smooth_high.push_back(run.onset.smooth_high);
  }
  onsets.string_lists = {{"run_id", ids},       {"mitigation", mitigations}, {"size", sizes},
                         {"seed", seeds},       {"status", statuses},        {"skipped", fit.skipped}};
  onsets.arrays = {{"params", vector_array(params)},
                   {"onset_tokens", vector_array(onset_tokens)}, {"last_probe_tokens", vector_array(last_probe)},
                   {"probe_index", vector_array(probe_index)},   {"smooth_tokens", vector_array(smooth)},
                   {"smooth_low", vector_array(smooth_low)},     {"smooth_high", vector_array(smooth_high)}};
  onsets.attributes = {{"rule", std::string("minimum of the centred window-3 moving average of probe AUC; "
                                            "minimum in the last window = censored")},
                       {"level", options.law.level},
                       {"smooth_half_width", static_cast<int64_t>(options.onset.smooth_half_width)},
                       {"smooth_bootstrap", static_cast<int64_t>(options.onset.bootstrap)}};
  writer.write_fit_group("onsets", onsets);

  writer.write_fit_group("laws", {});  // drops laws of mitigations no longer in the study
  for (const MitigationLaw& entry : fit.laws) {
    DataGroup group;
    group.attributes["mitigation"] = entry.mitigation;
    if (!entry.law) {
      group.attributes["note"] = entry.note;
      writer.write_fit_group("laws/" + group_name(entry.mitigation), group);
      continue;
    }
    const OnsetLaw& law = *entry.law;
    for (auto [name, value] : {std::pair<const char*, double>{"a", law.a}, {"b", law.b}, {"se_log_a", law.se_log_a},
                               {"se_b", law.se_b}, {"b_low", law.b_low}, {"b_high", law.b_high}, {"sigma", law.sigma},
                               {"r2", law.r2}, {"rmse", law.rmse}, {"loo_rmse", law.loo_rmse},
                               {"level", options.law.level}})
      group.attributes[name] = value;
    for (auto [name, value] : {std::pair<const char*, int>{"runs", law.runs}, {"degraded", law.degraded},
                               {"censored", law.censored}, {"used", law.used}})
      group.attributes[name] = static_cast<int64_t>(value);
    group.attributes["censoring"] = law.censoring;
    group.attributes["censoring_treatment"] = std::string(censoring_treatment_name(options.law.censoring));
    group.arrays["covariance_log_a_b"] = {{2, 2}, {law.covariance, law.covariance + 4}};
    std::vector<double> at, predicted, low, high;
    for (const Prediction& p : law.predictions)
      at.push_back(p.x), predicted.push_back(p.y), low.push_back(p.lo), high.push_back(p.hi);
    group.arrays["predict_params"] = vector_array(at);
    group.arrays["predict_tokens"] = vector_array(predicted);
    group.arrays["predict_low"] = vector_array(low);
    group.arrays["predict_high"] = vector_array(high);
    writer.write_fit_group("laws/" + group_name(entry.mitigation), group);
  }

  writer.write_fit_group("comparisons", {});
  for (const MitigationComparison& comparison : fit.comparisons) {
    DataGroup group;
    group.attributes = {{"mitigation", comparison.mitigation},
                        {"baseline", options.baseline},
                        {"shift_factor", comparison.shift.factor},
                        {"shift_low", comparison.shift.low},
                        {"shift_high", comparison.shift.high},
                        {"pairs", static_cast<int64_t>(comparison.shift.pairs)},
                        {"pairs_used", static_cast<int64_t>(comparison.shift.used)},
                        {"pairs_censored", static_cast<int64_t>(comparison.shift.censored_pairs)},
                        {"bootstrap_replicates", static_cast<int64_t>(comparison.shift.bootstrap_replicates)},
                        {"level", options.law.level}};
    if (comparison.exponent) {
      group.attributes["exponent_difference"] = comparison.exponent->difference;
      group.attributes["exponent_difference_se"] = comparison.exponent->se;
      group.attributes["exponent_difference_low"] = comparison.exponent->low;
      group.attributes["exponent_difference_high"] = comparison.exponent->high;
    }
    writer.write_fit_group("comparisons/" + group_name(comparison.mitigation), group);
  }

  DataGroup loss;
  loss.attributes["note"] = fit.loss_law_note;
  if (fit.loss_law) {
    std::vector<std::string> names;
    std::vector<double> value, se, low, high;
    for (const ParameterEstimate& p : fit.loss_law->params)
      names.push_back(p.name), value.push_back(p.value), se.push_back(p.se), low.push_back(p.ci_low),
          high.push_back(p.ci_high);
    loss.string_lists["param"] = names;
    loss.arrays = {{"value", vector_array(value)}, {"se", vector_array(se)}, {"ci_low", vector_array(low)},
                   {"ci_high", vector_array(high)}};
    for (auto [name, number] : {std::pair<const char*, double>{"objective", fit.loss_law->objective},
                                {"r2", fit.loss_law->r2}, {"r2_log", fit.loss_law->r2_log},
                                {"rmse", fit.loss_law->rmse}, {"loo_rmse", fit.loss_law->loo_rmse},
                                {"level", fit.loss_law->level}})
      loss.attributes[name] = number;
    loss.attributes["n_points"] = static_cast<int64_t>(fit.loss_law->n_points);
    loss.attributes["interval_method"] = fit.loss_law->interval_method;
  }
  writer.write_fit_group("loss_law", loss);
}

std::string study_fit_table(const StudyFit& fit) {
  std::string out = "Onsets (tokens; minimum of the window-3 moving average of probe AUC)\n";
  out += fmt::format("  {:<18} {:<12} {:>8} {:>6} {:>18} {:>30}\n", "run", "mitigation", "size", "seed", "onset",
                     "smooth onset [interval]");
  for (const RunOnset& run : fit.onsets) {
    std::string onset = run.onset.status == OnsetStatus::censored
                            ? fmt::format("> {:.4g}", run.onset.last_probe_tokens)
                            : fmt::format("{:.4g}", run.onset.tokens);
    std::string smooth = std::isnan(run.onset.smooth_tokens)
                             ? "-"
                             : fmt::format("{:.4g} [{:.4g}, {:.4g}]", run.onset.smooth_tokens, run.onset.smooth_low,
                                           run.onset.smooth_high);
    out += fmt::format("  {:<18} {:<12} {:>8} {:>6} {:>18} {:>30}\n", run.run_id.substr(0, 18), run.mitigation,
                       run.size, run.seed, onset, smooth);
  }
  for (const std::string& skipped : fit.skipped) out += fmt::format("  skipped {}\n", skipped);
  out += "\nOnset laws: onset_tokens = a * params^b\n";
  for (const MitigationLaw& entry : fit.laws) {
    if (!entry.law) {
      out += fmt::format("  {:<12} no law: {}\n", entry.mitigation, entry.note);
      continue;
    }
    const OnsetLaw& law = *entry.law;
    out += fmt::format("  {:<12} b = {:.4f} [{:.4f}, {:.4f}]  a = {:.4g}  R2 {:.3f}  RMSE {:.4g}  LOO-RMSE {:.4g}\n",
                       entry.mitigation, law.b, law.b_low, law.b_high, law.a, law.r2, law.rmse, law.loo_rmse);
    out += fmt::format("  {:<12} {} runs, {} degraded, {} censored: {}\n", "", law.runs, law.degraded, law.censored,
                       law.censoring);
    for (const Prediction& p : law.predictions)
      out += fmt::format("  {:<12} at {:.3g} params: onset {:.4g} tokens [{:.4g}, {:.4g}]\n", "", p.x, p.y, p.lo, p.hi);
  }
  if (!fit.comparisons.empty()) out += "\nMitigations against the baseline (matched size, budget and seed)\n";
  for (const MitigationComparison& c : fit.comparisons) {
    out += fmt::format("  {:<12} onset shift x{:.3g} [{:.3g}, {:.3g}] from {} of {} cells ({} censored, left out)",
                       c.mitigation, c.shift.factor, c.shift.low, c.shift.high, c.shift.used, c.shift.pairs,
                       c.shift.censored_pairs);
    if (c.exponent)
      out += fmt::format("; exponent difference {:+.4f} [{:+.4f}, {:+.4f}]", c.exponent->difference, c.exponent->low,
                         c.exponent->high);
    out += "\n";
  }
  out += "\nLoss law L(N, D) = E + A/N^alpha + B/D^beta: ";
  out += fit.loss_law ? fit.loss_law_note + "\n" + to_table(*fit.loss_law) : fit.loss_law_note + "\n";
  return out;
}

}  // namespace plascale::fitting
