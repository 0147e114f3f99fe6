#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "spec_fixtures.h"
#include "sweeps/expand.h"
#include "sweeps/sweep.h"

namespace plascale {
namespace {

using namespace plascale::testing;

const ParamValue& param(const Mitigation& mitigation, const std::string& kind, const std::string& key) {
  for (const auto& strategy : mitigation.strategies)
    if (strategy.kind == kind) return strategy.params.at(key);
  throw std::runtime_error("no strategy " + kind);
}

TEST(ParseSweep, ExampleReadsEveryKey) {
  Sweep sweep = load_sweep(example_path("example.yaml"));
  EXPECT_EQ(sweep.name, "example");
  ASSERT_EQ(sweep.sizes.size(), 2u);
  const auto& tiny = sweep.sizes[0];
  EXPECT_EQ(tiny.model, (ModelConfig{"tiny", 2, 32, 2, 32, 128, 128}));
  EXPECT_FALSE(tiny.lr.has_value());
  EXPECT_EQ(tiny.resources, (Resources{0, 1, "00:10:00"}));  // sweep-wide defaults
  const auto& small = sweep.sizes[1];
  EXPECT_EQ(small.model, (ModelConfig{"small", 2, 64, 2, 32, 128, 256}));
  EXPECT_EQ(small.lr, 1e-2);
  EXPECT_EQ(small.resources, (Resources{0, 2, "00:20:00"}));  // per-size override

  EXPECT_EQ(sweep.synthetic, (SyntheticConfig{1234, 1, 4}));
  ASSERT_EQ(sweep.sources.size(), 5u);
  EXPECT_EQ(sweep.sources[4], (DataSource{"heldout", SourceKind::synthetic, {}, {}, 7}));
  EXPECT_EQ(sweep.schedule.kind, ScheduleKind::continual);
  EXPECT_EQ(sweep.schedule.order, (std::vector<std::string>{"lang0", "lang1", "lang2", "lang3"}));
  EXPECT_EQ(sweep.schedule.tokens_per_task, 32'000);
  EXPECT_EQ(sweep.schedule.cycles, 10);
  EXPECT_TRUE(sweep.schedule.reset_optimizer);

  EXPECT_EQ(sweep.probe, (ProbeConfig{true, "heldout", 40, 2, 8, 0, 2, true, true}));

  const auto& t = sweep.training;
  EXPECT_EQ(sweep.lr.fixed, 3e-2);
  EXPECT_TRUE(sweep.lr.anchors.empty());
  EXPECT_EQ(t.beta1, 0.9);
  EXPECT_EQ(t.beta2, 0.95);
  EXPECT_EQ(t.eps, 1e-8);
  EXPECT_EQ(t.weight_decay, 0.0);
  EXPECT_EQ(t.warmup_fraction, 0.05);
  EXPECT_EQ(t.schedule, LrSchedule::constant);
  EXPECT_EQ(t.min_lr_fraction, 0.1);
  EXPECT_EQ(t.batch_tokens, 512);
  EXPECT_EQ(t.grad_clip, 1.0);
  EXPECT_EQ(t.precision, Precision::fp32);
  EXPECT_EQ(t.backend, Backend::cpu);

  EXPECT_EQ(sweep.budgets, (std::vector<int64_t>{1'280'000}));  // full = 4 x 32K x 10
  ASSERT_EQ(sweep.mitigations.size(), 2u);
  EXPECT_EQ(sweep.mitigations[0], (Mitigation{"none", {}}));
  EXPECT_EQ(sweep.mitigations[1].name, "sp");
  EXPECT_EQ(std::get<double>(param(sweep.mitigations[1], "shrink_perturb", "shrink")), 0.999);
  EXPECT_EQ(std::get<std::vector<std::string>>(param(sweep.mitigations[1], "shrink_perturb", "groups")),
            std::vector<std::string>{"all"});  // default filled in
  EXPECT_EQ(sweep.seeds, (std::vector<uint64_t>{0, 1}));

  EXPECT_EQ(sweep.diagnostics, (DiagnosticsConfig{128'000, 0.01, 8, 32, 0.9, 0.1, 8}));
  EXPECT_EQ(sweep.checkpoint_every_tokens, 256'000);
  ASSERT_EQ(sweep.exclude.size(), 1u);
  EXPECT_FALSE(sweep.exclude[0].size.has_value());
  EXPECT_EQ(sweep.exclude[0].mitigation, "sp");
  EXPECT_EQ(sweep.exclude[0].seed, 1u);
  ASSERT_EQ(sweep.include.size(), 1u);
  EXPECT_EQ(sweep.include[0].budget, 768'000);
  EXPECT_EQ(sweep.include[0].seed, 2u);
  EXPECT_EQ(sweep.output_study, (std::filesystem::path(PLASCALE_SOURCE_DIR) / "sweeps/examples/studies/example").string());
}

TEST(ParseSweep, BuiltInDefaultIsTheExampleFile) {
  EXPECT_EQ(std::string(default_sweep_yaml()), read_text(example_path("example.yaml")));
  Sweep sweep = load_default_sweep();
  EXPECT_EQ(sweep.file, kDefaultSweepName);
  EXPECT_EQ(expand_sweep(sweep).size(), 7u);
}

TEST(ParseSweep, ZyphraLadderDerivesHeadsAndThePowerLawLr) {
  Sweep sweep = load_sweep(example_path("zyphra-ladder.yaml"));
  ASSERT_EQ(sweep.sizes.size(), 8u);
  for (const auto& size : sweep.sizes) {
    EXPECT_EQ(size.model.d_model / size.model.heads, 64);
    EXPECT_EQ(size.model.context, 2048);
    EXPECT_EQ(size.model.vocab, 50304);
  }
  EXPECT_EQ(sweep.sizes[7].resources, (Resources{8, 8, "7-00:00:00"}));
  ASSERT_EQ(sweep.lr.anchors.size(), 2u);
  EXPECT_NEAR(sweep.lr.at(4'900'000), 3e-3, 1e-15);
  EXPECT_NEAR(sweep.lr.at(314'800'000), 1e-3, 1e-15);
  double middle = sweep.lr.at(39'270'000);  // geometric middle of the anchors
  EXPECT_NEAR(middle, std::sqrt(3e-3 * 1e-3), 1e-6);
  EXPECT_EQ(sweep.budgets, (std::vector<int64_t>{8 * 5'000'000'000LL * 48}));
  EXPECT_EQ(sweep.training.precision, Precision::bf16);
}

TEST(ParseSweep, MitigationDefaultsAndShorthands) {
  std::string text = std::string(kMiniSweep) + R"(mitigations:
  - none
  - redo
  - {name: cbp, continual_backprop: {units: [heads, mlp]}}
  - {weight_decay: {value: 0.3}, l2_init: {}}
  - {name: clip, norm_limit: {max_weight_norm: 2}}
  - {name: noise, attention_noise: {schedule: linear_decay, decay_tokens: 1M}}
)";
  Sweep sweep = parse_sweep(text, "t.yaml");
  ASSERT_EQ(sweep.mitigations.size(), 6u);
  EXPECT_EQ(sweep.mitigations[1].name, "redo");
  EXPECT_EQ(std::get<double>(param(sweep.mitigations[1], "redo", "threshold")), 0.025);
  EXPECT_EQ(std::get<double>(param(sweep.mitigations[1], "redo", "period_steps")), 1000);
  const auto& cbp = sweep.mitigations[2];
  EXPECT_EQ(std::get<double>(param(cbp, "continual_backprop", "replacement_rate")), 1e-4);
  EXPECT_EQ(std::get<double>(param(cbp, "continual_backprop", "decay")), 0.99);
  EXPECT_EQ(std::get<double>(param(cbp, "continual_backprop", "maturity")), 100);
  EXPECT_EQ(std::get<bool>(param(cbp, "continual_backprop", "bias_correction")), true);
  EXPECT_EQ(std::get<std::vector<std::string>>(param(cbp, "continual_backprop", "units")),
            (std::vector<std::string>{"mlp", "heads"}));  // schema order
  const auto& combined = sweep.mitigations[3];
  EXPECT_EQ(combined.name, "l2_init+weight_decay");  // unnamed: kinds joined
  EXPECT_EQ(std::get<double>(param(combined, "l2_init", "strength")), 1e-4);
  EXPECT_EQ(std::get<bool>(param(combined, "weight_decay", "exclude_layernorm")), true);
  const auto& clip = sweep.mitigations[4];
  EXPECT_EQ(clip.strategies[0].params.count("max_layernorm_gain"), 0u);  // optional, no default
  EXPECT_EQ(std::get<double>(param(clip, "norm_limit", "max_weight_norm")), 2);
  EXPECT_EQ(std::get<double>(param(sweep.mitigations[5], "attention_noise", "decay_tokens")), 1e6);
  EXPECT_EQ(std::get<double>(param(sweep.mitigations[5], "attention_noise", "std")), 0.1);
}

TEST(ParseSweep, SweepWideKeysHeadDimAndDisabledProbe) {
  std::string text = replaced(kMiniSweep, "vocab: 256}", "vocab: 256, head_dim: 8, mlp_ratio: 2}");
  text = replaced(text, "{name: a, layers: 1, d_model: 32, heads: 2}",
                  "{name: a, layers: 1, d_model: 32, mlp_hidden: 40, resources: {gpus: 3}}\n"
                  "  - {name: b, layers: 1, d_model: 64}");
  text = replaced(text, "probe: {source: held, steps: 4, eval_interval: 2, eval_sequences: 2, every_tasks: 1}",
                  "probe: {enabled: false}");
  text += "resources: {gpus: 1, cpus: 4, time_limit: \"1-00\", partition: gpu, account: lab}\n"
          "checkpoint: {every_tokens: 2K}\n";
  TempDir dir;
  Sweep sweep = load_sweep(dir.write("sub/sweep.yaml", text).string());
  ASSERT_EQ(sweep.sizes.size(), 2u);
  EXPECT_EQ(sweep.sizes[0].model, (ModelConfig{"a", 1, 32, 4, 16, 256, 40}));  // heads = 32 / 8
  EXPECT_EQ(sweep.sizes[1].model, (ModelConfig{"b", 1, 64, 8, 16, 256, 128}));  // mlp_ratio 2
  EXPECT_EQ(sweep.sizes[0].resources, (Resources{3, 4, "1-00"}));
  EXPECT_EQ(sweep.sizes[1].resources, (Resources{1, 4, "1-00"}));
  EXPECT_EQ(sweep.partition, "gpu");
  EXPECT_EQ(sweep.account, "lab");
  EXPECT_EQ(sweep.checkpoint_every_tokens, 2000);
  EXPECT_FALSE(sweep.probe.enabled);
  EXPECT_EQ(sweep.output_study, (dir.path() / "sub/studies/mini").string());
  auto runs = expand_sweep(sweep);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].sources.size(), 2u);  // the probe's source is not used when probing is off
  EXPECT_EQ(sweep_hash(text), sweep_hash(sweep.text));
  EXPECT_NE(sweep_hash(text), sweep_hash(text + " "));
  EXPECT_EQ(sweep_hash(text).size(), 16u);
}

TEST(ParseSweep, StationaryScheduleNeedsExplicitBudgets) {
  std::string text = replaced(kMiniSweep, "{kind: continual, order: [l0, l1], tokens_per_task: 4096, cycles: 2}",
                              "{kind: stationary, weights: {l0: 1, l1: 3}}");
  text = replaced(text, "every_tasks: 1", "every_tokens: 2K");
  expect_one_error(text, "name: mini", "budget \"full\" (the default) needs a continual schedule");
  Sweep sweep = parse_sweep(text + "budgets: [8K, 16K]\n", "t.yaml");
  EXPECT_EQ(sweep.schedule.kind, ScheduleKind::stationary);
  EXPECT_EQ(sweep.schedule.weights, (std::vector<std::pair<std::string, double>>{{"l0", 1}, {"l1", 3}}));
  EXPECT_EQ(sweep.budgets, (std::vector<int64_t>{8000, 16000}));
  EXPECT_EQ(sweep.probe.every_tokens, 2000);
}

TEST(ParseSweep, ShardAndTextSourcesExpandGlobsRelativeToTheSpec) {
  TempDir dir;
  auto shard = [](uint32_t tokens) {
    std::string bytes(1024 + 2 * tokens, '\0');
    int32_t header[3] = {20240520, 1, static_cast<int32_t>(tokens)};
    std::memcpy(bytes.data(), header, sizeof header);
    return bytes;
  };
  dir.write("data/web_train_001.bin", shard(100));
  dir.write("data/web_train_000.bin", shard(10));
  dir.write("data/web_val_000.bin", shard(5));
  dir.write("book.txt", "Call me Ishmael.");
  std::string text = replaced(kMiniSweep, "    - {name: l1, kind: synthetic, language: 1}\n",
                              "    - {name: l1, kind: shards, train: [\"data/web_train_*.bin\"], val: data/web_val_000.bin}\n"
                              "    - {name: book, kind: text, train: [book.txt]}\n");
  auto file = dir.write("sweep.yaml", text);
  Sweep sweep = load_sweep(file.string());
  ASSERT_EQ(sweep.sources.size(), 4u);
  auto base = dir.path().lexically_normal();
  EXPECT_EQ(sweep.sources[1].train_files, (std::vector<std::string>{(base / "data/web_train_000.bin").string(),
                                                                     (base / "data/web_train_001.bin").string()}));
  EXPECT_EQ(sweep.sources[1].val_files, (std::vector<std::string>{(base / "data/web_val_000.bin").string()}));
  EXPECT_EQ(sweep.sources[2].kind, SourceKind::text);
  // Unused by schedule and probe: not part of the runs.
  EXPECT_EQ(expand_sweep(sweep)[0].sources.size(), 3u);
}

// ------------------------------------------------------------------ one error each

TEST(SweepErrors, UnknownKeySuggestsTheClosest) {
  std::string text = replaced(kMiniSweep, "layers: 1", "layer: 1");
  auto errors = sweep_errors(text);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], "t.yaml:4:5: missing required key \"layers\"");  // at the size's map
  EXPECT_EQ(errors[1], "t.yaml:4:15: size: unknown key \"layer\" (did you mean \"layers\"?); allowed: name, layers, "
                       "d_model, heads, mlp_hidden, lr, resources");
  expect_one_error(replaced(kMiniSweep, "training:", "trainig:") + "training: {lr: 1e-3, batch_tokens: 256}\n",
                   "trainig", "unknown key \"trainig\" (did you mean \"training\"?)");
  expect_one_error(std::string(kMiniSweep) + "mitigations: [{name: x, redo: {treshold: 0.1}}]\n", "treshold",
                   "redo: unknown parameter \"treshold\" (did you mean \"threshold\"?); allowed: threshold, period_steps");
  expect_one_error(std::string(kMiniSweep) + "mitigations: [shrink_perturbe]\n", "shrink_perturbe",
                   "unknown mitigation \"shrink_perturbe\" (did you mean \"shrink_perturb\"?)");
  expect_one_error(replaced(kMiniSweep, "steps: 4,", "steps: 4, stpes: 3,"), "stpes",
                   "probe: unknown key \"stpes\" (did you mean \"steps\"?)");
  expect_one_error(replaced(kMiniSweep, "batch_tokens: 256", "batch_tokens: 256, precision: fp23"), "fp23",
                   "precision: got \"fp23\" (did you mean \"fp32\"?); allowed: fp32, bf16");
}

TEST(SweepErrors, WrongTypes) {
  expect_one_error(replaced(kMiniSweep, "layers: 1", "layers: one"), "one,",
                   "layers: expected an integer in [1, 1000], got \"one\"");
  expect_one_error(replaced(kMiniSweep, "layers: 1", "layers: 1.5"), "1.5", "layers: expected an integer");
  expect_one_error(replaced(kMiniSweep, "lr: 1e-3", "lr: [1e-3]"), "[1e-3]", "lr: expected a number in (0, 10], got a list");
  expect_one_error(replaced(kMiniSweep, "cycles: 2}", "cycles: 2, reset_optimizer: maybe}"), "maybe",
                   "reset_optimizer: expected true or false, got \"maybe\"");
  expect_one_error(replaced(kMiniSweep, "tokens_per_task: 4096", "tokens_per_task: lots"), "lots",
                   "tokens_per_task: expected a whole token count");
  expect_one_error(replaced(kMiniSweep, "sizes:\n  - {name: a, layers: 1, d_model: 32, heads: 2}", "sizes: {name: a}"),
                   "{name: a}", "sizes: expected a list, got a map");
  expect_one_error(std::string(kMiniSweep) + "seeds: [0, x]\n", "x]", "seed: expected an integer");
  expect_one_error(std::string(kMiniSweep) + "budgets: 1M\n", "1M", "budgets: expected a list");
}

TEST(SweepErrors, OutOfRange) {
  expect_one_error(replaced(kMiniSweep, "layers: 1", "layers: 0"), "0, d_model",
                   "layers = 0 is out of range; allowed: an integer in [1, 1000]");
  expect_one_error(replaced(kMiniSweep, "lr: 1e-3", "lr: -1"), "-1", "lr = -1 is out of range; allowed: a number in (0, 10]");
  expect_one_error(replaced(kMiniSweep, "context: 16", "context: 1"), "1,", "context = 1 is out of range");
  expect_one_error(std::string(kMiniSweep) + "seeds: [-1]\n", "-1", "seed = -1 is out of range");
  expect_one_error(replaced(kMiniSweep, "eval_interval: 2", "eval_interval: 5"), "5, eval_sequences",
                   "eval_interval = 5 exceeds steps = 4; allowed: 1 to steps");
  expect_one_error(replaced(kMiniSweep, "batch_tokens: 256", "batch_tokens: 250"), "250",
                   "batch_tokens = 250 is not a multiple of the context (16); allowed: a positive multiple, e.g. 240");
  expect_one_error(std::string(kMiniSweep) + "budgets: [1M]\n", "1M",
                   "budget 1M exceeds the schedule (2 tasks x 4.096K tokens x 2 cycles = 16.384K)");
  expect_one_error(std::string(kMiniSweep) + "budgets: [100]\n", "100]", "budget 100 is less than one batch");
  expect_one_error(std::string(kMiniSweep) + "mitigations: [{name: x, continual_backprop: {decay: 1}}]\n", "1}}]",
                   "decay = 1 is out of range; allowed: a number in [0, 1)");
  expect_one_error(std::string(kMiniSweep) + "mitigations: [{name: x, shrink_perturb: {groups: [all, mlp]}}]\n",
                   "[all, mlp]", "groups: expected a non-empty list of distinct words");
  expect_one_error(std::string(kMiniSweep) + "resources: {time_limit: \"25:99\"}\n", "\"25:99\"",
                   "time_limit \"25:99\" is not a Slurm time");
  expect_one_error(replaced(kMiniSweep, "batch_tokens: 256", "batch_tokens: 8192"), "{lr: 1e-3, batch_tokens: 8192}",
                   "batch_tokens (8.192K) exceeds data.schedule.tokens_per_task (4.096K)");
}

TEST(SweepErrors, StrategyRequirements) {
  expect_one_error(std::string(kMiniSweep) + "mitigations: [{name: x, weight_decay: {exclude_layernorm: false}}]\n",
                   "{exclude_layernorm", "weight_decay: missing required parameter \"value\"");
  expect_one_error(std::string(kMiniSweep) + "mitigations: [norm_limit]\n", "norm_limit",
                   "norm_limit: give max_layernorm_gain, max_weight_norm or both");
  expect_one_error(std::string(kMiniSweep) + "mitigations: [{name: x, attention_noise: {schedule: linear_decay}}]\n",
                   "{schedule", "attention_noise: schedule linear_decay needs decay_tokens > 0");
  expect_one_error(std::string(kMiniSweep) + "mitigations: [{name: x, redo: {}, redo: {threshold: 0.1}}]\n",
                   "redo: {threshold", "mitigation: strategy \"redo\" given twice");
  expect_one_error(std::string(kMiniSweep) + "mitigations: [{name: x, redo: 3}]\n", "3}",
                   "redo: expected a map of parameters (threshold, period_steps) or nothing for the defaults");
}

TEST(SweepErrors, HeadsMustDivideDModel) {
  expect_one_error(replaced(kMiniSweep, "heads: 2", "heads: 3"), "3}", "heads = 3 does not divide d_model = 32");
  std::string with_head_dim = replaced(kMiniSweep, "vocab: 256", "vocab: 256, head_dim: 8");
  expect_one_error(with_head_dim, "2}", "gives head dimension 16, but model.head_dim = 8");
}

TEST(SweepErrors, DataFilesAndGlobs) {
  TempDir dir;
  std::string text = replaced(kMiniSweep, "    - {name: l1, kind: synthetic, language: 1}\n",
                              "    - {name: l1, kind: shards, train: [missing.bin, \"shards/*.bin\"]}\n");
  auto file = dir.write("t.yaml", text);
  try {
    load_sweep(file.string());
    FAIL() << "expected errors";
  } catch (const SpecError& error) {
    ASSERT_EQ(error.errors().size(), 2u) << error.what();
    EXPECT_EQ(error.errors()[0].rfind(file.string() + ":" + position_of(text, "missing.bin") +
                                          ": train: data file \"missing.bin\" not found", 0), 0u)
        << error.errors()[0];
    EXPECT_EQ(error.errors()[1].rfind(file.string() + ":" + position_of(text, "\"shards/") +
                                          ": train: no file matches \"shards/*.bin\"", 0), 0u)
        << error.errors()[1];
  }
  dir.write("bad.bin", std::string(2048, 'x'));
  text = replaced(text, "[missing.bin, \"shards/*.bin\"]", "[bad.bin]");
  file = dir.write("t.yaml", text);
  try {
    load_sweep(file.string());
    FAIL() << "expected an error";
  } catch (const SpecError& error) {
    ASSERT_EQ(error.errors().size(), 1u);
    EXPECT_NE(error.errors()[0].find(":" + position_of(text, "bad.bin") + ": train: "), std::string::npos)
        << error.errors()[0];
    EXPECT_NE(error.errors()[0].find("is not an llm.c token shard (magic 2021161080, expected 20240520)"),
              std::string::npos) << error.errors()[0];
  }
}

TEST(SweepErrors, VocabMustFitTheSourceKind) {
  TempDir dir;
  dir.write("book.txt", "text");
  std::string text = replaced(kMiniSweep, "    - {name: l1, kind: synthetic, language: 1}\n",
                              "    - {name: l1, kind: text, train: book.txt}\n");
  text = replaced(text, "vocab: 256", "vocab: 100");
  auto file = dir.write("t.yaml", text);
  try {
    load_sweep(file.string());
    FAIL();
  } catch (const SpecError& error) {
    ASSERT_EQ(error.errors().size(), 1u) << error.what();
    EXPECT_NE(error.errors()[0].find(":" + position_of(text, "text, train") +
                                     ": text is read as bytes, so model vocab must be >= 256"),
              std::string::npos)
        << error.errors()[0];
  }
}

TEST(SweepErrors, DuplicateMitigations) {
  expect_one_error(std::string(kMiniSweep) + "mitigations: [none, {name: base}]\n", "{name: base}",
                   "mitigation \"base\" resolves to the same strategies as \"none\" (they would be the same run)");
  expect_one_error(std::string(kMiniSweep) + "mitigations: [redo, {name: r2, redo: {threshold: 0.025}}]\n", "{name: r2",
                   "resolves to the same strategies as \"redo\"");
  expect_one_error(std::string(kMiniSweep) + "mitigations: [redo, {name: redo, redo: {threshold: 0.1}}]\n", "{name: redo",
                   "duplicate mitigation name \"redo\"");
}

TEST(SweepErrors, ProbeSource) {
  expect_one_error(replaced(kMiniSweep, "source: held", "source: l0"), "l0, steps",
                   "probe source \"l0\" is in the training schedule; the probe must use a held-out source");
  expect_one_error(replaced(kMiniSweep, "source: held", "source: hold"), "hold",
                   "probe source \"hold\" is not defined (did you mean \"held\"?)");
  expect_one_error(replaced(kMiniSweep, "order: [l0, l1]", "order: [l0, l2]"), "l2",
                   "unknown source \"l2\" (did you mean \"l0\"?)");
}

TEST(SweepErrors, DuplicateKeysAndNames) {
  expect_one_error(replaced(kMiniSweep, "layers: 1,", "layers: 1, layers: 2,"), "layers: 2",
                   "size: duplicate key \"layers\"");
  std::string twice = "{name: l1, kind: synthetic, language: 1}\n    - {name: l1, kind: synthetic, language: 2}";
  expect_one_error(replaced(kMiniSweep, "{name: l1, kind: synthetic, language: 1}", twice), "{name: l1, kind: synthetic, language: 2}",
                   "duplicate source name \"l1\"");
  expect_one_error(std::string(kMiniSweep) + "seeds: [1, 1]\n", "1]\n", "duplicate seed 1");
}

TEST(SweepErrors, GridEntries) {
  std::string text = std::string(kMiniSweep) + "grid:\n  exclude: [{size: b}]\n  include: [{size: a, seed: 3}]\n";
  auto errors = sweep_errors(text);
  ASSERT_EQ(errors.size(), 2u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0], "t.yaml:" + position_of(text, "b}") + ": size \"b\" is not in the sweep; allowed: a");
  EXPECT_EQ(errors[1].rfind("t.yaml:" + position_of(text, "{size: a") +
                                ": include: give all of size, budget, mitigation and seed", 0), 0u) << errors[1];
  expect_one_error(std::string(kMiniSweep) + "grid: {exclude: [{seed: 0}]}\n", "{exclude", "the grid expands to no runs");
}

TEST(SweepErrors, YamlSyntaxErrorHasItsPosition) {
  std::string text = replaced(kMiniSweep, "training: {lr: 1e-3, batch_tokens: 256}", "training: {lr: 1e-3, batch_tokens: 256");
  auto errors = sweep_errors(text);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "t.yaml:14:1: YAML syntax error: end of map flow not found") << errors[0];
  errors = sweep_errors("name: x\n  bad: indentation\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "t.yaml:2:6: YAML syntax error: illegal map value") << errors[0];
  errors = sweep_errors("");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("sweep: expected a map"), std::string::npos) << errors[0];
}

TEST(SweepErrors, SeveralAreReportedTogetherInFileOrder) {
  std::string text = replaced(kMiniSweep, "eval_sequences: 2", "eval_sequences: 0");
  text = replaced(text, "heads: 2", "heads: 5");
  text = replaced(text, "branching: 4", "branching: four");
  text = replaced(text, "batch_tokens: 256", "batch_tokens: 256, beta: 0.9");
  auto errors = sweep_errors(text);
  ASSERT_EQ(errors.size(), 4u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0].rfind("t.yaml:" + position_of(text, "5}") + ": heads = 5 does not divide", 0), 0u) << errors[0];
  EXPECT_EQ(errors[1].rfind("t.yaml:" + position_of(text, "four") + ": branching: expected an integer", 0), 0u) << errors[1];
  EXPECT_EQ(errors[2].rfind("t.yaml:" + position_of(text, "0, every") + ": eval_sequences = 0 is out of range", 0), 0u)
      << errors[2];
  EXPECT_EQ(errors[3].rfind("t.yaml:" + position_of(text, "beta:") + ": training: unknown key \"beta\" (did you mean \"betas\"?)", 0), 0u)
      << errors[3];
  try {
    parse_sweep(text, "t.yaml");
  } catch (const InputError& error) {
    EXPECT_EQ(std::string(error.what()).rfind("4 errors:\n" + errors[0] + "\n" + errors[1], 0), 0u) << error.what();
  }
}

TEST(SweepErrors, MissingFileIsAnInputError) {
  EXPECT_THROW(load_sweep("/nonexistent/sweep.yaml"), InputError);
  EXPECT_THROW(load_sweep(PLASCALE_SOURCE_DIR), InputError);  // a folder, not a file
}

}  // namespace
}  // namespace plascale
