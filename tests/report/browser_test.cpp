// `plascale report` end to end: a small real study (3 sizes x 2 budgets x none and
// shrink-and-perturb x 2 seeds, trained by `plascale train`; one run stopped part-way so
// it is pending again, one failed on a damaged checkpoint, one size with a hostile
// label), fitted by `plascale fit`, reported, and the page loaded in
// headless Chromium: every figure must load and the page must log no error (a check
// script injected into a copy of the page reports images and errors into the DOM, which
// --dump-dom prints). The screenshot is kept under the test's output folder.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "sweeps/expand.h"
#include "sweeps/sweep.h"

namespace plascale {
namespace {

namespace fs = std::filesystem;

struct CommandOutput {
  int exit_code = -1;
  std::string output;  // stdout, and stderr unless redirected
};

CommandOutput run_command(const std::string& command) {
  CommandOutput result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  for (size_t count; (count = fread(buffer, 1, sizeof buffer, pipe)) > 0;) result.output.append(buffer, count);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

constexpr const char* kSweep = R"(name: report-browser
model: {context: 16, vocab: 64}
sizes:
  - {name: xs, layers: 1, d_model: 16, heads: 2}
  - {name: "s <script>alert(1)</script> & 'q' \"x\"", layers: 2, d_model: 24, heads: 2}
  - {name: m, layers: 2, d_model: 32, heads: 2}
data:
  synthetic: {seed: 3, order: 2, branching: 4}
  sources:
    - {name: a, kind: synthetic, language: 0}
    - {name: b, kind: synthetic, language: 1}
    - {name: p, kind: synthetic, language: 2}
  schedule: {kind: continual, order: [a, b], tokens_per_task: 1024, cycles: 3}
probe: {source: p, steps: 4, eval_interval: 2, eval_sequences: 4, every_tasks: 1, scratch_baseline: true}
training: {lr: 3e-3, batch_tokens: 64, warmup_fraction: 0.25}
diagnostics: {every_tokens: 512, sample_sequences: 4}
checkpoint: {every_tokens: 1024}
budgets: [4096, full]
mitigations: [none, {name: sp, shrink_perturb: {shrink: 0.9, sigma: 0.01}}]
seeds: [0, 1]
output: {study: study}
)";

// Injected first in <head>, before the page's Content-Security-Policy, so it runs; the
// policy still applies to everything after it, and a violation is an error here.
constexpr const char* kCheckScript = R"(<script>
window.plascaleErrors = [];
window.addEventListener('error', function (e) { plascaleErrors.push(e.message || ('failed to load ' + (e.target && e.target.tagName))); }, true);
document.addEventListener('securitypolicyviolation', function (e) { plascaleErrors.push('CSP ' + e.violatedDirective + ' ' + e.blockedURI); });
var plascaleConsoleError = console.error;
console.error = function () { plascaleErrors.push('console.error ' + Array.prototype.join.call(arguments, ' ')); plascaleConsoleError.apply(console, arguments); };
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (i) { return !i.complete || i.naturalWidth === 0; }).map(function (i) { return i.alt; });
  var out = document.createElement('pre');
  out.id = 'plascale-check';
  out.textContent = 'images=' + images.length + ' broken=' + JSON.stringify(broken) + ' errors=' + JSON.stringify(plascaleErrors);
  document.body.appendChild(out);
});
</script>
)";

std::string chromium(const fs::path& profile) {
  return "timeout 180 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir='" +
         profile.string() + "' ";
}

