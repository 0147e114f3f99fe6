// The report's parts on a study with known numbers: the numbers in each figure's data file,
// escaping into gnuplot and HTML, colours that mean the same in every figure, stored fits
// read back, and partial studies (pending, running, failed runs; no /fits yet).

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "fitting/study_fit.h"
#include "report/gnuplot.h"
#include "report/html.h"
#include "report/palette.h"
#include "report/report.h"
#include "report/series.h"
#include "report/study_data.h"
#include "sweeps/errors.h"
#include "tests/report/synthetic_study.h"

namespace plascale::report {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The numeric rows of a data file (comment lines skipped).
std::vector<std::vector<double>> read_rows(const fs::path& path) {
  std::vector<std::vector<double>> rows;
  std::istringstream in(read_text(path));
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::vector<double> row;
    for (std::string field; fields >> field;) row.push_back(field == "NaN" ? NAN : std::stod(field));
    rows.push_back(row);
  }
  return rows;
}

fitting::StudyFitOptions quick_fit() {
  fitting::StudyFitOptions options;
  options.bootstrap = 50;
  options.onset.bootstrap = 20;
  options.threads = 1;
  return options;
}

TEST(ReportSeries, NormalisedAucUsesTheFirstProbeAndTheScratchBaseline) {
  Probe probe;
  probe.tokens = {0, 100, 200};
  probe.auc = {10, 12, 9};
  probe.scratch_auc = 8;
  probe.has_scratch_baseline = true;
  const NormalisedAuc auc = normalised_auc(probe);
  EXPECT_EQ(auc.tokens, (std::vector<double>{0, 100, 200}));
  EXPECT_DOUBLE_EQ(auc.vs_first[0], 0.0);
  EXPECT_DOUBLE_EQ(auc.vs_first[1], 20.0);
  EXPECT_DOUBLE_EQ(auc.vs_first[2], -10.0);
  EXPECT_DOUBLE_EQ(auc.vs_scratch[0], 25.0);
  EXPECT_DOUBLE_EQ(auc.vs_scratch[2], 12.5);
  probe.has_scratch_baseline = false;
  EXPECT_TRUE(std::isnan(normalised_auc(probe).vs_scratch[1]));
  EXPECT_TRUE(normalised_auc(Probe{}).tokens.empty());
}

TEST(ReportSeries, SeedBandIsMeanMinMaxOfTheSeedsMeasuredAtEachPoint) {
  const std::vector<Series> seeds{{{0, 10, 20}, {1, 2, 3}}, {{0, 10}, {3, NAN}}, {{10, 30}, {5, 7}}};
  const SeedBand band = seed_band(seeds);
  EXPECT_EQ(band.x, (std::vector<double>{0, 10, 20, 30}));
  EXPECT_EQ(band.mean, (std::vector<double>{2, 3.5, 3, 7}));
  EXPECT_EQ(band.low, (std::vector<double>{1, 2, 3, 7}));
  EXPECT_EQ(band.high, (std::vector<double>{3, 5, 3, 7}));
  EXPECT_EQ(band.runs, (std::vector<int>{2, 2, 1, 1}));
}

TEST(ReportSeries, HeatmapCellsSpanHalfWayToTheNeighbouringMeasurements) {
  Trajectory trajectory;
  trajectory.tokens = {0, 100, 200, 400};
  trajectory.step = {0, 1, 2, 3};
  // Measured at 0, 200 and 400 only (NaN at 100, a point without diagnostics).
  trajectory.metrics["dormant_fraction"] = {{4, 2}, {0.1, 0.2, NAN, NAN, 0.3, 0.4, 0.5, 0.6}, {}};
  const std::vector<HeatCell> cells = layer_heatmap(trajectory, "dormant_fraction");
  ASSERT_EQ(cells.size(), 6u);
  EXPECT_DOUBLE_EQ(cells[0].x_low, -100);
  EXPECT_DOUBLE_EQ(cells[0].x_high, 100);
  EXPECT_DOUBLE_EQ(cells[2].x_low, 100);
  EXPECT_DOUBLE_EQ(cells[2].x_high, 300);
  EXPECT_EQ(cells[3].layer, 1);
  EXPECT_DOUBLE_EQ(cells[3].value, 0.4);
  EXPECT_DOUBLE_EQ(cells[5].x_high, 500);
  EXPECT_TRUE(layer_heatmap(trajectory, "missing").empty());
}

