#pragma once
// Each figure of the report: its data files (DIR/data/*.dat) and gnuplot script
// (DIR/figures/NAME.gp, drawing DIR/figures/NAME.svg when run from DIR). A function returns
// nullopt, or no figures, when the study has nothing to draw; the page then says why.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "report/palette.h"
#include "report/study_data.h"

namespace plascale::report {

struct Figure {
  std::string name;     // figures/<name>.gp, figures/<name>.svg
  std::string title;    // plain text (the page escapes it)
  std::string caption;  // plain text
};

struct FigureContext {
  std::filesystem::path out_dir;  // DIR; data/ and figures/ exist
  const StudyData& study;
  Palette palette;
};

// Probe dAUC vs tokens (log axis), one figure per mitigation, two panels (vs the first probe,
// vs the scratch baseline), a line per size with its seeds as a band, onsets marked.
std::vector<Figure> trajectory_figures(const FigureContext& context);
// Onset tokens vs non-embedding parameters (log-log), laws with confidence bands,
// extrapolations with prediction intervals.
std::optional<Figure> onset_law_figure(const FigureContext& context);
// Forest plot of onset shift factors, and the laws' exponents side by side.
std::optional<Figure> comparison_figure(const FigureContext& context);
// Dormant fraction per layer over tokens, one heatmap per run (at most `limit`).
std::vector<Figure> heatmap_figures(const FigureContext& context, size_t limit);
// Lazy and collapsed heads, parameter magnitude, validation loss per source, and every other
// scalar trajectory metric (e.g. a mitigation's counters): panels per mitigation, lines per size.
std::vector<Figure> diagnostic_figures(const FigureContext& context);
// Final validation loss of the baseline runs vs tokens with the fitted L(N, D) per size.
std::optional<Figure> loss_law_figure(const FigureContext& context);

// A file name made of [A-Za-z0-9_.-] from any label (other characters become '_').
std::string file_safe(const std::string& label);

}  // namespace plascale::report
