#include "report/report.h"

#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

#include "report/figures.h"
#include "report/gnuplot.h"
#include "report/html.h"
#include "report/palette.h"
#include "report/study_data.h"
#include "sweeps/errors.h"
#include "sweeps/format.h"

namespace plascale::report {

namespace {

namespace fs = std::filesystem;

// 4.9e6 -> "4.9M": parameters, tokens and FLOPs at a glance (data files keep every digit).
std::string short_number(double value) {
  if (!std::isfinite(value)) return "-";
  constexpr std::pair<double, const char*> kUnits[] = {{1e18, "E"}, {1e15, "P"}, {1e12, "T"}, {1e9, "B"},
                                                       {1e6, "M"},  {1e3, "k"}};
  for (const auto& [scale, suffix] : kUnits)
    if (std::fabs(value) >= scale) return fmt::format("{:.3g}{}", value / scale, suffix);
  return fmt::format("{:.3g}", value);
}

std::string fixed(double value, int digits = 3) {
  return std::isfinite(value) ? fmt::format("{:.{}f}", value, digits) : "-";
}

std::string interval(double low, double high) {
  return fmt::format("[{}, {}]", short_number(low), short_number(high));
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A table from already-escaped cells.
std::string table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::string html = "<table><thead><tr>";
  for (const std::string& cell : header) html += "<th>" + cell + "</th>";
  html += "</tr></thead><tbody>\n";
  for (const auto& row : rows) {
    html += "<tr>";
    for (const std::string& cell : row) html += "<td>" + cell + "</td>";
    html += "</tr>\n";
  }
  return html + "</tbody></table>\n";
}

std::string note(const std::string& text) { return "<p class=\"note\">" + html_escape(text) + "</p>\n"; }

struct Page {
  fs::path out_dir;
  std::string gnuplot;
  std::vector<fs::path> drawn;