TEST(ReportBrowser, RealStudyReportLoadsEveryFigureWithoutErrors) {
  const fs::path dir = fs::path(PLASCALE_BINARY_DIR) / "test-output" / "report_browser";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path sweep_path = dir / "sweep.yaml";
  write_text(sweep_path, kSweep);
  const std::string plascale = PLASCALE_EXE;
  const std::vector<RunSpec> runs = expand_sweep(load_sweep(sweep_path.string()));
  ASSERT_EQ(runs.size(), 24u);

  auto train = [&](const RunSpec& run, const std::string& extra) {
    return run_command(plascale + " train --sweep '" + sweep_path.string() + "' --run " + run.id +
                       " --threads 1 " + extra + " >/dev/null 2>&1");
  };
  // runs[0]: stopped after 2048 tokens (exit 3, pending with a partial trajectory).
  EXPECT_EQ(train(runs[0], "--stop-after-tokens 2048").exit_code, 3);
  // runs[1]: stopped, its checkpoint damaged, resumed: the attempt fails and the study records why.
  EXPECT_EQ(train(runs[1], "--stop-after-tokens 2048").exit_code, 3);
  for (const auto& checkpoint : fs::directory_iterator(dir / "study" / "runs" / runs[1].id / "ckpt"))
    fs::resize_file(checkpoint.path(), 100);
  EXPECT_EQ(train(runs[1], "").exit_code, 2);
  for (size_t i = 2; i < runs.size(); ++i) EXPECT_EQ(train(runs[i], "").exit_code, 0) << runs[i].id;

  const fs::path study = dir / "study";
  const CommandOutput fit = run_command(plascale + " fit '" + study.string() + "' --study-bootstrap 100 2>&1");
  ASSERT_EQ(fit.exit_code, 0) << fit.output;
  const fs::path out = dir / "report";
  const CommandOutput report = run_command(plascale + " report '" + study.string() + "' --out '" + out.string() + "' 2>&1");
  ASSERT_EQ(report.exit_code, 0) << report.output;
  std::smatch match;
  ASSERT_TRUE(std::regex_search(report.output, match, std::regex("report: (.*index\\.html) \\((\\d+) figures\\)")))
      << report.output;
  EXPECT_EQ(fs::path(match[1].str()), out / "index.html");
  const int figures = std::stoi(match[2]);
  // Per mitigation trajectories, onset law, comparison, 22+ heatmaps (at most 48), heads, parameters, 3 losses,
  // 5 other metrics (the mitigation's counter among them), loss law.
  EXPECT_GE(figures, 36);
  EXPECT_TRUE(fs::exists(out / "figures" / "metric_shrink_perturb_steps.svg"));

  const std::string page = read_text(out / "index.html");
  EXPECT_NE(page.find("<span class=\"status-failed\">1 failed</span>"), std::string::npos);
  EXPECT_NE(page.find("<span class=\"status-pending\">1 pending</span>"), std::string::npos);
  EXPECT_NE(page.find("the file is truncated or damaged"), std::string::npos);  // the failed run's error
  EXPECT_NE(page.find("s &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#39;q&#39; &quot;x&quot;"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_NE(page.find("alt=\"Loss law L(N, D)"), std::string::npos);  // 10 done none runs, 3 sizes, 2 budgets
  EXPECT_NE(page.find("alt=\"Mitigation comparison\""), std::string::npos);

  std::string checked = page;
  checked.insert(checked.find("<head>") + 6, std::string("\n") + kCheckScript);
  write_text(out / "check.html", checked);
  const CommandOutput dom =
      run_command(chromium(dir / "profile") + "--dump-dom 'file://" + (out / "check.html").string() + "' 2>/dev/null");
  ASSERT_EQ(dom.exit_code, 0) << "headless chromium failed (Debian package chromium; scripts/install-deps)";
  ASSERT_TRUE(std::regex_search(dom.output, match, std::regex("<pre id=\"plascale-check\">([^<]*)</pre>")))
      << dom.output.substr(0, 2000);
  EXPECT_EQ(match[1].str(), "images=" + std::to_string(figures) + " broken=[] errors=[]");

  const fs::path screenshot = out / "screenshot.png";
  const CommandOutput shot = run_command(chromium(dir / "profile") + "--window-size=1200,5000 --screenshot='" +
                                         screenshot.string() + "' 'file://" + (out / "index.html").string() +
                                         "' 2>&1");
  ASSERT_EQ(shot.exit_code, 0) << shot.output;
  ASSERT_TRUE(fs::exists(screenshot));
  EXPECT_GT(fs::file_size(screenshot), 50'000u);
  std::printf("report: %s\nscreenshot: %s\n", (out / "index.html").c_str(), screenshot.c_str());
}

TEST(ReportBrowser, BadStudyIsExitTwoNamingIt) {
  const fs::path dir = fs::path(PLASCALE_BINARY_DIR) / "test-output" / "report_bad_input";
  fs::remove_all(dir);
  fs::create_directories(dir);
  write_text(dir / "study.h5", "not hdf5");
  const CommandOutput missing = run_command(std::string(PLASCALE_EXE) + " report '" + (dir / "nowhere").string() +
                                            "' --out '" + (dir / "out").string() + "' 2>&1");
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find("nowhere"), std::string::npos) << missing.output;
  const CommandOutput damaged = run_command(std::string(PLASCALE_EXE) + " report '" + dir.string() + "' --out '" +
                                            (dir / "out").string() + "' 2>&1");
  EXPECT_EQ(damaged.exit_code, 2) << damaged.output;
  EXPECT_NE(damaged.output.find("study.h5"), std::string::npos) << damaged.output;
  const CommandOutput no_out = run_command(std::string(PLASCALE_EXE) + " report '" + dir.string() + "' 2>&1");
  EXPECT_EQ(no_out.exit_code, 2) << no_out.output;
  EXPECT_NE(no_out.output.find("--out"), std::string::npos) << no_out.output;
}

}  // namespace
}  // namespace plascale
