#include "report/figures.h"

#include <fmt/core.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>

#include "report/gnuplot.h"
#include "report/series.h"

namespace plascale::report {

namespace {

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out.flush()) throw std::runtime_error(fmt::format("cannot write {}", path.string()));
}

// "# ..." comment lines with newlines flattened, so a label cannot break the file.
std::string comment(const std::string& text) {
  std::string line = "# ";
  for (char c : text) line += (c == '\n' || c == '\r') ? ' ' : c;
  return line + "\n";
}

std::string number(double value) { return std::isfinite(value) ? fmt::format("{:.10g}", value) : "NaN"; }

// A data file of numeric rows; `header` says what the columns are.
void write_table(const FigureContext& context, const std::string& file, const std::string& header,
                 const std::vector<std::vector<double>>& rows) {
  std::string text = comment("written by plascale report; " + header);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      if (c > 0) text += ' ';
      text += number(row[c]);
    }
    text += "\n";
  }
  write_text(context.out_dir / "data" / file, text);
}

// The script's opening: terminal, output, style shared by every figure.
std::string script_header(const std::string& name, const std::string& title, int width, int height) {
  return comment(title) + comment("drawn by plascale report; run from the report folder: gnuplot figures/" + name + ".gp") +
         "reset session\n" +
         fmt::format("set terminal svg size {},{} noenhanced font 'DejaVu Sans,11' background '#ffffff'\n", width,
                     height) +
         fmt::format("set output {}\n", gnuplot_quote("figures/" + name + ".svg")) +
         "set grid lc rgb '#e0e0e0'\nset key top left font ',9' samplen 2\n"
         "positive(x) = x > 0 ? x : NaN\n";
}

std::string data_path(const std::string& file) { return gnuplot_quote("data/" + file); }

int rgb_int(const std::string& colour) { return std::stoi(colour.substr(1), nullptr, 16); }

std::vector<const RunData*> runs_of(const StudyData& study, const std::string& mitigation, const std::string& size) {
  std::vector<const RunData*> runs;
  for (const RunData& run : study.runs)
    if (run.info.attributes.mitigation == mitigation && run.info.attributes.size == size) runs.push_back(&run);
  return runs;
}

const RunData* find_run(const StudyData& study, const std::string& id) {
  for (const RunData& run : study.runs)
    if (run.info.attributes.id == id) return &run;
  return nullptr;
}

std::vector<std::vector<double>> band_rows(const SeedBand& band) {
  std::vector<std::vector<double>> rows;
  for (size_t i = 0; i < band.x.size(); ++i)
    rows.push_back({band.x[i], band.mean[i], band.low[i], band.high[i], static_cast<double>(band.runs[i])});
  return rows;
}

constexpr const char* kBandColumns = "columns: tokens, mean over seeds, min, max, runs at this point";

std::string panel_layout(size_t panels, int* width, int* height, int panel_height) {
  const size_t columns = std::min<size_t>(2, panels), rows = (panels + 1) / 2;
  *width = columns == 1 ? 640 : 1000;
  *height = static_cast<int>(rows) * panel_height + 30;
  return fmt::format("set multiplot layout {},{}\n", rows, columns);
}

// One band + mean line per plotted series: "file using ... filledcurves, file using ... lines".
std::string band_clauses(const std::string& file, const std::string& colour, const std::string& title,
                         const std::string& x, int dashtype) {
  return fmt::format("{0} using ({1}):3:4 with filledcurves fc rgb {2} fs transparent solid 0.18 noborder notitle, "
                     "{0} using ({1}):2 with linespoints lc rgb {2} lw 2 dt {3} pt 7 ps 0.4 title {4}",
                     data_path(file), x, gnuplot_quote(colour), dashtype, gnuplot_quote(title));
}

}  // namespace

std::string file_safe(const std::string& label) {
  std::string safe;
  for (char c : label) safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '_';
  return safe.empty() ? "_" : safe;
}

