#include <gtest/gtest.h>

#include <cstring>

#include "spec_fixtures.h"
#include "sweeps/expand.h"
#include "sweeps/runspec_yaml.h"

namespace plascale {
namespace {

using namespace plascale::testing;

void expect_round_trip(const RunSpec& run) {
  std::string yaml = runspec_to_yaml(run);
  RunSpec back = parse_runspec(yaml, "run.yaml");
  EXPECT_EQ(back, run) << yaml;
  EXPECT_EQ(back.id, run.id);
  EXPECT_EQ(runspec_to_yaml(back), yaml);
}

TEST(RunSpecYaml, RoundTripsEveryExampleRun) {
  for (const auto& run : expand_sweep(load_default_sweep())) expect_round_trip(run);
  for (const auto& run : expand_sweep(load_sweep(example_path("zyphra-ladder.yaml")))) expect_round_trip(run);
}

TEST(RunSpecYaml, RoundTripsEveryStrategyFilesAndAStationarySchedule) {
  TempDir dir;
  std::string shard(1024 + 2 * 8, '\0');
  int32_t header[3] = {20240520, 1, 8};
  std::memcpy(shard.data(), header, sizeof header);
  dir.write("train \"quoted\".bin", shard);
  dir.write("val.bin", shard);
  dir.write("book.txt", "bytes");
  std::string text = replaced(kMiniSweep, "    - {name: l1, kind: synthetic, language: 1}\n",
                              "    - {name: l1, kind: shards, train: ['train \"quoted\".bin'], val: [val.bin]}\n"
                              "    - {name: book, kind: text, train: [book.txt]}\n");
  text = replaced(text, "{kind: continual, order: [l0, l1], tokens_per_task: 4096, cycles: 2}",
                  "{kind: stationary, weights: {l0: 0.25, l1: 0.5, book: 0.25}}");
  text = replaced(text, "every_tasks: 1", "every_tokens: 1000, at_start: false");
  text += R"(budgets: [8K]
mitigations:
  - none
  - {name: all-of-them, continual_backprop: {units: [mlp, heads], bias_correction: false},
     redo: {threshold: 0.1}, shrink_perturb: {groups: [attention, embeddings]}, l2_init: {strength: 0.001},
     weight_decay: {value: 0.05}, norm_limit: {max_layernorm_gain: 3, max_weight_norm: 10, per_tensor: false},
     attention_noise: {std: 0.2, schedule: linear_decay, decay_tokens: 5K}}
seeds: [0, 123456789012]
training: {lr: 1e-3, batch_tokens: 256, schedule: cosine, min_lr_fraction: 0.05, betas: [0.8, 0.99],
           grad_clip: 0, eps: 1e-6, weight_decay: 0, warmup_fraction: 0}
diagnostics: {every_tokens: 512, entropy_query_range: [2, 0], lazy_fraction: 0.8, collapsed_fraction: 0.05}
checkpoint: {every_tokens: 4K}
resources: {gpus: 1, cpus: 3, time_limit: "1-02:03:04"}
)";
  text = replaced(text, "training: {lr: 1e-3, batch_tokens: 256}\n", "");
  auto file = dir.write("sweep.yaml", text);
  auto runs = expand_sweep(load_sweep(file.string()));
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(runs[3].mitigation.strategies.size(), 7u);
  for (const auto& run : runs) expect_round_trip(run);
}

TEST(RunSpecYaml, EditedContentWithAStaleIdIsRejected) {
  RunSpec run = expand_sweep(load_default_sweep())[0];
  std::string yaml = replaced(runspec_to_yaml(run), "steps: 40", "steps: 41");
  try {
    parse_runspec(yaml, "run.yaml");
    FAIL() << "expected an id mismatch";
  } catch (const SpecError& error) {
    ASSERT_EQ(error.errors().size(), 1u);
    EXPECT_EQ(error.errors()[0].rfind("run.yaml:2:5: id \"" + run.id + "\" does not match", 0), 0u) << error.what();
  }
  // Without an id line the edited spec is accepted and gets its new id.
  std::string without_id = replaced(yaml, "id: \"" + run.id + "\"\n", "");
  RunSpec edited = parse_runspec(without_id, "run.yaml");
  EXPECT_EQ(edited.probe.steps, 41);
  EXPECT_NE(edited.id, run.id);
}

TEST(RunSpecYaml, ErrorsHavePositionsLikeSweeps) {
  RunSpec run = expand_sweep(load_default_sweep())[0];
  std::string yaml = runspec_to_yaml(run);
  yaml = replaced(yaml, "id: \"" + run.id + "\"\n", "");
  yaml = replaced(yaml, "heads: 2", "heads: 3");
  yaml = replaced(yaml, "seed: 0\n", "seed: zero\n");
  yaml = replaced(yaml, "  lr: 0.03", "  learning_rate: 0.03");
  try {
    parse_runspec(yaml, "run.yaml");
    FAIL();
  } catch (const SpecError& error) {
    const auto& errors = error.errors();
    ASSERT_EQ(errors.size(), 4u) << error.what();
    EXPECT_EQ(errors[0], "run.yaml:3:8: heads = 3 does not divide d_model = 32; allowed: heads such that d_model / heads is a whole head dimension");
    EXPECT_NE(errors[1].find(": seed: expected an integer"), std::string::npos) << errors[1];
    // Both at the training map (line 19), in the order found.
    EXPECT_EQ(errors[2].rfind("run.yaml:19:3: training: unknown key \"learning_rate\"", 0), 0u) << errors[2];
    EXPECT_EQ(errors[3], "run.yaml:19:3: missing required key \"lr\"");
  }
}

TEST(RunSpecYaml, LoadRunSpecReadsAFile) {
  TempDir dir;
  RunSpec run = expand_sweep(load_default_sweep())[1];
  auto file = dir.write("run.yaml", runspec_to_yaml(run));
  EXPECT_EQ(load_runspec(file.string()), run);
  EXPECT_THROW(load_runspec((dir.path() / "absent.yaml").string()), InputError);
}

}  // namespace
}  // namespace plascale
