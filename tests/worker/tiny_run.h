#pragma once
// Shared by the trainer and `plascale train` tests: a tiny continual run that trains in
// well under a second, and exact comparison of what two runs recorded.

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "storage/study.h"
#include "sweeps/run_spec.h"

namespace plascale::testing {

inline DataSource tiny_synthetic_source(const std::string& name, int language) {
  DataSource source;
  source.name = name;
  source.kind = SourceKind::synthetic;
  source.language = language;
  return source;
}

// Two languages a, b of 16 steps each (4 sequences of 16 tokens per step), probe language
// p probed at the start and after each task, diagnostics every 4 steps, checkpoints every
// 8 steps. 32 steps, 2048 tokens.
inline RunSpec tiny_run_spec() {
  RunSpec spec;
  spec.seed = 11;
  spec.sweep_name = "test";
  spec.mitigation.name = "none";
  spec.model.size_name = "tiny";
  spec.model.layers = 2;
  spec.model.d_model = 32;
  spec.model.heads = 2;
  spec.model.context = 16;
  spec.model.vocab = 64;
  spec.model.mlp_hidden = 128;
  spec.token_budget = 2048;
  spec.sources = {tiny_synthetic_source("a", 0), tiny_synthetic_source("b", 1), tiny_synthetic_source("p", 2)};
  spec.synthetic.seed = 3;
  spec.synthetic.order = 2;
  spec.synthetic.branching = 4;
  spec.schedule.kind = ScheduleKind::continual;
  spec.schedule.order = {"a", "b"};
  spec.schedule.tokens_per_task = 1024;
  spec.schedule.cycles = 1;
  spec.schedule.reset_optimizer = true;
  spec.probe.source = "p";
  spec.probe.steps = 4;
  spec.probe.eval_interval = 2;
  spec.probe.eval_sequences = 4;
  spec.probe.every_tasks = 1;
  spec.training.lr = 3e-3;
  spec.training.warmup_fraction = 0.25;
  spec.training.batch_tokens = 64;
  spec.diagnostics.every_tokens = 256;
  spec.diagnostics.entropy_query_begin = 4;
  spec.diagnostics.sample_sequences = 4;
  spec.checkpoint_every_tokens = 512;
  spec.id = run_id(spec);
  return spec;
}

// Every strategy at once, with settings that act within the tiny run's 32 steps: CBP on
// MLP units and heads, ReDo every 8 steps, shrink-and-perturb every 2 steps, L2-Init, a
// weight-decay override that decays LayerNorm gains, norm limits that bind, decaying
// attention noise.
inline Mitigation all_mitigations() {
  using Words = std::vector<std::string>;
  Mitigation mitigation;
  mitigation.name = "everything";
  mitigation.strategies = {
      {"attention_noise", {{"std", 0.5}, {"schedule", std::string("linear_decay")}, {"decay_tokens", 1536.0}}},
      {"continual_backprop",
       {{"replacement_rate", 0.05}, {"decay", 0.9}, {"maturity", 4.0}, {"bias_correction", true},
        {"units", Words{"mlp", "heads"}}}},
      {"l2_init", {{"strength", 1e-3}}},
      {"norm_limit", {{"max_layernorm_gain", 1.002}, {"max_weight_norm", 0.25}, {"per_tensor", false}}},
      {"redo", {{"threshold", 0.3}, {"period_steps", 8.0}}},
      {"shrink_perturb", {{"shrink", 0.99}, {"sigma", 1e-3}, {"period_steps", 2.0}, {"groups", Words{"attention", "mlp"}}}},
      {"weight_decay", {{"value", 0.2}, {"exclude_layernorm", false}}},
  };
  return mitigation;
}

inline std::filesystem::path fresh_test_dir(const std::string& name) {
  auto dir = std::filesystem::path(PLASCALE_BINARY_DIR) / "test-output" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A study holding the run, so StudyReader reads STUDY/runs/<id>/run.h5 as the
// orchestrator will: train with out_dir = run_dir_path(study, spec.id).
inline void create_study_for(const std::filesystem::path& study, const RunSpec& spec) {
  auto writer = StudyWriter::create(study, "name: test\n", "0");
  RunAttributes run;
  run.id = spec.id;
  run.spec_yaml = "id: " + spec.id;
  writer.register_run(run);
}

inline bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
}

// Every number of the trajectories and probes, compared bit for bit (NaN included).
inline void expect_identical_runs(const StudyReader& left, const StudyReader& right, const std::string& id,
                                  bool compare_probes = true) {
  Trajectory a = left.read_trajectory(id), b = right.read_trajectory(id);
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.tokens, b.tokens);
  ASSERT_EQ(a.metrics.size(), b.metrics.size());
  for (const auto& [name, series] : a.metrics) {
    ASSERT_TRUE(b.metrics.count(name)) << name;
    const MetricSeries& other = b.metrics.at(name);
    EXPECT_EQ(series.shape, other.shape) << name;
    EXPECT_EQ(series.columns, other.columns) << name;
    EXPECT_TRUE(same_bits(series.values, other.values)) << "metric " << name << " differs";
  }
  if (!compare_probes) return;
  Probe p = left.read_probe(id), q = right.read_probe(id);
  EXPECT_EQ(p.tokens, q.tokens);
  EXPECT_TRUE(same_bits(p.auc, q.auc));
  EXPECT_TRUE(same_bits(p.curves, q.curves));
  EXPECT_EQ(p.curve_steps, q.curve_steps);
  EXPECT_EQ(p.has_scratch_baseline, q.has_scratch_baseline);
  EXPECT_TRUE(same_bits({p.scratch_auc}, {q.scratch_auc}));
  EXPECT_TRUE(same_bits(p.scratch_curve, q.scratch_curve));
}

}  // namespace plascale::testing