std::vector<Figure> trajectory_figures(const FigureContext& context) {
  const StudyData& study = context.study;
  std::vector<Figure> figures;
  for (size_t m = 0; m < study.mitigations.size(); ++m) {
    const std::string& mitigation = study.mitigations[m];
    const std::string name = fmt::format("probe_auc_m{}", m);
    std::vector<std::string> clauses[2];  // vs first probe, vs scratch
    bool has_scratch = false;
    for (size_t s = 0; s < study.sizes.size(); ++s) {
      std::vector<Series> first, scratch;
      for (const RunData* run : runs_of(study, mitigation, study.sizes[s])) {
        NormalisedAuc auc = normalised_auc(run->probe);
        first.push_back({auc.tokens, auc.vs_first});
        scratch.push_back({auc.tokens, auc.vs_scratch});
      }
      const SeedBand bands[2] = {seed_band(first), seed_band(scratch)};
      const char* kinds[2] = {"first", "scratch"};
      for (int panel = 0; panel < 2; ++panel) {
        if (bands[panel].x.empty() || bands[panel].x.back() <= 0) continue;  // nothing on a log axis yet
        const std::string file = fmt::format("{}_s{}_{}.dat", name, s, kinds[panel]);
        write_table(context, file,
                    fmt::format("probe dAUC (%) vs the {} probe; mitigation {}, size {}; {}",
                                panel == 0 ? "first" : "scratch-baseline", mitigation, study.sizes[s], kBandColumns),
                    band_rows(bands[panel]));
        clauses[panel].push_back(
            band_clauses(file, context.palette.size.at(study.sizes[s]), study.sizes[s], "positive($1)", 1));
        has_scratch = has_scratch || panel == 1;
      }
    }
    if (clauses[0].empty()) continue;  // no run of this mitigation has probed yet

    // Onsets at their probe; censored runs at their last probe, drawn apart.
    std::vector<std::vector<double>> degraded, censored;
    for (const fitting::RunOnset& onset : study.fit.onsets) {
      const RunData* run = onset.mitigation == mitigation ? find_run(study, onset.run_id) : nullptr;
      if (run == nullptr || run->probe.probes() == 0) continue;
      const NormalisedAuc auc = normalised_auc(run->probe);
      const double colour = rgb_int(context.palette.size.at(run->info.attributes.size));
      if (onset.onset.status == fitting::OnsetStatus::degraded && onset.onset.probe_index >= 0 &&
          static_cast<size_t>(onset.onset.probe_index) < auc.tokens.size()) {
        const size_t k = onset.onset.probe_index;
        degraded.push_back({auc.tokens[k], auc.vs_first[k], auc.vs_scratch[k], colour});
      } else if (onset.onset.status == fitting::OnsetStatus::censored) {
        const size_t k = auc.tokens.size() - 1;
        censored.push_back({auc.tokens[k], auc.vs_first[k], auc.vs_scratch[k], colour});
      }
    }
    const char* columns = "columns: tokens, dAUC vs first probe (%), dAUC vs scratch (%), size colour (0xRRGGBB)";
    // A marker filled in its size's colour under a black outline; the key shows the outline alone.
    for (auto [rows, kind, filled, outline, title] :
         {std::tuple{&degraded, "onsets", 7, 6, "onset (run)"},
          std::tuple{&censored, "censored", 9, 8, "censored: no onset by its last probe"}}) {
      if (rows->empty()) continue;
      const std::string file = fmt::format("{}_{}.dat", name, kind);
      write_table(context, file, fmt::format("{} of mitigation {}; {}", kind, mitigation, columns), *rows);
      for (int panel = 0; panel < 2; ++panel)
        clauses[panel].push_back(fmt::format(
            "{0} using (positive($1)):{1}:4 with points pt {2} ps 1.4 lc rgb variable notitle, "
            "{0} using (positive($1)):{1} with points pt {3} ps 1.4 lw 1 lc rgb '#000000' title {4}",
            data_path(file), panel + 2, filled, outline, gnuplot_quote(title)));
    }

    const std::string title = "Probe AUC over training: " + mitigation;
    int width = 0, height = 0;
    std::string body = panel_layout(has_scratch ? 2 : 1, &width, &height, 380);
    body += "set logscale x\nset xlabel 'training tokens (log)'\nset format x '%.0s%c'\n";
    body += fmt::format("set title {}\nset ylabel 'dAUC (%)'\nplot {}\n",
                        gnuplot_quote(mitigation + ": vs the first probe"), fmt::join(clauses[0], ", \\\n  "));
    if (has_scratch)
      body += fmt::format("set title {}\nplot {}\n", gnuplot_quote(mitigation + ": vs the scratch baseline"),
                          fmt::join(clauses[1], ", \\\n  "));
    body += "unset multiplot\n";
    write_text(context.out_dir / "figures" / (name + ".gp"), script_header(name, title, width, height) + body);
    figures.push_back(
        {name, title,
         fmt::format("Probe AUC relative to the run's first probe (left){}, in percent; higher = slower adaptation. "
                     "One line per size (mean over seeds; band = min..max over seeds). Circles: onsets; triangles: runs "
                     "censored at their last probe (both in their size's colour). The probe at 0 tokens is off the "
                     "log axis.",
                     has_scratch ? " and to the same probe from a fresh initialisation (right)" : "")});
  }
  return figures;
}