TEST(ReportSeries, LawCurveIsTheLawWithABandNarrowestNearTheData) {
  fitting::OnsetLaw law;
  law.a = 2.0;
  law.b = 0.8;
  law.used = 10;
  // Var(log a) = 0.5, Cov = -0.04, Var(b) = 0.004: the band is narrowest at log P = 10.
  law.covariance[0] = 0.5, law.covariance[1] = law.covariance[2] = -0.04, law.covariance[3] = 0.004;
  const std::vector<double> params{std::exp(5.0), std::exp(10.0), std::exp(15.0)};
  const LawCurve curve = law_curve(law, params, 0.95);
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_NEAR(curve.tokens[i], 2.0 * std::pow(params[i], 0.8), 1e-9 * curve.tokens[i]);
    EXPECT_LT(curve.low[i], curve.tokens[i]);
    EXPECT_GT(curve.high[i], curve.tokens[i]);
  }
  const double width_at_data = std::log(curve.high[1] / curve.low[1]);
  EXPECT_LT(width_at_data, std::log(curve.high[0] / curve.low[0]));
  // t(0.975, 8 dof) = 2.306; variance at log P = 10 is 0.5 - 0.8 + 0.4 = 0.1.
  EXPECT_NEAR(width_at_data, 2 * 2.306 * std::sqrt(0.1), 1e-3);
}

TEST(ReportEscaping, GnuplotStringsCannotEndEarlyOrBreakTheLine) {
  EXPECT_EQ(gnuplot_quote("it's"), "'it''s'");
  EXPECT_EQ(gnuplot_quote("a\nb\r\tc"), "'a b  c'");
  EXPECT_EQ(gnuplot_quote("\"<&>\\"), "'\"<&>\\'");
}

TEST(ReportEscaping, HtmlTextAndUrls) {
  EXPECT_EQ(html_escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;");
  EXPECT_EQ(base64("plascale"), "cGxhc2NhbGU=");
  EXPECT_EQ(base64("ab"), "YWI=");
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(file_url("/a b/\"c\"<d>.h5"), "file:///a%20b/%22c%22%3Cd%3E.h5");
}

TEST(ReportPalette, ColoursAreDistinctAndFollowTheStudyOrder) {
  const Palette palette = make_palette({"none", "a", "b", "c", "d", "e", "f", "g", "h"}, {"s", "m", "l"});
  std::set<std::string> colours;
  for (const auto& [name, colour] : palette.mitigation) colours.insert(colour);
  EXPECT_EQ(colours.size(), 9u);  // the ninth is a darker first colour, not a repeat
  EXPECT_EQ(palette.mitigation.at("none"), "#000000");
  EXPECT_EQ(palette.size.at("s"), "#440154");  // viridis' dark end for the smallest
  EXPECT_NE(palette.size.at("m"), palette.size.at("l"));
  EXPECT_EQ(make_palette({"none", "a"}, {}).mitigation.at("a"), palette.mitigation.at("a"));
}

class ReportOnStudy : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_synthetic_study(study); }

  ReportResult render(fitting::StudyFitOptions fit = quick_fit()) {
    ReportOptions options;
    options.out_dir = out;
    options.fit = fit;
    return write_report(study, options);
  }
  void store_fits() {
    fitting::StudyFit fit;
    {
      StudyReader reader(study);
      fit = fitting::fit_study(reader, quick_fit());
    }
    StudyWriter writer = StudyWriter::open(study);
    fitting::write_study_fit(writer, fit, quick_fit());
  }

  testing::ReportScratch scratch;
  fs::path study = scratch.path() / "study";
  fs::path out = scratch.path() / "report";
};

TEST_F(ReportOnStudy, StoredFitsReadBackAsFitted) {
  store_fits();
  StudyReader reader(study);
  const fitting::StudyFit fitted = fitting::fit_study(reader, quick_fit());
  const StoredFit read = read_stored_fit(reader);
  const fitting::StudyFit& stored = read.fit;
  EXPECT_EQ(read.level, 0.95);
  EXPECT_EQ(read.baseline, "none");
  ASSERT_EQ(stored.onsets.size(), fitted.onsets.size());
  for (size_t i = 0; i < fitted.onsets.size(); ++i) {
    EXPECT_EQ(stored.onsets[i].run_id, fitted.onsets[i].run_id);
    EXPECT_EQ(stored.onsets[i].mitigation, fitted.onsets[i].mitigation);
    EXPECT_EQ(stored.onsets[i].onset.status, fitted.onsets[i].onset.status);
    EXPECT_EQ(stored.onsets[i].onset.probe_index, fitted.onsets[i].onset.probe_index);
  }
  EXPECT_EQ(stored.skipped, fitted.skipped);
  ASSERT_EQ(stored.laws.size(), 2u);
  EXPECT_EQ(stored.laws[0].mitigation, "none");
  ASSERT_TRUE(stored.laws[0].law && fitted.laws[0].law);
  EXPECT_EQ(stored.laws[0].law->b, fitted.laws[0].law->b);
  EXPECT_EQ(stored.laws[0].law->covariance[1], fitted.laws[0].law->covariance[1]);
  EXPECT_EQ(stored.laws[0].law->predictions.size(), 2u);
  EXPECT_EQ(stored.laws[1].mitigation, testing::kHostileMitigation);
  ASSERT_EQ(stored.comparisons.size(), 1u);
  EXPECT_EQ(stored.comparisons[0].shift.factor, fitted.comparisons[0].shift.factor);
  EXPECT_EQ(stored.loss_law_note, fitted.loss_law_note);
  EXPECT_FALSE(stored.loss_law.has_value());
}

