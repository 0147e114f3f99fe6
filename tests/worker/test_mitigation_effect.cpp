// The user-visible effect of sweeps/examples/mitigations.yaml on a shorter version of it
// (two cycles instead of four, seed 0, no probes): with the high learning rate, MLP units
// go dormant under `none`, and `redo` and `continual_backprop` keep the dormant fraction
// well below that. About 20 s on a busy 2-core machine; not a sanitizer test.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <numeric>

#include "storage/layout.h"
#include "storage/study.h"
#include "sweeps/expand.h"
#include "sweeps/sweep.h"
#include "tests/worker/tiny_run.h"
#include "worker/trainer.h"

namespace plascale {
namespace {

namespace fs = std::filesystem;

TEST(MitigationEffect, RedoAndContinualBackpropKeepFewerUnitsDormant) {
  const fs::path example = fs::path(PLASCALE_SOURCE_DIR) / "sweeps" / "examples" / "mitigations.yaml";
  std::vector<RunSpec> runs;
  for (RunSpec spec : expand_sweep(load_sweep(example.string()))) {
    if (spec.seed != 0) continue;
    spec.schedule.cycles = 2;
    spec.token_budget = spec.schedule.tokens_per_task * 4 * 2;
    // The probe source stays (dormant units are measured on it); no probe is trained.
    spec.probe.every_tasks = 0;
    spec.probe.every_tokens = 0;
    spec.probe.at_start = false;
    spec.probe.scratch_baseline = false;
    spec.id = run_id(spec);
    runs.push_back(spec);
  }
  ASSERT_EQ(runs.size(), 3u);
  const fs::path study = testing::fresh_test_dir("mitigation_effect");
  auto writer = StudyWriter::create(study, "name: effect\n", "0");
  std::map<std::string, double> dormant;  // mean over points and layers, by mitigation
  for (const RunSpec& spec : runs) {
    RunAttributes attributes = run_attributes(spec, RunStatus::running, "id: " + spec.id);
    writer.register_run(attributes);
    TrainOptions options;
    options.out_dir = run_dir_path(study, spec.id);
    options.threads = 2;
    ASSERT_EQ(train_run(spec, options).outcome, TrainOutcome::completed) << spec.mitigation.name;
    const MetricSeries& series = StudyReader(study).read_trajectory(spec.id).metrics.at("dormant_fraction");
    dormant[spec.mitigation.name] =
        std::accumulate(series.values.begin(), series.values.end(), 0.0) / static_cast<double>(series.values.size());
  }
  ASSERT_EQ(dormant.size(), 3u);
  RecordProperty("dormant_none", std::to_string(dormant["none"]));
  RecordProperty("dormant_redo", std::to_string(dormant["redo"]));
  RecordProperty("dormant_cbp", std::to_string(dormant["cbp"]));
  EXPECT_GT(dormant["none"], 0.05) << "the configuration must produce dormant units under none";
  EXPECT_LT(dormant["redo"], 0.5 * dormant["none"]);
  EXPECT_LT(dormant["cbp"], 0.5 * dormant["none"]);
}

}  // namespace
}  // namespace plascale