std::optional<Figure> onset_law_figure(const FigureContext& context) {
  const StudyData& study = context.study;
  const std::string name = "onset_law";
  std::vector<std::string> clauses;
  // Log axes: runs without a positive parameter count (hand-made studies) cannot be placed.
  double min_params = INFINITY, max_params = 0;
  for (const fitting::RunOnset& onset : study.fit.onsets)
    if (onset.params > 0) min_params = std::min(min_params, onset.params), max_params = std::max(max_params, onset.params);
  if (max_params == 0) return std::nullopt;
  for (const fitting::MitigationLaw& law : study.fit.laws)
    if (law.law)
      for (const fitting::Prediction& p : law.law->predictions) max_params = std::max(max_params, p.x);

  for (size_t m = 0; m < study.mitigations.size(); ++m) {
    const std::string& mitigation = study.mitigations[m];
    const std::string colour = gnuplot_quote(context.palette.mitigation.at(mitigation));
    std::vector<std::vector<double>> degraded, censored;
    for (const fitting::RunOnset& onset : study.fit.onsets) {
      if (onset.mitigation != mitigation || onset.params <= 0) continue;
      if (onset.onset.status == fitting::OnsetStatus::degraded) degraded.push_back({onset.params, onset.onset.tokens});
      if (onset.onset.status == fitting::OnsetStatus::censored)
        censored.push_back({onset.params, onset.onset.last_probe_tokens});
    }
    auto law = std::find_if(study.fit.laws.begin(), study.fit.laws.end(),
                            [&](const fitting::MitigationLaw& l) { return l.mitigation == mitigation && l.law; });
    if (law != study.fit.laws.end()) {
      const LawCurve curve = law_curve(*law->law, log_grid(min_params / 1.5, max_params * 1.5, 60), study.level);
      std::vector<std::vector<double>> rows;
      for (size_t i = 0; i < curve.params.size(); ++i)
        rows.push_back({curve.params[i], curve.tokens[i], curve.low[i], curve.high[i]});
      const std::string file = fmt::format("{}_m{}_law.dat", name, m);
      write_table(context, file,
                  fmt::format("onset law of mitigation {}: a = {}, b = {}; columns: non-embedding parameters, "
                              "onset tokens, {:g}% confidence band low, high",
                              mitigation, number(law->law->a), number(law->law->b), 100 * study.level),
                  rows);
      clauses.push_back(fmt::format("{0} using 1:3:4 with filledcurves fc rgb {1} fs transparent solid 0.15 noborder "
                                    "notitle, {0} using 1:2 with lines lc rgb {1} lw 2 title {2}",
                                    data_path(file), colour,
                                    gnuplot_quote(fmt::format("{}: law, b = {:.3f}", mitigation, law->law->b))));
      std::vector<std::vector<double>> predictions;
      for (const fitting::Prediction& p : law->law->predictions) predictions.push_back({p.x, p.y, p.lo, p.hi});
      if (!predictions.empty()) {
        const std::string predicted = fmt::format("{}_m{}_predicted.dat", name, m);
        write_table(context, predicted,
                    fmt::format("extrapolated onsets of mitigation {}; columns: non-embedding parameters, onset "
                                "tokens, {:g}% prediction interval low, high",
                                mitigation, 100 * study.level),
                    predictions);
        clauses.push_back(fmt::format("{} using 1:2:3:4 with yerrorbars pt 5 ps 1.2 lc rgb {} title {}",
                                      data_path(predicted), colour,
                                      gnuplot_quote(mitigation + ": extrapolated (prediction interval)")));
      }
    }
    for (auto [rows, kind, style, title] :
         {std::tuple{&degraded, "onsets", "pt 7 ps 1.2", ": onsets"},
          std::tuple{&censored, "censored", "pt 8 ps 1.4 lw 2", ": censored (onset > last probe)"}}) {
      if (rows->empty()) continue;
      const std::string file = fmt::format("{}_m{}_{}.dat", name, m, kind);
      write_table(context, file,
                  fmt::format("{} of mitigation {}; columns: non-embedding parameters, {} tokens", kind, mitigation,
                              std::string(kind) == "onsets" ? "onset" : "last probe"),
                  *rows);
      clauses.push_back(fmt::format("{} using 1:2 with points {} lc rgb {} title {}", data_path(file), style, colour,
                                    gnuplot_quote(mitigation + title)));
    }
  }
  if (clauses.empty()) return std::nullopt;
  const std::string title = "Onset law: onset tokens = a * P^b";
  std::string body = "set logscale xy\nset format x '%.0s%c'\nset format y '%.0s%c'\n"
                     "set xlabel 'non-embedding parameters P'\nset ylabel 'onset (training tokens)'\n"
                     "set key top left\n";
  body += fmt::format("set xrange [{}:{}]\nplot {}\n", number(min_params / 1.5), number(max_params * 1.5),
                      fmt::join(clauses, ", \\\n  "));
  write_text(context.out_dir / "figures" / (name + ".gp"), script_header(name, title, 900, 560) + body);
  return Figure{name, title,
                fmt::format("Onset of plasticity loss (tokens) against non-embedding parameters, log-log. Circles: "
                            "runs with an onset; open triangles: censored runs at their last probe (their onset is "
                            "later). Lines: fitted laws with their {0:g}% confidence band; squares: extrapolated "
                            "onsets with {0:g}% prediction intervals.",
                            100 * study.level)};
}

