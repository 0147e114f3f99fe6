#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "spec_fixtures.h"
#include "sweeps/expand.h"

namespace plascale {
namespace {

using namespace plascale::testing;

// mini with 2 sizes x 2 budgets x 2 mitigations x 2 seeds = 16 grid points.
std::string grid_sweep(const std::string& extra = "") {
  std::string text = replaced(kMiniSweep, "  - {name: a, layers: 1, d_model: 32, heads: 2}\n",
                              "  - {name: a, layers: 1, d_model: 32, heads: 2}\n  - {name: b, layers: 2, d_model: 32, heads: 2}\n");
  return text + "budgets: [8K, full]\nmitigations: [none, redo]\nseeds: [0, 1]\n" + extra;
}

std::map<std::string, std::string> ids_by_point(const std::vector<RunSpec>& runs) {
  std::map<std::string, std::string> ids;
  for (const auto& run : runs)
    ids[run.model.size_name + "/" + std::to_string(run.token_budget) + "/" + run.mitigation.name + "/" +
        std::to_string(run.seed)] = run.id;
  return ids;
}

TEST(Expand, GridOrderAndCounts) {
  auto runs = expand_sweep(parse_sweep(grid_sweep(), "t.yaml"));
  ASSERT_EQ(runs.size(), 16u);
  // sizes outermost, seeds innermost
  EXPECT_EQ(runs[0].model.size_name, "a");
  EXPECT_EQ(runs[0].token_budget, 8000);
  EXPECT_EQ(runs[1].seed, 1u);
  EXPECT_EQ(runs[2].mitigation.name, "redo");
  EXPECT_EQ(runs[4].token_budget, 16'384);
  EXPECT_EQ(runs[8].model.size_name, "b");
  std::set<std::string> ids;
  for (const auto& run : runs) {
    EXPECT_EQ(run.id, run_id(run));
    EXPECT_EQ(run.sweep_name, "mini");
    ids.insert(run.id);
  }
  EXPECT_EQ(ids.size(), 16u);
}

TEST(Expand, ExcludeMatchesAllGivenFieldsAndIncludeAddsOnePoint) {
  auto count = [](const std::string& grid) { return expand_sweep(parse_sweep(grid_sweep(grid), "t.yaml")).size(); };
  EXPECT_EQ(count("grid: {exclude: [{size: b}]}\n"), 8u);
  EXPECT_EQ(count("grid: {exclude: [{size: b, mitigation: redo}]}\n"), 12u);
  EXPECT_EQ(count("grid: {exclude: [{size: b, mitigation: redo, seed: 1, budget: full}]}\n"), 15u);
  EXPECT_EQ(count("grid: {exclude: [{budget: 8K}, {seed: 1}]}\n"), 4u);
  EXPECT_EQ(count("grid: {exclude: [{seed: 7}]}\n"), 16u);  // matches nothing
  // A new point, and one already in the grid (not duplicated).
  EXPECT_EQ(count("grid: {include: [{size: a, budget: 4K, mitigation: none, seed: 9}]}\n"), 17u);
  EXPECT_EQ(count("grid: {include: [{size: a, budget: 8K, mitigation: none, seed: 0}]}\n"), 16u);
  // Exclude then include the same point: included wins, it is added back.
  EXPECT_EQ(count("grid: {exclude: [{size: b}], include: [{size: b, budget: full, mitigation: redo, seed: 5}]}\n"), 9u);

  auto runs = expand_sweep(parse_sweep(grid_sweep("grid: {include: [{size: b, budget: 4K, mitigation: redo, seed: 9}]}\n"), "t.yaml"));
  EXPECT_EQ(runs.back().model.size_name, "b");
  EXPECT_EQ(runs.back().token_budget, 4000);
  EXPECT_EQ(runs.back().seed, 9u);
}

TEST(Expand, ExampleHasSevenRuns) {
  auto runs = expand_sweep(load_default_sweep());
  ASSERT_EQ(runs.size(), 7u);  // 2 x 1 x 2 x 2, minus sp+seed 1 of both sizes, plus one included
  EXPECT_EQ(runs[6].model.size_name, "small");
  EXPECT_EQ(runs[6].mitigation.name, "none");
  EXPECT_EQ(runs[6].seed, 2u);
  EXPECT_EQ(runs[6].token_budget, 768'000);
  EXPECT_EQ(runs[3].training.lr, 1e-2);  // per-size lr
  EXPECT_EQ(runs[0].training.lr, 3e-2);
  EXPECT_EQ(runs[0].resources.time_limit, "00:10:00");
  EXPECT_EQ(runs[3].resources.time_limit, "00:20:00");
}

TEST(RunIdentity, AddingSeedsMitigationsOrSizesKeepsExistingIds) {
  auto before = ids_by_point(expand_sweep(parse_sweep(grid_sweep(), "t.yaml")));
  std::vector<std::pair<std::string, std::string>> growths = {
      {"seeds: [0, 1]", "seeds: [0, 1, 2]"},
      {"mitigations: [none, redo]", "mitigations: [none, redo, {name: sp, shrink_perturb: {}}]"},
      {"  - {name: b,", "  - {name: c, layers: 4, d_model: 48, heads: 3}\n  - {name: b,"},
      {"budgets: [8K, full]", "budgets: [8K, 12K, full]"},
      {"    - {name: held,", "    - {name: unused, kind: synthetic, language: 5}\n    - {name: held,"},
  };
  for (const auto& [from, to] : growths) {
    auto after = ids_by_point(expand_sweep(parse_sweep(replaced(grid_sweep(), from, to), "t.yaml")));
    EXPECT_GE(after.size(), before.size()) << to;
    for (const auto& [point, id] : before) EXPECT_EQ(after[point], id) << point << " after " << to;
  }
}

TEST(RunIdentity, PowerLawLrIsResolvedPerSizeBeforeHashing) {
  std::string text = replaced(grid_sweep(), "lr: 1e-3", "lr: {power_law: {anchors: [[1e4, 3e-3], [1e6, 1e-3]]}}");
  auto before = ids_by_point(expand_sweep(parse_sweep(text, "t.yaml")));
  auto bigger = replaced(text, "  - {name: b,", "  - {name: huge, layers: 8, d_model: 256, heads: 4}\n  - {name: b,");
  auto after = ids_by_point(expand_sweep(parse_sweep(bigger, "t.yaml")));
  for (const auto& [point, id] : before) EXPECT_EQ(after[point], id) << point;
  auto runs = expand_sweep(parse_sweep(text, "t.yaml"));
  EXPECT_GT(runs[0].training.lr, runs[8].training.lr);  // a is smaller than b: larger LR
}

TEST(RunIdentity, SameRunInTwoSweepsHasTheSameId) {
  auto first = expand_sweep(parse_sweep(grid_sweep(), "t.yaml"));
  std::string other = replaced(grid_sweep(), "name: mini", "name: another-study");
  other = replaced(other, "seeds: [0, 1]", "seeds: [1, 5]");
  other = replaced(other, "mitigations: [none, redo]", "mitigations: [{name: baseline}, {name: r, redo: {}}]");
  other = replaced(other, "{name: a, layers: 1", "{name: renamed, resources: {gpus: 2}, layers: 1");
  auto second = expand_sweep(parse_sweep(other, "elsewhere/other.yaml"));
  // a/8K/none/1 in the first sweep is renamed/8K/baseline/1 in the second.
  auto find = [](const std::vector<RunSpec>& runs, const std::string& size, const std::string& mitigation) {
    return std::find_if(runs.begin(), runs.end(), [&](const RunSpec& run) {
      return run.model.size_name == size && run.mitigation.name == mitigation && run.seed == 1 &&
             run.token_budget == 8000;
    });
  };
  auto a = find(first, "a", "none");
  auto b = find(second, "renamed", "baseline");
  ASSERT_NE(a, first.end());
  ASSERT_NE(b, second.end());
  EXPECT_EQ(a->id, b->id);
  EXPECT_EQ(find(first, "a", "redo")->id, find(second, "renamed", "r")->id);
}

TEST(RunIdentity, EditingASharedSectionRenamesEveryRun) {
  auto before = expand_sweep(parse_sweep(grid_sweep(), "t.yaml"));
  auto after = expand_sweep(parse_sweep(replaced(grid_sweep(), "steps: 4", "steps: 6"), "t.yaml"));
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) EXPECT_NE(before[i].id, after[i].id);
}

}  // namespace
}  // namespace plascale