TEST_F(ReportOnStudy, MalformedStoredFitsNameTheGroup) {
  {
    StudyWriter writer = StudyWriter::open(study);
    DataGroup onsets;
    onsets.string_lists["run_id"] = {"r00"};
    writer.write_fit_group("onsets", onsets);
  }
  try {
    load_study_data(study, quick_fit());
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("study.h5:/fits/onsets: string dataset mitigation is missing"),
              std::string::npos)
        << error.what();
  }
}

TEST_F(ReportOnStudy, DataFilesHoldTheStudysNumbers) {
  const ReportResult result = render();
  EXPECT_TRUE(result.fits_computed);
  const StudyData data = load_study_data(study, quick_fit());
  ASSERT_EQ(data.mitigations, (std::vector<std::string>{"none", testing::kHostileMitigation}));
  ASSERT_EQ(data.sizes, (std::vector<std::string>{"small", testing::kHostileSize}));

  // none x small: seeds 0 and 1 (done), the running run's 3 probes and the diverged run's 4; the failed run
  // is the other size.
  // dAUC vs first of seed s at probe k is 100 (auc_k / auc_0 - 1) with auc = 10 - min(k, 2) + ... + 0.1 s.
  const auto rows = read_rows(out / "data" / "probe_auc_m0_s0_first.dat");
  ASSERT_EQ(rows.size(), 8u);
  auto vs_first = [](int k, uint64_t seed, int onset) {
    const auto auc = testing::auc_sequence(8, onset, seed);
    return 100 * (auc[k] / auc[0] - 1);
  };
  EXPECT_DOUBLE_EQ(rows[1][0], 1000);
  EXPECT_NEAR(rows[1][1], (vs_first(1, 0, 2) + vs_first(1, 1, 2) + 2 * vs_first(1, 0, 99)) / 4, 1e-7);
  EXPECT_NEAR(rows[4][2], std::min(vs_first(4, 0, 2), vs_first(4, 1, 2)), 1e-7);
  EXPECT_NEAR(rows[4][3], std::max(vs_first(4, 0, 2), vs_first(4, 1, 2)), 1e-7);
  EXPECT_EQ(rows[2][4], 4);  // four runs have a probe at 2000 tokens
  EXPECT_EQ(rows[3][4], 3);
  EXPECT_EQ(rows[5][4], 2);
  const auto scratch = read_rows(out / "data" / "probe_auc_m0_s0_scratch.dat");
  EXPECT_NEAR(scratch[0][2], 100 * (10.0 / 8 - 1), 1e-7);

  // Onsets: none x small seed 0 has its minimum at probe 2; the censored run sits at its last probe.
  const auto onsets = read_rows(out / "data" / "probe_auc_m0_onsets.dat");
  bool found_seed0 = false;
  for (const auto& row : onsets) found_seed0 = found_seed0 || (row[0] == 2000 && std::fabs(row[1] + 20) < 1e-7);
  EXPECT_TRUE(found_seed0);
  const auto censored = read_rows(out / "data" / "probe_auc_m0_censored.dat");
  ASSERT_EQ(censored.size(), 1u);
  EXPECT_EQ(censored[0][0], 7000);

  // Onset law points: params and onset tokens of the degraded runs.
  const auto law_points = read_rows(out / "data" / "onset_law_m0_onsets.dat");
  ASSERT_EQ(law_points.size(), 3u);
  EXPECT_EQ(law_points[0], (std::vector<double>{100000, 2000}));
  EXPECT_EQ(read_rows(out / "data" / "onset_law_m0_censored.dat")[0], (std::vector<double>{400000, 7000}));
  const auto law = read_rows(out / "data" / "onset_law_m0_law.dat");
  ASSERT_EQ(law.size(), 60u);
  for (const auto& row : law) EXPECT_TRUE(row[2] < row[1] && row[1] < row[3]);

  // Heatmap of r00: 8 points x 2 layers; layer 1 is 0.5 throughout.
  const auto heat = read_rows(out / "data" / "dormant_r00.dat");
  ASSERT_EQ(heat.size(), 16u);
  EXPECT_EQ(heat[3], (std::vector<double>{500, 1500, 1, 0.5}));
  EXPECT_DOUBLE_EQ(heat[14][3], 0.1 * 7 / 8);

  // A mitigation's own counter is drawn generically.
  EXPECT_TRUE(fs::exists(out / "figures" / "metric_mitigation_resets.svg"));
  const auto val_code = read_rows(out / "data" / "val_loss_1_m0_s0_0.dat");
  EXPECT_NEAR(val_code[0][1], 5.0, 1e-12);
  for (const fs::path& figure : result.figures) EXPECT_GT(fs::file_size(figure), 1000u) << figure;
}