std::optional<Figure> comparison_figure(const FigureContext& context) {
  const StudyData& study = context.study;
  const std::string name = "mitigation_comparison";
  std::vector<std::vector<double>> shifts, exponents;
  std::vector<std::string> shift_labels, exponent_labels;
  for (const fitting::MitigationComparison& c : study.fit.comparisons) {
    if (!std::isfinite(c.shift.factor) || !context.palette.mitigation.count(c.mitigation)) continue;
    shifts.push_back({c.shift.factor, c.shift.low, c.shift.high, static_cast<double>(shift_labels.size()),
                      static_cast<double>(rgb_int(context.palette.mitigation.at(c.mitigation)))});
    shift_labels.push_back(c.mitigation);
  }
  for (const fitting::MitigationLaw& law : study.fit.laws) {
    if (!law.law || !context.palette.mitigation.count(law.mitigation)) continue;
    exponents.push_back({law.law->b, law.law->b_low, law.law->b_high, static_cast<double>(exponent_labels.size()),
                         static_cast<double>(rgb_int(context.palette.mitigation.at(law.mitigation)))});
    exponent_labels.push_back(law.mitigation);
  }
  if (shifts.empty() && (exponents.size() < 2 || study.fit.comparisons.empty())) return std::nullopt;
  auto ytics = [](const std::vector<std::string>& labels) {
    std::vector<std::string> tics;
    for (size_t i = 0; i < labels.size(); ++i) tics.push_back(fmt::format("{} {}", gnuplot_quote(labels[i]), i));
    return fmt::format("set ytics ({})\nset yrange [-0.7:{}]\n", fmt::join(tics, ", "), labels.size() - 0.3);
  };
  const size_t panels = !shifts.empty() + !exponents.empty();
  double shift_low = 1.0, shift_high = 1.0;  // the range always shows "no effect"
  for (const auto& row : shifts)
    for (double value : {row[0], row[1], row[2]})
      if (std::isfinite(value) && value > 0) shift_low = std::min(shift_low, value), shift_high = std::max(shift_high, value);
  int width = 0, height = 0;
  const size_t rows = std::max(shifts.size(), exponents.size());
  std::string body = panel_layout(panels, &width, &height, static_cast<int>(std::max<size_t>(260, 110 + 45 * rows)));
  body += "set key off\nset grid noytics\n";
  if (!shifts.empty()) {
    write_table(context, name + "_shift.dat",
                fmt::format("onset shift factor vs baseline {}; columns: factor, {:g}% interval low, high, row, "
                            "colour (0xRRGGBB); rows in order: {}",
                            study.baseline, 100 * study.level, fmt::join(shift_labels, ", ")),
                shifts);
    body += ytics(shift_labels);
    // A log axis only when the factors span enough of it to carry tick labels.
    const bool log_axis = shift_high / shift_low > 4;
    body += fmt::format("{}set xrange [{}:{}]\nset xlabel {}\n"
                        "set title 'Onset shift factor'\nset arrow 1 from 1, graph 0 to 1, graph 1 nohead dt 2 "
                        "lc rgb '#777777'\nplot {} using 1:4:2:3:5 with xerrorbars pt 7 ps 1.5 lw 2 lc rgb variable\n"
                        "unset arrow 1\nunset logscale x\nset autoscale x\n",
                        log_axis ? "set logscale x\n" : "", number(shift_low / 1.25), number(shift_high * 1.25),
                        gnuplot_quote("onset shift factor vs " + study.baseline +
                                      (log_axis ? " (log; > 1 = later onset)" : " (> 1 = later onset)")),
                        data_path(name + "_shift.dat"));
  }
  if (!exponents.empty()) {
    write_table(context, name + "_exponent.dat",
                fmt::format("onset-law exponent b per mitigation; columns: b, {:g}% interval low, high, row, colour "
                            "(0xRRGGBB); rows in order: {}",
                            100 * study.level, fmt::join(exponent_labels, ", ")),
                exponents);
    body += ytics(exponent_labels);
    body += fmt::format("set xlabel 'exponent b of onset = a P^b'\nset title 'Onset-law exponents'\n"
                        "plot {} using 1:4:2:3:5 with xerrorbars pt 7 ps 1.5 lw 2 lc rgb variable\n",
                        data_path(name + "_exponent.dat"));
  }
  body += "unset multiplot\n";
  write_text(context.out_dir / "figures" / (name + ".gp"), script_header(name, "Mitigation comparison", width, height) +
                                                               body);
  return Figure{name, "Mitigation comparison",
                fmt::format("Left: geometric-mean ratio of onsets with and without each mitigation over matched "
                            "(size, budget, seed) cells, with its {0:g}% bootstrap interval; 1 = no effect. Right: "
                            "the exponent b of each mitigation's onset law with its {0:g}% interval.",
                            100 * study.level)};
}