  // Runs the figure's script and inlines the SVG it drew.
  std::string figure(const Figure& figure, const std::string& css_class = "") {
    const fs::path script = fs::path("figures") / (figure.name + ".gp");
    const fs::path svg = out_dir / "figures" / (figure.name + ".svg");
    const fs::path log = out_dir / "figures" / (figure.name + ".log");
    run_gnuplot(gnuplot, out_dir, script, log);
    if (fs::file_size(log) == 0) fs::remove(log);
    drawn.push_back(svg);
    std::string html = fmt::format("<figure{}><img src=\"data:image/svg+xml;base64,{}\" alt=\"{}\">",
                                   css_class.empty() ? "" : " class=\"" + css_class + "\"", base64(read_file(svg)),
                                   html_escape(figure.title));
    if (!figure.caption.empty()) html += "<figcaption>" + html_escape(figure.caption) + "</figcaption>";
    return html + "</figure>\n";
  }
};

constexpr const char* kStyle = R"(body{font-family:'DejaVu Sans',sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f4}figure{margin:1em 0}figure img{max-width:100%;height:auto}figcaption{font-size:.9em;color:#444}
.grid{display:flex;flex-wrap:wrap;gap:.5em}.grid figure{margin:0;flex:0 0 48%}.note{color:#8a5300}
.status-done{color:#1a7f37}.status-failed,.status-diverged{color:#b42318;font-weight:bold}.status-running{color:#0b62a4}
.swatch{display:inline-block;width:.9em;height:.9em;border-radius:2px;vertical-align:middle;margin-right:.3em}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:.85em}code{font-size:.95em})";

std::string swatch(const std::string& colour) {
  return "<span class=\"swatch\" style=\"background:" + html_escape(colour) + "\"></span>";
}

// The sweep's axes (from the runs, so a partly registered study shows what it has) and
// its shared settings (from the stored sweep text).
std::string sweep_tables(const StudyData& study, const Palette& palette) {
  std::string html;
  std::vector<std::vector<std::string>> sizes;
  for (const std::string& size : study.sizes) {
    for (const RunData& run : study.runs) {
      if (run.info.attributes.size != size) continue;
      std::string shape = "-";
      if (study.sweep)
        for (const SweepSize& entry : study.sweep->sizes)
          if (entry.model.size_name == size)
            shape = fmt::format("{} x {}, {} heads", entry.model.layers, entry.model.d_model, entry.model.heads);
      sizes.push_back({swatch(palette.size.at(size)) + html_escape(size),
                       short_number(static_cast<double>(run.info.attributes.n_params_nonembedding)),
                       short_number(static_cast<double>(run.info.attributes.n_params_total)), shape});
      break;
    }
  }
  html += "<h3>Sweep</h3>\n";
  html += table({"size", "non-embedding params", "total params", "layers x d_model"}, sizes);
  std::vector<std::string> mitigations, budgets, seeds;
  for (const std::string& m : study.mitigations) mitigations.push_back(swatch(palette.mitigation.at(m)) + html_escape(m));
  std::set<int64_t> budget_set;
  std::set<uint64_t> seed_set;
  for (const RunData& run : study.runs)
    budget_set.insert(run.info.attributes.token_budget), seed_set.insert(run.info.attributes.seed);
  for (int64_t budget : budget_set) budgets.push_back(format_token_count(budget));
  for (uint64_t seed : seed_set) seeds.push_back(std::to_string(seed));
  std::vector<std::vector<std::string>> axes{{"mitigations", fmt::format("{}", fmt::join(mitigations, " &nbsp; "))},
                                             {"token budgets", fmt::format("{}", fmt::join(budgets, ", "))},
                                             {"seeds", fmt::format("{}", fmt::join(seeds, ", "))}};
  if (study.sweep) {
    const Schedule& schedule = study.sweep->schedule;
    if (schedule.kind == ScheduleKind::continual) {
      axes.push_back({"schedule", html_escape(fmt::format("continual: {} tokens per task over [{}], {} cycle(s), "
                                                          "optimizer reset per task: {}",
                                                          format_token_count(schedule.tokens_per_task),
                                                          fmt::join(schedule.order, ", "), schedule.cycles,
                                                          schedule.reset_optimizer ? "yes" : "no"))});
    } else {
      std::vector<std::string> weights;
      for (const auto& [source, weight] : schedule.weights) weights.push_back(fmt::format("{} {:g}", source, weight));
      axes.push_back({"schedule", html_escape(fmt::format("stationary mixture: {}", fmt::join(weights, ", ")))});
    }
    const ProbeConfig& probe = study.sweep->probe;
    std::vector<std::string> when;
    if (probe.at_start) when.push_back("at the start");
    if (probe.every_tasks) when.push_back(fmt::format("every {} task(s)", probe.every_tasks));
    if (probe.every_tokens) when.push_back("every " + format_token_count(probe.every_tokens) + " tokens");
    axes.push_back({"probe", probe.enabled ? html_escape(fmt::format(
                                                 "on '{}': {} steps, validation every {} steps on {} sequences; "
                                                 "taken {}; scratch baseline: {}",
                                                 probe.source, probe.steps, probe.eval_interval, probe.eval_sequences,
                                                 fmt::join(when, ", "), probe.scratch_baseline ? "yes" : "no"))
                                           : "disabled"});
  } else {
    axes.push_back({"sweep", html_escape("the stored sweep does not parse here (" + study.sweep_error +
                                         "); its text is below")});
  }
  html += table({"axis", "values"}, axes);
  html += "<details><summary>Sweep YAML as stored in the study</summary><pre>" + html_escape(study.info.sweep_yaml) +
          "</pre></details>\n";

  return html;
}

std::string header_section(const StudyData& study, const Palette& palette) {
  std::string html;
  const std::string name = study.sweep ? study.sweep->name : study.dir.filename().string();
  html += "<h1>plascale report: " + html_escape(name) + "</h1>\n";
  html += "<p>Study <code>" + html_escape(study.dir.string()) + "</code>, created " +
          html_escape(study.info.created_utc) + " by plascale " + html_escape(study.info.plascale_version) +
          ", sweep hash <code>" + html_escape(study.info.sweep_hash) + "</code>.</p>\n";

  // Completion and compute.
  std::map<RunStatus, int> counts;
  double trained = 0, planned = 0, flops_used = 0, flops_planned = 0;
  bool flops_known = true;
  for (const RunData& run : study.runs) {
    ++counts[run.info.attributes.status];
    const double tokens = static_cast<double>(run.info.last_tokens.value_or(0));
    trained += tokens;
    planned += static_cast<double>(run.info.attributes.token_budget);
    flops_known = flops_known && std::isfinite(run.flops_per_token);
    flops_used += tokens * run.flops_per_token;
    flops_planned += run.planned_flops;
  }
  std::vector<std::string> parts;
  for (RunStatus status : {RunStatus::done, RunStatus::running, RunStatus::pending, RunStatus::failed,
                           RunStatus::diverged})
    parts.push_back(fmt::format("<span class=\"status-{0}\">{1} {0}</span>", run_status_name(status), counts[status]));
  html += fmt::format("<p><b>Completion:</b> {} runs: {}.</p>\n", study.runs.size(), fmt::join(parts, ", "));
  html += fmt::format("<p><b>Compute used:</b> {} of {} planned training tokens ({:.1f}%)", short_number(trained),
                      short_number(planned), planned > 0 ? 100 * trained / planned : 0.0);
  if (flops_known)
    html += fmt::format("; about {} training FLOPs of {} planned (probes included in the plan; 6N + attention per "
                        "token, sweeps/cost.h)",
                        short_number(flops_used), short_number(flops_planned));
  html += ".</p>\n";
  if (counts[RunStatus::failed] + counts[RunStatus::diverged] + counts[RunStatus::pending] + counts[RunStatus::running])
    html += note("The study is not complete: figures and fits use the data recorded so far; fits use done runs only.");

  html += sweep_tables(study, palette);

  if (study.fits_computed)
    html += note("This study has no /fits yet: the fits on this page were computed in memory by the report with "
                 "default options and not stored. Run `plascale fit " + study.dir.string() + "` to store them.");
  else
    html += "<p>Fits read from <code>study.h5:/fits</code> (written by <code>plascale fit</code>).</p>\n";
  if (!study.stale_runs.empty())
    html += note(fmt::format("{} done run(s) finished after the stored fits were written and are not in them ({}); "
                             "rerun `plascale fit` to include them.",
                             study.stale_runs.size(), fmt::join(study.stale_runs, ", ")));
  return html;
}

std::string law_tables(const StudyData& study) {
  std::vector<std::vector<std::string>> rows, predictions;
  std::string notes;
  for (const fitting::MitigationLaw& entry : study.fit.laws) {
    if (!entry.law) {
      notes += note("No onset law for '" + entry.mitigation + "': " + entry.note);
      continue;
    }
    const fitting::OnsetLaw& law = *entry.law;
    rows.push_back({html_escape(entry.mitigation), fmt::format("{:.4g}", law.a),
                    fmt::format("{} [{}, {}]", fixed(law.b, 4), fixed(law.b_low, 4), fixed(law.b_high, 4)),
                    fixed(law.se_b, 4), fixed(law.sigma), fixed(law.r2), short_number(law.rmse),
                    short_number(law.loo_rmse),
                    fmt::format("{} / {} / {} / {}", law.runs, law.degraded, law.censored, law.used),
                    html_escape(law.censoring)});
    for (const fitting::Prediction& p : law.predictions)
      predictions.push_back({html_escape(entry.mitigation), short_number(p.x), short_number(p.y),
                             interval(p.lo, p.hi)});
  }
  std::string html;
  if (!rows.empty()) {
    html += table({"mitigation", "a", fmt::format("b [{:g}% CI]", 100 * study.level), "SE(b)", "sigma (log)", "R²",
                   "RMSE (tokens)", "LOO-RMSE (tokens)", "runs / degraded / censored / used", "censored runs"},
                  rows);
    html += "<p>R², RMSE and leave-one-out RMSE on the degraded runs' onsets in linear space, as the reference "
            "study reports them.</p>\n";
  }
  if (!predictions.empty())
    html += table({"mitigation", "parameters", "extrapolated onset (tokens)",
                   fmt::format("{:g}% prediction interval", 100 * study.level)},
                  predictions);
  return html + notes;
}

std::string comparison_table(const StudyData& study) {
  std::vector<std::vector<std::string>> rows;
  for (const fitting::MitigationComparison& c : study.fit.comparisons) {
    rows.push_back({html_escape(c.mitigation),
                    std::isfinite(c.shift.factor) ? fmt::format("x{:.3g} [{:.3g}, {:.3g}]", c.shift.factor,
                                                                c.shift.low, c.shift.high)
                                                  : "no cell where both runs degraded",
                    fmt::format("{} of {} ({} censored, left out)", c.shift.used, c.shift.pairs,
                                c.shift.censored_pairs),
                    c.exponent ? fmt::format("{:+.4f} [{:+.4f}, {:+.4f}]", c.exponent->difference, c.exponent->low,
                                             c.exponent->high)
                               : "needs both laws"});
  }
  return table({"mitigation", fmt::format("onset shift vs {} [{:g}% CI]", html_escape(study.baseline),
                                          100 * study.level),
                "cells used", "b - b(baseline)"},
               rows);
}

std::string loss_law_table(const fitting::FitSummary& law) {
  std::vector<std::vector<std::string>> rows;
  for (const fitting::ParameterEstimate& p : law.params)
    rows.push_back({html_escape(p.name), fmt::format("{:.4g}", p.value), fmt::format("{:.3g}", p.se),
                    fmt::format("[{:.4g}, {:.4g}]", p.ci_low, p.ci_high)});
  return table({"parameter", "value", "SE", fmt::format("{:g}% CI ({})", 100 * law.level,
                                                        html_escape(law.interval_method))},
               rows) +
         fmt::format("<p>{} points; R² {:.3f} (log {:.3f}), RMSE {:.4g}, leave-one-out RMSE {:.4g}.</p>\n",
                     law.n_points, law.r2, law.r2_log, law.rmse, law.loo_rmse);
}

std::string onset_text(const StudyData& study, const std::string& id) {
  for (const fitting::RunOnset& run : study.fit.onsets) {
    if (run.run_id != id) continue;
    if (run.onset.status == fitting::OnsetStatus::censored)
      return "censored: &gt; " + short_number(run.onset.last_probe_tokens);
    if (!std::isfinite(run.onset.smooth_tokens)) return short_number(run.onset.tokens);
    return fmt::format("{}<br>smooth {} {}", short_number(run.onset.tokens), short_number(run.onset.smooth_tokens),
                       interval(run.onset.smooth_low, run.onset.smooth_high));
  }
  for (const std::string& skipped : study.fit.skipped)
    if (skipped.rfind(id + ":", 0) == 0) return html_escape(skipped.substr(id.size() + 1));
  return "-";
}

std::string runs_section(const StudyData& study, const Palette& palette, const fs::path& out_dir) {
  std::vector<std::vector<std::string>> rows;
  for (const RunData& run : study.runs) {
    const RunAttributes& a = run.info.attributes;
    std::string error = a.last_error;
    if (!run.info.run_file_error.empty()) error += (error.empty() ? "" : "; ") + ("run.h5: " + run.info.run_file_error);
    const fs::path run_file = run_file_path(study.dir, a.id);
    std::string links = "<a href=\"" + html_escape(file_url(study_file_path(study.dir).string())) +
                        "\">study.h5</a>:/runs/" + html_escape(a.id);
    if (fs::exists(run_file))
      links += "<br><a href=\"" + html_escape(file_url(run_file.string())) + "\">runs/" + html_escape(a.id) +
               "/run.h5</a>";
    const fs::path heatmap = out_dir / "data" / ("dormant_" + file_safe(a.id) + ".dat");
    if (fs::exists(heatmap)) links += "<br><a href=\"data/" + html_escape(heatmap.filename().string()) + "\">dormant data</a>";
    rows.push_back({"<code>" + html_escape(a.id) + "</code>", swatch(palette.size.at(a.size)) + html_escape(a.size),
                    short_number(static_cast<double>(a.n_params_nonembedding)),
                    short_number(static_cast<double>(a.token_budget)),
                    swatch(palette.mitigation.at(a.mitigation)) + html_escape(a.mitigation), std::to_string(a.seed),
                    fmt::format("<span class=\"status-{0}\">{0}</span>", run_status_name(a.status)),
                    std::to_string(a.attempts), run.info.last_tokens ? short_number(*run.info.last_tokens) : "-",
                    std::to_string(run.probe.probes()), onset_text(study, a.id), html_escape(error), links});
  }
  return table({"run", "size", "params", "budget", "mitigation", "seed", "status", "attempts", "tokens", "probes",
                fmt::format("onset (tokens; smooth onset [{:g}% interval])", 100 * study.level), "last error", "data"},
               rows);
}

}  // namespace

ReportResult write_report(const fs::path& study_dir, const ReportOptions& options) {
  if (options.out_dir.empty()) throw InputError("--out: the report folder must be given");
  const StudyData study = load_study_data(study_dir, options.fit);
  // Figures and data of an earlier report into DIR (say, of a mitigation since renamed) would
  // mislead; only the kinds of file the report writes there are removed.
  for (const auto& [folder, extensions] : {std::pair<const char*, std::vector<std::string>>{"figures", {".gp", ".svg", ".log"}},
                                           {"data", {".dat"}}}) {
    const fs::path path = options.out_dir / folder;
    fs::create_directories(path);
    for (const auto& entry : fs::directory_iterator(path))
      if (entry.is_regular_file() &&
          std::find(extensions.begin(), extensions.end(), entry.path().extension().string()) != extensions.end())
        fs::remove(entry.path());
  }
  const Palette palette = make_palette(study.mitigations, study.sizes);
  const FigureContext context{options.out_dir, study, palette};
  Page page{options.out_dir, options.gnuplot, {}};

  std::string body = header_section(study, palette);

  body += "<h2>Plasticity trajectories</h2>\n";
  const std::vector<Figure> trajectories = trajectory_figures(context);
  if (trajectories.empty()) body += note("No run has recorded a probe after training started yet.");
  for (const Figure& figure : trajectories) body += page.figure(figure);

  body += "<h2>Onset law</h2>\n";
  if (auto figure = onset_law_figure(context)) body += page.figure(*figure);
  else body += note("No run has an onset or a censoring point yet (onsets need done runs with at least 3 probes).");
  body += law_tables(study);

  body += "<h2>Mitigation comparison</h2>\n";
  if (study.fit.comparisons.empty()) {
    body += note(study.mitigations.size() < 2
                     ? "The study has one mitigation only: nothing to compare."
                     : "No mitigation has a run matching a " + study.baseline +
                           " run (same size, budget and seed) with an onset or censoring point yet.");
  } else {
    if (auto figure = comparison_figure(context)) body += page.figure(*figure);
    body += comparison_table(study);
  }

  body += "<h2>Diagnostics</h2>\n<h3>Dormant MLP units per layer</h3>\n";
  const std::vector<Figure> heatmaps = heatmap_figures(context, options.max_heatmaps);
  if (heatmaps.empty()) body += note("No run has recorded dormant_fraction yet.");
  body += "<div class=\"grid\">\n";
  for (const Figure& figure : heatmaps) body += page.figure(figure);
  body += "</div>\n";
  if (!heatmaps.empty())
    body += "<p>Fraction of each layer's MLP units that are dormant (score at or below the sweep's threshold), "
            "per run: darker = more dormant.</p>\n";
  size_t with_dormant = 0;
  for (const RunData& run : study.runs) with_dormant += run.trajectory.metrics.count("dormant_fraction");
  if (with_dormant > heatmaps.size())
    body += note(fmt::format("{} of {} runs with dormant-unit data are drawn (ReportOptions::max_heatmaps); every "
                             "run's numbers are in study.h5.",
                             heatmaps.size(), with_dormant));
  body += "<h3>Attention, parameters, losses and other metrics</h3>\n";
  for (const Figure& figure : diagnostic_figures(context)) body += page.figure(figure);

  body += "<h2>Loss law L(N, D)</h2>\n";
  if (auto figure = loss_law_figure(context)) {
    body += page.figure(*figure);
    body += loss_law_table(*study.fit.loss_law);
  } else {
    body += note("Not shown: " + study.fit.loss_law_note +
                 ". The law is fitted when at least 6 done baseline runs with a final validation loss cover at least "
                 "2 sizes and 2 token counts.");
  }

  body += "<h2>Runs</h2>\n" + runs_section(study, palette, options.out_dir);
  body += fmt::format("<p>Data files of every figure: <code>data/</code>; gnuplot scripts: <code>figures/</code> "
                      "(run from this folder: <code>gnuplot figures/NAME.gp</code>).</p>\n");

  const std::string title = study.sweep ? study.sweep->name : study.dir.filename().string();
  const std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
      "style-src 'unsafe-inline'\">\n<title>plascale report: " +
      html_escape(title) + "</title>\n<style>\n" + kStyle + "\n</style>\n</head>\n<body>\n" + body +
      "</body>\n</html>\n";
  const fs::path page_path = options.out_dir / "index.html";
  std::ofstream out(page_path, std::ios::binary);
  out << html;
  if (!out.flush()) throw std::runtime_error("cannot write " + page_path.string());
  return {page_path, page.drawn, study.fits_computed};
}

}  // namespace plascale::report
