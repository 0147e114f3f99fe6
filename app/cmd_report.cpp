// `plascale report STUDY --out DIR`: the HTML report of a study, with gnuplot figures
// (docs/report.md). Reads the study only; fits it in memory when it has no /fits yet.

#include <fmt/core.h>

#include <memory>
#include <string>

#include "app/commands.h"
#include "report/report.h"
#include "sweeps/errors.h"

namespace plascale {

namespace {

struct ReportCommandOptions {
  std::string study_dir;
  report::ReportOptions report;
  std::string out_dir;
};

int run_report(ReportCommandOptions& options) {
  options.report.out_dir = options.out_dir;
  const report::ReportResult result = report::write_report(options.study_dir, options.report);
  fmt::print("report: {} ({} figures{})\n", result.page.string(), result.figures.size(),
             result.fits_computed ? "; the study has no /fits, fitted in memory: run `plascale fit` to store them" : "");
  return kExitOk;
}

}  // namespace

void register_report(CLI::App& app, CommandResult& result) {
  auto options = std::make_shared<ReportCommandOptions>();
  CLI::App* command = app.add_subcommand("report", "Write a study's HTML report with figures (readable offline)");
  command->add_option("study", options->study_dir, "Study folder (holds study.h5); read only")->required();
  command->add_option("--out", options->out_dir, "Report folder: index.html, figures/, data/ (created)")->required();
  command->add_option("--gnuplot", options->report.gnuplot, "gnuplot program (Debian package gnuplot-nox)")
      ->capture_default_str();
  command->add_option("--max-heatmaps", options->report.max_heatmaps, "Dormant-unit heatmaps drawn at most (one per run)")
      ->capture_default_str();
  command->add_option("--baseline", options->report.fit.baseline,
                      "Mitigation compared against, when the study has no /fits and the report fits it")
      ->capture_default_str();
  command->callback([&result, options] { result.run = [options] { return run_report(*options); }; });
}

}  // namespace plascale