// Every key entry in every script: a size label is drawn in that size's colour, a
// "<mitigation>: ..." entry in that mitigation's colour, whichever figure it is in.
TEST_F(ReportOnStudy, ColoursMeanTheSameInEveryFigure) {
  render();
  const StudyData data = load_study_data(study, quick_fit());
  const Palette palette = make_palette(data.mitigations, data.sizes);
  const std::regex clause("lc rgb '(#[0-9a-f]{6})'[^,]*? title '((?:[^']|'')*)'");
  int sizes_checked = 0, mitigations_checked = 0;
  std::set<std::string> scripts_with_sizes;
  for (const auto& entry : fs::directory_iterator(out / "figures")) {
    if (entry.path().extension() != ".gp") continue;
    const std::string script = read_text(entry.path());
    for (auto match = std::sregex_iterator(script.begin(), script.end(), clause); match != std::sregex_iterator();
         ++match) {
      const std::string colour = (*match)[1], title = std::regex_replace((*match)[2].str(), std::regex("''"), "'");
      for (const auto& [size, size_colour] : palette.size) {
        if (title != size) continue;
        EXPECT_EQ(colour, size_colour) << entry.path() << ": " << title;
        ++sizes_checked;
        scripts_with_sizes.insert(entry.path().filename());
      }
      for (const auto& [mitigation, mitigation_colour] : palette.mitigation) {
        const std::string flat = std::regex_replace(mitigation, std::regex("\n"), " ");
        if (title.rfind(flat + ":", 0) != 0) continue;
        EXPECT_EQ(colour, mitigation_colour) << entry.path() << ": " << title;
        ++mitigations_checked;
      }
    }
  }
  EXPECT_GE(scripts_with_sizes.size(), 5u);  // trajectories, heads, parameters, losses, other metrics
  EXPECT_GE(sizes_checked, 20);
  EXPECT_GE(mitigations_checked, 6);  // onsets, censored, law, predictions
  // The forest plot colours rows by a column: the mitigation's colour as 0xRRGGBB.
  const auto shift = read_rows(out / "data" / "mitigation_comparison_shift.dat");
  ASSERT_EQ(shift.size(), 1u);
  EXPECT_EQ(static_cast<int>(shift[0][4]), std::stoi(palette.mitigation.at(testing::kHostileMitigation).substr(1),
                                                      nullptr, 16));
}

TEST_F(ReportOnStudy, HostileLabelsAreEscapedInThePage) {
  render();
  const std::string page = read_text(out / "index.html");
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("<b>&"), std::string::npos);
  EXPECT_NE(page.find("cbp &quot;x&quot; &lt;script&gt;alert(&#39;m&#39;)&lt;/script&gt; &amp; y"), std::string::npos);
  EXPECT_NE(page.find("worker lost: &lt;oom&gt; &amp; &quot;killed&quot;"), std::string::npos);
  // The scripts hold the label only inside a quoted string, newline flattened: gnuplot drew them.
  const std::string script = read_text(out / "figures" / "probe_auc_m1.gp");
  EXPECT_NE(script.find("'cbp \"x\" <script>alert(''m'')</script> & y z: vs the first probe'"), std::string::npos);
}

