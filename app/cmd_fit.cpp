// `plascale fit STUDY`: onsets, onset laws, mitigation comparisons and the loss law of a
// study, written to /fits in study.h5 and printed as a table.
// `plascale fit --csv FILE ...`: one curve or loss-law fit of external data (docs/cli.md).

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/commands.h"
#include "fitting/chinchilla.h"
#include "fitting/csv.h"
#include "fitting/curve_analysis.h"
#include "fitting/study_fit.h"
#include "storage/study.h"
#include "sweeps/errors.h"

namespace plascale {

namespace {

struct FitOptions {
  std::string study_dir;
  std::string csv;
  std::string x, y;                  // curve models
  std::string n, d, flops, loss;     // chinchilla
  std::string model = "power_law";
  std::string method;                // default: loglog_ols for power_law, nls otherwise
  std::string space = "linear";
  std::string robust = "none";
  double robust_scale = 0.0;         // 0 = the model's default (1 for curves, 1e-3 for chinchilla)
  int drop_highest_loss = 0;
  std::vector<double> predict;
  bool predict_given = false;
  int bootstrap = 0;
  int study_bootstrap = 1000;
  uint64_t seed = 0;
  double level = 0.95;
  int threads = 0;
  std::string censoring = "tobit";
  std::string baseline = "none";
  bool json = false;
};

void require(bool condition, const std::string& message) {
  if (!condition) throw InputError(message);
}

// The fitting library reports data it cannot fit (e.g. a single distinct x) as
// std::invalid_argument; for the command that is bad input in the named file.
template <typename Fit>
fitting::FitSummary as_input_error(const std::string& path, Fit fit) {
  try {
    return fit();
  } catch (const std::invalid_argument& error) {
    throw InputError(fmt::format("{}: {}", path, error.what()));
  }
}

fitting::RobustLoss robust_loss(const FitOptions& options, double default_scale) {
  fitting::RobustLoss loss;
  loss.scale = options.robust_scale > 0 ? options.robust_scale : default_scale;
  if (options.robust == "huber") loss.kind = fitting::RobustLoss::huber;
  else if (options.robust == "cauchy") loss.kind = fitting::RobustLoss::cauchy;
  else loss.kind = fitting::RobustLoss::squared;
  return loss;
}

int fit_chinchilla_csv(const FitOptions& options, const fitting::CsvTable& table) {
  require(!options.n.empty() && !options.loss.empty(), "--model chinchilla needs --n COLUMN and --loss COLUMN");
  require(options.d.empty() != options.flops.empty(), "--model chinchilla needs exactly one of --d COLUMN and --flops COLUMN (D = FLOPs / 6N)");
  require(options.x.empty() && options.y.empty(), "--x and --y are for curve models; --model chinchilla takes --n, --d or --flops, and --loss");
  require(!options.predict_given, "--predict takes x values of a curve model; it is not available for --model chinchilla");
  require(options.robust == "none" || options.robust == "huber", "--model chinchilla uses the Huber loss; --robust may only be huber");
  std::vector<double> params = fitting::numeric_column(table, options.n, fitting::Domain::positive);
  std::vector<double> loss = fitting::numeric_column(table, options.loss, fitting::Domain::positive);
  std::vector<double> tokens = fitting::numeric_column(table, options.d.empty() ? options.flops : options.d,
                                                       fitting::Domain::positive);
  std::vector<fitting::ChinchillaPoint> points;
  for (size_t i = 0; i < params.size(); ++i)
    points.push_back({params[i], options.d.empty() ? tokens[i] / (6.0 * params[i]) : tokens[i], loss[i]});
  require(options.drop_highest_loss >= 0 && options.drop_highest_loss < static_cast<int>(points.size()),
          fmt::format("--drop-highest-loss {} must be between 0 and the number of rows minus 1 ({})",
                      options.drop_highest_loss, points.size() - 1));
  std::stable_sort(points.begin(), points.end(), [](auto& l, auto& r) { return l.loss < r.loss; });
  points.resize(points.size() - options.drop_highest_loss);
  require(points.size() >= 6, fmt::format("{}: --model chinchilla needs at least 6 rows, got {}", table.path, points.size()));
  fitting::ChinchillaOptions chinchilla;
  chinchilla.huber_delta = robust_loss(options, 1e-3).scale;
  chinchilla.bootstrap = options.bootstrap;
  chinchilla.seed = options.seed;
  chinchilla.level = options.level;
  chinchilla.threads = options.threads;
  fitting::FitSummary summary = as_input_error(table.path, [&] { return fitting::analyse_chinchilla(points, chinchilla); });
  fmt::print("{}\n", options.json ? fitting::to_json(summary) : fitting::to_table(summary));
  return kExitOk;
}

int fit_csv(const FitOptions& options) {
  fitting::CsvTable table = fitting::read_csv(options.csv);
  if (options.model == "chinchilla") return fit_chinchilla_csv(options, table);
  fitting::Curve curve;
  try {
    curve = fitting::parse_curve(options.model);
  } catch (const std::invalid_argument& error) {
    throw InputError(fmt::format("--model: {}", error.what()));
  }
  require(!options.x.empty() && !options.y.empty(), fmt::format("--model {} needs --x COLUMN and --y COLUMN", options.model));
  require(options.n.empty() && options.d.empty() && options.flops.empty() && options.loss.empty(),
          "--n, --d, --flops and --loss are for --model chinchilla");
  fitting::CurveAnalysisOptions analysis;
  std::string method = options.method.empty() ? (curve.model == fitting::CurveModel::power_law ? "loglog_ols" : "nls")
                                              : options.method;
  analysis.method = method == "loglog_ols" ? fitting::FitMethod::loglog_ols : fitting::FitMethod::nls;
  require(analysis.method == fitting::FitMethod::nls || curve.model == fitting::CurveModel::power_law,
          fmt::format("--method loglog_ols fits only --model power_law, not {}; use --method nls", options.model));
  require(analysis.method == fitting::FitMethod::nls || options.robust == "none",
          "--robust applies to --method nls; loglog_ols is ordinary least squares");
  analysis.nls.space = options.space == "log" ? fitting::ResidualSpace::log : fitting::ResidualSpace::linear;
  analysis.nls.loss = robust_loss(options, 1.0);
  analysis.bootstrap = options.bootstrap;
  analysis.seed = options.seed;
  analysis.level = options.level;
  analysis.predict_at = options.predict;
  analysis.threads = options.threads;
  for (double at : options.predict)
    require(at > 0, fmt::format("--predict: {} is not positive; curve models are defined for x > 0", at));
  bool logged_y = analysis.method == fitting::FitMethod::loglog_ols || analysis.nls.space == fitting::ResidualSpace::log;
  std::vector<double> x = fitting::numeric_column(table, options.x, fitting::Domain::positive);
  std::vector<double> y = fitting::numeric_column(table, options.y, logged_y ? fitting::Domain::positive : fitting::Domain::any);
  int needed = fitting::curve_parameter_count(curve) + 1;
  require(static_cast<int>(x.size()) >= needed,
          fmt::format("{}: --model {} needs at least {} rows, got {}", table.path, options.model, needed, x.size()));
  fitting::FitSummary summary = as_input_error(table.path, [&] { return fitting::analyse_curve(curve, x, y, analysis); });
  fmt::print("{}\n", options.json ? fitting::to_json(summary) : fitting::to_table(summary));
  return kExitOk;
}

int fit_study_dir(const FitOptions& options) {
  fitting::StudyFitOptions study_options;
  study_options.law.level = options.level;
  study_options.law.censoring = options.censoring == "drop" ? fitting::CensoringTreatment::drop
                                                            : fitting::CensoringTreatment::tobit;
  if (options.predict_given) study_options.law.predict_at = options.predict;
  study_options.bootstrap = options.study_bootstrap;
  study_options.onset.seed = study_options.seed = options.seed;
  study_options.baseline = options.baseline;
  study_options.threads = options.threads;
  fitting::StudyFit fit;
  {
    StudyReader reader(options.study_dir);  // closed before the writer opens the file
    fit = fitting::fit_study(reader, study_options);
  }
  StudyWriter writer = StudyWriter::open(options.study_dir);
  fitting::write_study_fit(writer, fit, study_options);
  fmt::print("{}", fitting::study_fit_table(fit));
  fmt::print("\nwritten to {}:/fits\n", study_file_path(options.study_dir).string());
  return kExitOk;
}

}  // namespace

void register_fit(CLI::App& app, CommandResult& result) {
  auto options = std::make_shared<FitOptions>();
  CLI::App* fit = app.add_subcommand("fit", "Fit onsets, onset laws and mitigation comparisons of a study, or a curve to CSV data");
  fit->add_option("study", options->study_dir, "Study folder (writes /fits in its study.h5)");
  fit->add_option("--csv", options->csv, "Fit external data from this CSV file instead of a study");
  fit->add_option("--x", options->x, "CSV column of x (curve models)");
  fit->add_option("--y", options->y, "CSV column of y (curve models)");
  fit->add_option("--model", options->model, "power_law, saturating_power_law, broken_power_law[:K] or chinchilla")
      ->capture_default_str();
  fit->add_option("--method", options->method, "loglog_ols (power_law only; its default) or nls")
      ->check(CLI::IsMember({"loglog_ols", "nls"}));
  fit->add_option("--space", options->space, "Residuals of --method nls: linear (y - f) or log (log y - log f)")
      ->check(CLI::IsMember({"linear", "log"}))->capture_default_str();
  fit->add_option("--robust", options->robust, "Robust loss of --method nls: none, huber or cauchy")
      ->check(CLI::IsMember({"none", "huber", "cauchy"}))->capture_default_str();
  fit->add_option("--robust-scale", options->robust_scale, "Huber delta / Cauchy scale in residual units (default 1; chinchilla 1e-3)")
      ->check(CLI::PositiveNumber);
  fit->add_option("--n", options->n, "CSV column of parameters N (chinchilla)");
  fit->add_option("--d", options->d, "CSV column of training tokens D (chinchilla)");
  fit->add_option("--flops", options->flops, "CSV column of training FLOPs C; D = C / (6 N) (chinchilla)");
  fit->add_option("--loss", options->loss, "CSV column of final loss L (chinchilla)");
  fit->add_option("--drop-highest-loss", options->drop_highest_loss, "Leave out the K rows with the highest loss (chinchilla; Epoch drops 5)");
  fit->add_option_function<std::vector<double>>(
         "--predict", [options](const std::vector<double>& values) { options->predict = values, options->predict_given = true; },
         "Extrapolate to these x (CSV) or parameter counts (study; default 1e9,7e9)")
      ->delimiter(',');
  fit->add_option("--bootstrap", options->bootstrap, "CSV: resamples of the rows (0 = intervals from standard errors)")
      ->check(CLI::NonNegativeNumber);
  fit->add_option("--study-bootstrap", options->study_bootstrap, "Study: resamples for shift factors and the loss law")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  fit->add_option("--seed", options->seed, "Seed of every bootstrap")->capture_default_str();
  fit->add_option("--level", options->level, "Two-sided level of every interval")->check(CLI::Range(0.5, 0.999))->capture_default_str();
  fit->add_option("--threads", options->threads, "Threads for multi-start and bootstrap (0 = all)")->check(CLI::NonNegativeNumber);
  fit->add_option("--censoring", options->censoring, "Study: tobit (censored likelihood) or drop (leave censored runs out)")
      ->check(CLI::IsMember({"tobit", "drop"}))->capture_default_str();
  fit->add_option("--baseline", options->baseline, "Study: mitigation the others are compared with")->capture_default_str();
  fit->add_flag("--json", options->json, "CSV: print one JSON object instead of a table");
  fit->callback([options, &result] {
    result.run = [options] {
      const FitOptions& o = *options;
      require(o.study_dir.empty() != o.csv.empty(), "plascale fit takes either a STUDY folder or --csv FILE (exactly one)");
      if (!o.csv.empty()) return fit_csv(o);
      require(!o.json, "--json is available with --csv; a study's fits are written to /fits and printed as a table");
      return fit_study_dir(o);
    };
  });
}

}  // namespace plascale
