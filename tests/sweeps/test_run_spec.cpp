#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "sweeps/cost.h"
#include "sweeps/run_spec.h"

namespace plascale {
namespace {

ModelConfig zyphra(int layers, int d_model, int heads) {
  return ModelConfig{"", layers, d_model, heads, 2048, 50304, 4 * d_model};
}

TEST(Params, MatchZyphraNonEmbeddingCounts) {
  // REFERENCES.md section 1, in units of 0.1M.
  struct Row { int layers, d_model, heads; int tenths_of_millions; };
  for (Row row : {Row{4, 320, 5, 49}, Row{5, 448, 7, 121}, Row{7, 576, 9, 279}, Row{8, 640, 10, 394},
                  Row{9, 704, 11, 536}, Row{10, 832, 13, 832}, Row{11, 896, 14, 1061}, Row{16, 1280, 20, 3148}}) {
    int64_t params = nonembedding_params(zyphra(row.layers, row.d_model, row.heads));
    EXPECT_EQ((params + 50'000) / 100'000, row.tenths_of_millions) << row.d_model;
    int64_t d = row.d_model;
    EXPECT_EQ(params, row.layers * (12 * d * d + 13 * d) + 2 * d);
  }
}

TEST(Params, TotalAddsTiedEmbeddingAndPositions) {
  ModelConfig model = zyphra(4, 320, 5);
  EXPECT_EQ(total_params(model), nonembedding_params(model) + 50304 * 320 + 2048 * 320);
  model.mlp_hidden = 1000;  // not 4d: attention 4d^2+4d, MLP 2dh+h+d, norms 4d
  EXPECT_EQ(nonembedding_params(model), 4 * (4 * 320 * 320 + 4 * 320 + 2 * 320 * 1000 + 1000 + 320 + 4 * 320) + 640);
}

RunSpec fixed_spec() {
  RunSpec spec;
  spec.sweep_name = "golden";
  spec.model = {"tiny", 2, 64, 2, 64, 256, 256};
  spec.token_budget = 1'000'000;
  spec.mitigation = {"sp", {{"shrink_perturb", {{"groups", std::vector<std::string>{"all"}},
                                                {"period_steps", 1.0}, {"shrink", 0.999}, {"sigma", 1e-5}}}}};
  spec.seed = 7;
  spec.sources = {{"l0", SourceKind::synthetic, {}, {}, 0}, {"held", SourceKind::synthetic, {}, {}, 7}};
  spec.synthetic = {1234, 2, 8};
  spec.schedule.order = {"l0"};
  spec.schedule.tokens_per_task = 1'000'000;
  spec.probe.source = "held";
  spec.probe.every_tasks = 1;
  spec.training.lr = 3e-3;
  spec.training.batch_tokens = 1024;
  return spec;
}

TEST(RunId, IsTwelveHexDigitsOfTheCanonicalForm) {
  RunSpec spec = fixed_spec();
  std::string id = run_id(spec);
  ASSERT_EQ(id.size(), 12u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(run_id(spec), id);
  EXPECT_NE(canonical_form(spec).find("training.lr=0.003\n"), std::string::npos);
  EXPECT_NE(canonical_form(spec).find("mitigation.shrink_perturb.sigma=1e-05\n"), std::string::npos);
}

TEST(RunId, GoldenValueIsStableAcrossProcessesAndReleases) {
  // Studies store ids: changing this value renames every stored run. Do not update it
  // unless the canonical form is meant to change (then bump "plascale-runspec-v1").
  EXPECT_EQ(run_id(fixed_spec()), "3e5b6aacfff2");
}

TEST(RunId, LabelsResourcesAndCheckpointCadenceDoNotChangeIt) {
  const std::string id = run_id(fixed_spec());
  std::vector<std::function<void(RunSpec&)>> label_edits = {
      [](RunSpec& s) { s.sweep_name = "other"; },
      [](RunSpec& s) { s.model.size_name = "renamed"; },
      [](RunSpec& s) { s.mitigation.name = "renamed"; },
      [](RunSpec& s) { s.resources = {4, 16, "1-00:00:00"}; },
      [](RunSpec& s) { s.checkpoint_every_tokens = 12345; },
      [](RunSpec& s) { s.id = "whatever"; },
  };
  RunSpec without_probe = fixed_spec();
  without_probe.probe.enabled = false;
  const std::string id_without_probe = run_id(without_probe);
  without_probe.probe.steps = 5;  // settings of a disabled probe compute nothing
  without_probe.probe.source = "l0";
  EXPECT_EQ(run_id(without_probe), id_without_probe);
  for (size_t i = 0; i < label_edits.size(); ++i) {
    RunSpec spec = fixed_spec();
    label_edits[i](spec);
    EXPECT_EQ(run_id(spec), id) << "edit " << i;
  }
}

TEST(RunId, EveryComputationalFieldChangesIt) {
  std::vector<std::function<void(RunSpec&)>> edits = {
      [](RunSpec& s) { s.model.layers = 3; },
      [](RunSpec& s) { s.model.d_model = 128; },
      [](RunSpec& s) { s.model.heads = 4; },
      [](RunSpec& s) { s.model.context = 128; },
      [](RunSpec& s) { s.model.vocab = 512; },
      [](RunSpec& s) { s.model.mlp_hidden = 128; },
      [](RunSpec& s) { s.token_budget += 1; },
      [](RunSpec& s) { s.seed = 8; },
      [](RunSpec& s) { s.mitigation.strategies.clear(); },
      [](RunSpec& s) { s.mitigation.strategies[0].params["sigma"] = 2e-5; },
      [](RunSpec& s) { s.mitigation.strategies[0].params["groups"] = std::vector<std::string>{"mlp"}; },
      [](RunSpec& s) { s.mitigation.strategies[0].kind = "redo"; },
      [](RunSpec& s) { s.sources[0].name = "l9"; },
      [](RunSpec& s) { s.sources[0].language = 3; },
      [](RunSpec& s) { s.sources[0].kind = SourceKind::text; },
      [](RunSpec& s) { s.sources[0].train_files = {"/data/a.bin"}; },
      [](RunSpec& s) { s.sources[0].val_files = {"/data/v.bin"}; },
      [](RunSpec& s) { s.synthetic.seed = 1; },
      [](RunSpec& s) { s.synthetic.order = 3; },
      [](RunSpec& s) { s.synthetic.branching = 4; },
      [](RunSpec& s) { s.schedule.kind = ScheduleKind::stationary; },
      [](RunSpec& s) { s.schedule.order.push_back("l0"); },
      [](RunSpec& s) { s.schedule.tokens_per_task = 2; },
      [](RunSpec& s) { s.schedule.cycles = 2; },
      [](RunSpec& s) { s.schedule.reset_optimizer = false; },
      [](RunSpec& s) { s.schedule.weights = {{"l0", 1.0}}; },
      [](RunSpec& s) { s.probe.enabled = false; },
      [](RunSpec& s) { s.probe.source = "l0"; },
      [](RunSpec& s) { s.probe.steps = 99; },
      [](RunSpec& s) { s.probe.eval_interval = 5; },
      [](RunSpec& s) { s.probe.eval_sequences = 5; },
      [](RunSpec& s) { s.probe.every_tokens = 5; },
      [](RunSpec& s) { s.probe.every_tasks = 2; },
      [](RunSpec& s) { s.probe.at_start = false; },
      [](RunSpec& s) { s.probe.scratch_baseline = false; },
      [](RunSpec& s) { s.training.lr = 3.0000000000000001e-3 * 1.0000001; },
      [](RunSpec& s) { s.training.beta1 = 0.8; },
      [](RunSpec& s) { s.training.beta2 = 0.99; },
      [](RunSpec& s) { s.training.eps = 1e-6; },
      [](RunSpec& s) { s.training.weight_decay = 0.0; },
      [](RunSpec& s) { s.training.warmup_fraction = 0.1; },
      [](RunSpec& s) { s.training.schedule = LrSchedule::cosine; },
      [](RunSpec& s) { s.training.min_lr_fraction = 0.2; },
      [](RunSpec& s) { s.training.batch_tokens = 2048; },
      [](RunSpec& s) { s.training.grad_clip = 0.5; },
      [](RunSpec& s) { s.training.precision = Precision::bf16; },
      [](RunSpec& s) { s.training.backend = Backend::cuda; },
      [](RunSpec& s) { s.diagnostics.every_tokens = 10; },
      [](RunSpec& s) { s.diagnostics.dormant_threshold = 0.1; },
      [](RunSpec& s) { s.diagnostics.entropy_query_begin = 1; },
      [](RunSpec& s) { s.diagnostics.entropy_query_end = 9; },
      [](RunSpec& s) { s.diagnostics.lazy_fraction = 0.8; },
      [](RunSpec& s) { s.diagnostics.collapsed_fraction = 0.2; },
      [](RunSpec& s) { s.diagnostics.sample_sequences = 3; },
  };
  std::set<std::string> ids = {run_id(fixed_spec())};
  for (size_t i = 0; i < edits.size(); ++i) {
    RunSpec spec = fixed_spec();
    edits[i](spec);
    EXPECT_TRUE(ids.insert(run_id(spec)).second) << "edit " << i << " left the id unchanged or collided";
  }
}

TEST(RunId, StrategyOrderDoesNotMatter) {
  RunSpec a = fixed_spec();
  a.mitigation.strategies.push_back({"l2_init", {{"strength", 1e-4}}});
  RunSpec b = a;
  std::swap(b.mitigation.strategies[0], b.mitigation.strategies[1]);
  EXPECT_EQ(run_id(a), run_id(b));
}

TEST(Cost, FollowsTheLlmcConventionPlusProbes) {
  RunSpec spec = fixed_spec();
  double per_token = 6.0 * total_params(spec.model) + 6.0 * 2 * 64 * 64;
  EXPECT_DOUBLE_EQ(flops_per_token(spec.model), per_token);
  // at_start + scratch baseline + one per task (the budget holds one task).
  EXPECT_EQ(probe_count(spec), 3);
  EXPECT_DOUBLE_EQ(estimated_flops(spec), (1'000'000.0 + 3 * 100 * 1024.0) * per_token);
  spec.probe.enabled = false;
  EXPECT_DOUBLE_EQ(estimated_flops(spec), 1'000'000.0 * per_token);
  EXPECT_DOUBLE_EQ(estimated_gpu_hours(0.4 * 989e12 * 3600), 1.0);
  EXPECT_DOUBLE_EQ(estimated_gpu_hours(989e12 * 3600, {1.0, 989.0}), 1.0);
}

}  // namespace
}  // namespace plascale