TEST_F(ReportOnStudy, PartialStudyShowsEveryRunAndItsState) {
  const ReportResult result = render();
  const std::string page = read_text(out / "index.html");
  EXPECT_NE(page.find("12 runs: <span class=\"status-done\">8 done</span>, <span class=\"status-running\">1 running"),
            std::string::npos);
  EXPECT_NE(page.find("<span class=\"status-diverged\">1 diverged</span>"), std::string::npos);
  EXPECT_NE(page.find("loss became NaN or infinite"), std::string::npos);
  EXPECT_NE(page.find("1 pending"), std::string::npos);
  EXPECT_NE(page.find("1 failed"), std::string::npos);
  EXPECT_NE(page.find("status pending, not done"), std::string::npos);  // the onset column says why
  EXPECT_NE(page.find("The study is not complete"), std::string::npos);
  EXPECT_NE(page.find("no /fits yet"), std::string::npos);
  EXPECT_NE(page.find("the stored sweep does not parse here"), std::string::npos);
  EXPECT_NE(page.find("Not shown: not fitted: needs at least 6"), std::string::npos);
  EXPECT_NE(page.find("runs/r91running/run.h5"), std::string::npos);
  // Every drawn figure is in the page.
  size_t images = 0;
  for (size_t at = 0; (at = page.find("<img src=\"data:image/svg+xml;base64,", at)) != std::string::npos; ++at) ++images;
  EXPECT_EQ(images, result.figures.size());
}

TEST_F(ReportOnStudy, ReadsStoredFitsAndNamesRunsThatFinishedAfterThem) {
  store_fits();
  {
    StudyWriter writer = StudyWriter::open(study);
    writer.merge_run("r91running");
    writer.set_status("r91running", RunStatus::done, 1);
  }
  const ReportResult result = render();
  EXPECT_FALSE(result.fits_computed);
  const std::string page = read_text(out / "index.html");
  EXPECT_NE(page.find("Fits read from <code>study.h5:/fits</code>"), std::string::npos);
  EXPECT_NE(page.find("1 done run(s) finished after the stored fits were written and are not in them (r91running)"),
            std::string::npos);
}

TEST_F(ReportOnStudy, FittingInMemoryLeavesTheStudyUntouched) {
  const std::string before = read_text(study / "study.h5");
  render();
  EXPECT_EQ(read_text(study / "study.h5"), before);
  EXPECT_TRUE(StudyReader(study).fit_groups().empty());
}

TEST_F(ReportOnStudy, StudyWithNothingRecordedYet) {
  testing::ReportScratch empty;
  {
    auto writer = StudyWriter::create(empty.path() / "study", "name: empty\n", "0");
    RunAttributes run;
    run.id = "only";
    run.size = "s";
    run.mitigation = "none";
    run.spec_yaml = "id: only";
    writer.register_run(run);
    run.id = "started";  // probed its initialisation only: nothing on a log token axis yet
    writer.register_run(run);
    auto started = RunFileWriter::create(run_file_path(empty.path() / "study", run.id), run);
    TrajectoryRow row;
    row.scalars["train_loss"] = 4.0;
    started.append(row);
    const double curve[2] = {5, 4};
    const int64_t steps[2] = {0, 2};
    started.append_probe(0, 9.0, curve, steps);
    started.flush();
  }
  ReportOptions options;
  options.out_dir = out;
  options.fit = quick_fit();
  const ReportResult result = write_report(empty.path() / "study", options);
  EXPECT_EQ(result.figures.size(), 1u);  // train_loss
  const std::string page = read_text(out / "index.html");
  EXPECT_NE(page.find("No run has recorded a probe after training started yet."), std::string::npos);
  EXPECT_NE(page.find("The study has one mitigation only"), std::string::npos);
}

TEST_F(ReportOnStudy, MissingGnuplotNamesTheDebianPackage) {
  ReportOptions options;
  options.out_dir = out;
  options.fit = quick_fit();
  options.gnuplot = "plascale-no-such-gnuplot";
  try {
    write_report(study, options);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("gnuplot-nox"), std::string::npos) << error.what();
  }
}

TEST_F(ReportOnStudy, RerunReplacesItsOwnFilesOnly) {
  fs::create_directories(out / "data");
  fs::create_directories(out / "figures");
  std::ofstream(out / "data" / "probe_auc_m7_s0_first.dat") << "# from an older report\n";
  std::ofstream(out / "figures" / "notes.txt") << "mine\n";
  render();
  EXPECT_FALSE(fs::exists(out / "data" / "probe_auc_m7_s0_first.dat"));
  EXPECT_TRUE(fs::exists(out / "figures" / "notes.txt"));
  EXPECT_TRUE(fs::exists(out / "data" / "probe_auc_m1_s0_first.dat"));
}

TEST_F(ReportOnStudy, MissingStudyIsBadInput) {
  ReportOptions options;
  options.out_dir = out;
  EXPECT_THROW(write_report(scratch.path() / "nowhere", options), InputError);
}

}  // namespace
}  // namespace plascale::report