std::vector<Figure> heatmap_figures(const FigureContext& context, size_t limit) {
  const StudyData& study = context.study;
  std::vector<const RunData*> runs;
  for (const std::string& mitigation : study.mitigations)
    for (const std::string& size : study.sizes)
      for (const RunData* run : runs_of(study, mitigation, size))
        if (run->trajectory.metrics.count("dormant_fraction")) runs.push_back(run);
  std::vector<Figure> figures;
  for (const RunData* run : runs) {
    if (figures.size() == limit) break;
    const RunAttributes& a = run->info.attributes;
    const std::vector<HeatCell> cells = layer_heatmap(run->trajectory, "dormant_fraction");
    if (cells.empty()) continue;
    const std::string name = "dormant_" + file_safe(a.id);
    std::vector<std::vector<double>> rows;
    int layers = 0;
    for (const HeatCell& cell : cells) {
      rows.push_back({cell.x_low, cell.x_high, static_cast<double>(cell.layer), cell.value});
      layers = std::max(layers, cell.layer + 1);
    }
    write_table(context, name + ".dat",
                fmt::format("dormant fraction of run {} ({}, {}, seed {}); columns: tokens from, to, layer, fraction",
                            a.id, a.mitigation, a.size, a.seed),
                rows);
    const std::string title = fmt::format("{} | {} | seed {} | run {}", a.mitigation, a.size, a.seed, a.id);
    std::string body = fmt::format(
        "set title {}\nset xlabel 'training tokens'\nset ylabel 'layer'\nset format x '%.0s%c'\n"
        "set yrange [-0.5:{}]\nset ytics 1\nset cbrange [0:1]\nset cblabel 'dormant fraction'\n"
        "set palette defined (0 '#f7fbff', 0.3 '#6baed6', 1 '#08306b')\nset key off\nset grid noxtics noytics\n"
        "plot {} using (($1+$2)/2):3:(($2-$1)/2):(0.5):4 with boxxyerror fs solid 1.0 noborder lc palette\n",
        gnuplot_quote(title), layers - 0.5, data_path(name + ".dat"));
    write_text(context.out_dir / "figures" / (name + ".gp"), script_header(name, title, 480, 260) + body);
    figures.push_back({name, title, ""});
  }
  return figures;
}

