// End to end: the built `plascale` binary, its exit codes and its --json output read back
// by Python's json module.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>

#include "spec_fixtures.h"

namespace plascale {
namespace {

using namespace plascale::testing;

struct Result {
  int exit_code;
  std::string output;  // stdout and stderr together
};

Result run(const std::string& command) {
  Result result{-1, ""};
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  size_t got;
  while ((got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) result.output.append(buffer, got);
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

const std::string kPlascale = PLASCALE_EXE;
const std::string kPython = PLASCALE_PYTHON;

TEST(Cli, ValidateDefaultSucceedsWithASummary) {
  Result result = run(kPlascale + " validate --default");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("example.yaml (built in): OK: 7 runs = 2 sizes x 1 budgets x 2 mitigations x 2 seeds, "
                               "2 excluded, 1 included"),
            std::string::npos)
      << result.output;
}

TEST(Cli, ValidateReportsEveryErrorWithExitCodeTwo) {
  TempDir dir;
  std::string text = replaced(kMiniSweep, "heads: 2", "heads: 3");
  text = replaced(text, "steps: 4", "steps: -4");
  auto file = dir.write("bad.yaml", text);
  Result result = run(kPlascale + " validate " + file.string());
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("plascale: error: 2 errors:"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find(file.string() + ":" + position_of(text, "3}") + ": heads = 3 does not divide d_model = 32"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find(file.string() + ":" + position_of(text, "-4") + ": steps = -4 is out of range"), std::string::npos) << result.output;

  EXPECT_EQ(run(kPlascale + " validate " + (dir.path() / "absent.yaml").string()).exit_code, 2);
  EXPECT_EQ(run(kPlascale + " validate").exit_code, 2);                        // neither file nor --default
  EXPECT_EQ(run(kPlascale + " validate --default " + file.string()).exit_code, 2);  // both
  EXPECT_EQ(run(kPlascale + " plan --default --mfu 2").exit_code, 2);          // flag out of range
  EXPECT_EQ(run(kPlascale + " validate " + dir.write("ok.yaml", kMiniSweep).string()).exit_code, 0);
}

TEST(Cli, PlanPrintsATableWithTheCostConvention) {
  Result result = run(kPlascale + " plan --default");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  for (const char* column : {"id", "size", "non-emb", "total", "budget", "mitigation", "seed", "FLOPs", "GPU-h"})
    EXPECT_NE(result.output.find(column), std::string::npos) << column;
  EXPECT_NE(result.output.find("6 x total params + 6 x layers x context x d_model"), std::string::npos);
  EXPECT_NE(result.output.find("40% MFU of 989 TFLOP/s"), std::string::npos);
}

TEST(Cli, PlanJsonIsReadBackByPython) {
  TempDir dir;
  auto json = dir.path() / "plan.json";
  Result result = run(kPlascale + " plan --default --json --mfu 0.5 > " + json.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::string check = R"(
import json, sys
runs = json.load(open(sys.argv[1]))
assert len(runs) == 7, len(runs)
assert [r["size"] for r in runs] == ["tiny"] * 3 + ["small"] * 4, runs
assert [r["mitigation"] for r in runs] == ["none", "none", "sp", "none", "none", "sp", "none"]
assert runs[6]["seed"] == 2 and runs[6]["token_budget"] == 768000
for r in runs:
    assert len(r["id"]) == 12
    per_token = 6 * r["total_params"] + 6 * r["layers"] * 32 * r["d_model"]
    probe_tokens = r["probes"] * 40 * 512
    assert abs(r["estimated_flops"] - (r["token_budget"] + probe_tokens) * per_token) < 1e-6 * r["estimated_flops"]
    assert abs(r["estimated_gpu_hours"] - r["estimated_flops"] / (0.5 * 989e12) / 3600) < 1e-12
assert runs[0]["nonembedding_params"] == 2 * (12 * 32 * 32 + 13 * 32) + 2 * 32
print("ok")
)";
  auto script = dir.write("check.py", check);
  Result checked = run(kPython + " " + script.string() + " " + json.string());
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
  EXPECT_EQ(checked.output, "ok\n");
}

TEST(Cli, ZyphraLadderPlanHasTheReferenceSizes) {
  TempDir dir;
  auto json = dir.path() / "plan.json";
  Result result = run(kPlascale + " plan --json " + example_path("zyphra-ladder.yaml") + " > " + json.string());
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::string check = R"(
import json, sys
runs = json.load(open(sys.argv[1]))
reference = {"4.9M": 4.9, "12.1M": 12.1, "27.9M": 27.9, "39.4M": 39.4, "53.6M": 53.6, "83.2M": 83.2,
             "106.1M": 106.1, "314.8M": 314.8}
assert sorted(r["size"] for r in runs) == sorted(reference), runs
for r in runs:
    assert round(r["nonembedding_params"] / 1e6, 1) == reference[r["size"]], r
    assert r["d_model"] // r["heads"] == 64
    assert r["token_budget"] == 8 * 5_000_000_000 * 48
# The anchors are at the rounded sizes, so the LR is within 1% of them.
assert abs(runs[0]["lr"] - 3e-3) < 0.01 * 3e-3 and abs(runs[-1]["lr"] - 1e-3) < 0.01 * 1e-3, runs
print("ok")
)";
  auto script = dir.write("check.py", check);
  Result checked = run(kPython + " " + script.string() + " " + json.string());
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
}

}  // namespace
}  // namespace plascale
