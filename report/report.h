#pragma once
// `plascale report STUDY --out DIR`: one self-contained HTML page of a study (docs/report.md).
//
//   DIR/index.html          the page; every figure is inlined as an SVG data: URI, so the
//                           file alone can be mailed or opened offline
//   DIR/figures/NAME.gp     the gnuplot script of each figure (run from DIR: gnuplot figures/NAME.gp)
//   DIR/figures/NAME.svg    the figure it drew
//   DIR/data/NAME.dat       the numbers each script plots (whitespace columns, # comments)
//
// Works on partly finished studies: pending, running, failed and diverged runs are shown
// as such. Fits come from the study's /fits when `plascale fit` has written them, else they
// are computed in memory (the study is never written).

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "fitting/study_fit.h"

namespace plascale::report {

struct ReportOptions {
  std::filesystem::path out_dir;
  std::string gnuplot = "gnuplot";     // program, looked up on PATH (Debian package gnuplot-nox)
  fitting::StudyFitOptions fit;        // used only when the study has no /fits yet
  size_t max_heatmaps = 48;            // dormant-fraction heatmaps drawn at most (one per run)
};

struct ReportResult {
  std::filesystem::path page;                  // DIR/index.html
  std::vector<std::filesystem::path> figures;  // DIR/figures/*.svg, in page order
  bool fits_computed = false;                  // true: the study had no /fits, fitted in memory
};

// Throws InputError for a missing or damaged study, std::runtime_error when gnuplot is
// missing or fails (the message names the script and the Debian package).
ReportResult write_report(const std::filesystem::path& study_dir, const ReportOptions& options);

}  // namespace plascale::report