namespace {

struct MetricLine {
  std::string metric;
  std::optional<size_t> column;  // entry of a per-source/per-layer metric; nullopt = mean of the entries
  std::string label;             // names the line style in the key when a figure draws several
  int dashtype = 1;
};

// Panels per mitigation, a line per size (mean over seeds, band = min..max), one style per MetricLine.
std::optional<Figure> metric_figure(const FigureContext& context, const std::string& name, const std::string& title,
                                    const std::string& ylabel, const std::vector<MetricLine>& lines,
                                    const std::string& caption) {
  const StudyData& study = context.study;
  std::vector<std::string> panels;
  for (size_t m = 0; m < study.mitigations.size(); ++m) {
    std::vector<std::string> clauses;
    for (size_t l = 0; l < lines.size(); ++l) {
      bool titled = false;
      for (size_t s = 0; s < study.sizes.size(); ++s) {
        std::vector<Series> series;
        for (const RunData* run : runs_of(study, study.mitigations[m], study.sizes[s]))
          series.push_back(metric_series(run->trajectory, lines[l].metric, lines[l].column));
        const SeedBand band = seed_band(series);
        if (band.x.empty()) continue;
        const std::string file = fmt::format("{}_m{}_s{}_{}.dat", name, m, s, l);
        write_table(context, file,
                    fmt::format("{} ({}); mitigation {}, size {}; {}", title, lines[l].label, study.mitigations[m],
                                study.sizes[s], kBandColumns),
                    band_rows(band));
        // Sizes are named by the first line style; later styles once, by their own label.
        std::string key = l == 0 ? study.sizes[s] : (titled ? "" : lines[l].label);
        titled = true;
        // An empty title leaves the line out of the key.
        clauses.push_back(band_clauses(file, context.palette.size.at(study.sizes[s]), key, "$1", lines[l].dashtype));
      }
    }
    if (!clauses.empty())
      panels.push_back(fmt::format("set title {}\nplot {}\n", gnuplot_quote(study.mitigations[m]),
                                   fmt::join(clauses, ", \\\n  ")));
  }
  if (panels.empty()) return std::nullopt;
  int width = 0, height = 0;
  std::string body = panel_layout(panels.size(), &width, &height, 320);
  body += fmt::format("set xlabel 'training tokens'\nset format x '%.0s%c'\nset ylabel {}\n", gnuplot_quote(ylabel));
  for (const std::string& panel : panels) body += panel;
  body += "unset multiplot\n";
  write_text(context.out_dir / "figures" / (name + ".gp"), script_header(name, title, width, height) + body);
  return Figure{name, title, caption};
}

}  // namespace

std::vector<Figure> diagnostic_figures(const FigureContext& context) {
  const StudyData& study = context.study;
  std::vector<Figure> figures;
  auto add = [&](std::optional<Figure> figure) {
    if (figure) figures.push_back(std::move(*figure));
  };
  const std::string per_size = " One panel per mitigation, a line per size (mean over seeds; band = min..max).";
  add(metric_figure(context, "attention_heads", "Lazy and collapsed attention heads", "heads",
                    {{"lazy_heads", std::nullopt, "lazy", 1}, {"collapsed_heads", std::nullopt, "collapsed (dashed)", 2}},
                    "Heads whose attention entropy is above the lazy fraction of its maximum (solid: smeared "
                    "attention) or below the collapsed fraction (dashed)." + per_size));
  add(metric_figure(context, "param_abs_mean", "Parameter magnitude", "mean |theta|",
                    {{"param_abs_mean", std::nullopt, "mean |theta|", 1}},
                    "Mean absolute value of the non-embedding weights and biases." + per_size));

  // Validation loss: one figure per source, in the column order the runs recorded.
  std::vector<std::string> sources;
  for (const RunData& run : study.runs)
    if (auto found = run.trajectory.metrics.find("val_loss"); found != run.trajectory.metrics.end())
      for (const std::string& source : found->second.columns)
        if (std::find(sources.begin(), sources.end(), source) == sources.end()) sources.push_back(source);
  for (size_t i = 0; i < sources.size(); ++i) {
    // The column index is per run; runs of one sweep agree on it (a source they disagree on is skipped).
    std::optional<size_t> column;
    bool agree = true;
    for (const RunData& run : study.runs) {
      auto found = run.trajectory.metrics.find("val_loss");
      if (found == run.trajectory.metrics.end()) continue;
      auto at = std::find(found->second.columns.begin(), found->second.columns.end(), sources[i]);
      if (at == found->second.columns.end()) continue;
      const size_t index = at - found->second.columns.begin();
      if (column && *column != index) agree = false;
      column = index;
    }
    if (!agree || !column) continue;
    add(metric_figure(context, fmt::format("val_loss_{}", i), "Validation loss on " + sources[i],
                      "validation loss", {{"val_loss", column, sources[i], 1}},
                      "Validation loss on source '" + sources[i] + "'." + per_size));
  }

  // Every other scalar metric, e.g. train_loss, grad_norm, lr, or counters a mitigation records.
  const std::set<std::string> drawn{"lazy_heads", "collapsed_heads", "param_abs_mean"};
  std::set<std::string> scalars;
  for (const RunData& run : study.runs)
    for (const auto& [metric, series] : run.trajectory.metrics)
      if (series.shape.size() == 1 && !drawn.count(metric)) scalars.insert(metric);
  for (const std::string& metric : scalars)
    add(metric_figure(context, "metric_" + file_safe(metric), metric, metric, {{metric, std::nullopt, metric, 1}},
                      "Trajectory metric '" + metric + "' as the training engine records it." + per_size));
  return figures;
}

std::optional<Figure> loss_law_figure(const FigureContext& context) {
  const StudyData& study = context.study;
  if (!study.fit.loss_law) return std::nullopt;
  const fitting::FitSummary& law = *study.fit.loss_law;
  const double A = law.param("A").value, B = law.param("B").value, E = law.param("E").value;
  const double alpha = law.param("alpha").value, beta = law.param("beta").value;
  const std::string name = "loss_law";
  std::vector<std::string> clauses;
  double min_tokens = INFINITY, max_tokens = 0;
  std::map<size_t, std::vector<std::vector<double>>> points;
  std::map<size_t, double> params;
  for (const RunData& run : study.runs) {
    const RunAttributes& a = run.info.attributes;
    if (a.mitigation != study.baseline || a.status != RunStatus::done) continue;
    auto final_loss = final_value(run.trajectory, "val_loss");
    if (!final_loss) continue;
    const size_t s = std::find(study.sizes.begin(), study.sizes.end(), a.size) - study.sizes.begin();
    points[s].push_back({final_loss->second, final_loss->first});
    params[s] = static_cast<double>(a.n_params_nonembedding);
    min_tokens = std::min(min_tokens, final_loss->second), max_tokens = std::max(max_tokens, final_loss->second);
  }
  if (points.empty()) return std::nullopt;
  for (const auto& [s, rows] : points) {
    const std::string colour = context.palette.size.at(study.sizes[s]);
    std::vector<std::vector<double>> curve;
    for (double tokens : log_grid(min_tokens / 1.5, max_tokens * 1.5, 40))
      curve.push_back({tokens, E + A / std::pow(params[s], alpha) + B / std::pow(tokens, beta)});
    const std::string fit_file = fmt::format("{}_s{}_fit.dat", name, s);
    const std::string point_file = fmt::format("{}_s{}_runs.dat", name, s);
    write_table(context, fit_file,
                fmt::format("L(N, D) at size {} (N = {}); columns: tokens D, loss", study.sizes[s], number(params[s])),
                curve);
    write_table(context, point_file,
                fmt::format("final validation loss of the {} runs of size {}; columns: tokens D, loss",
                            study.baseline, study.sizes[s]),
                rows);
    clauses.push_back(fmt::format("{} using 1:2 with lines lc rgb {} lw 2 notitle, {} using 1:2 with points pt 7 "
                                  "ps 1.2 lc rgb {} title {}",
                                  data_path(fit_file), gnuplot_quote(colour), data_path(point_file),
                                  gnuplot_quote(colour), gnuplot_quote(study.sizes[s])));
  }
  const std::string title = "Loss law L(N, D) = E + A/N^alpha + B/D^beta";
  const std::string body = fmt::format(
      "set logscale x\nset format x '%.0s%c'\nset xlabel 'training tokens D (log)'\n"
      "set ylabel 'final validation loss'\nset key top right\nplot {}\n",
      fmt::join(clauses, ", \\\n  "));
  write_text(context.out_dir / "figures" / (name + ".gp"), script_header(name, title, 800, 460) + body);
  return Figure{name, title,
                "Final validation loss (mean over sources) of the " + study.baseline +
                    " runs against their tokens, with the fitted law at each size."};
}

}  // namespace plascale::report
