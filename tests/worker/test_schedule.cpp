#include "worker/data/schedule.h"

#include "sweeps/errors.h"
#include "worker/data/token_file.h"

#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace plascale {
namespace {

namespace fs = std::filesystem;

DataSource synthetic_source(const std::string& name, int language) {
  DataSource source;
  source.name = name;
  source.kind = SourceKind::synthetic;
  source.language = language;
  return source;
}

// Three training languages A, B, C and a held-out probe language P; 4 sequences of 16
// tokens per batch; tasks of ceil(150 / 64) = 3 steps; 2 cycles, cut by the budget at 16 steps.
RunSpec tiny_spec() {
  RunSpec spec;
  spec.seed = 5;
  spec.model.layers = 2;
  spec.model.d_model = 32;
  spec.model.heads = 2;
  spec.model.context = 16;
  spec.model.vocab = 64;
  spec.model.mlp_hidden = 128;
  spec.token_budget = 1000;
  spec.sources = {synthetic_source("A", 0), synthetic_source("B", 1), synthetic_source("C", 2),
                  synthetic_source("P", 3)};
  spec.synthetic.seed = 1;
  spec.synthetic.order = 2;
  spec.synthetic.branching = 4;
  spec.schedule.kind = ScheduleKind::continual;
  spec.schedule.order = {"A", "B", "C"};
  spec.schedule.tokens_per_task = 150;
  spec.schedule.cycles = 2;
  spec.training.batch_tokens = 64;
  spec.probe.source = "P";
  spec.probe.eval_sequences = 6;
  spec.diagnostics.sample_sequences = 3;
  return spec;
}

std::vector<int32_t> sequence_of(const Batch& batch, int row) {
  std::vector<int32_t> tokens(batch.inputs.begin() + row * batch.seq_len,
                              batch.inputs.begin() + (row + 1) * batch.seq_len);
  tokens.push_back(batch.targets[(row + 1) * batch.seq_len - 1]);
  return tokens;
}

std::vector<int32_t> train_sequence(const DataSchedule& schedule, int source, int64_t index, int tokens) {
  std::vector<int32_t> sequence(tokens);
  schedule.source(source).train_sequence(index, sequence);
  return sequence;
}

TEST(DataSchedule, ContinualTasksFollowOrderCyclesAndBudget) {
  const DataSchedule schedule(tiny_spec());
  EXPECT_EQ(schedule.sequences_per_batch(), 4);
  EXPECT_EQ(schedule.total_steps(), 16);  // ceil(1000 / 64)
  ASSERT_EQ(schedule.tasks().size(), 6u);  // task 6 would start at step 18
  const int expected_source[] = {0, 1, 2, 0, 1, 2};
  for (int i = 0; i < 6; ++i) {
    const Task& task = schedule.tasks()[i];
    EXPECT_EQ(task.index, i);
    EXPECT_EQ(task.source, expected_source[i]);
    EXPECT_EQ(task.cycle, i / 3);
    EXPECT_EQ(task.instance, i / 3);
    EXPECT_EQ(task.first_step, 3 * i);
    EXPECT_EQ(task.steps, 3);
  }
  EXPECT_EQ(schedule.task_at(0).index, 0);
  EXPECT_EQ(schedule.task_at(5).index, 1);
  EXPECT_EQ(schedule.task_at(15).index, 5);
  EXPECT_THROW(schedule.task_at(16), std::out_of_range);
  EXPECT_EQ(schedule.training_sources(), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(schedule.probe_source(), 3);
  EXPECT_EQ(schedule.validation_sequences(), 6);
}

TEST(DataSchedule, BatchesAreNextTokenPairsFromTheTaskSourceWithFreshInstances) {
  DataSchedule schedule(tiny_spec());
  Batch batch;
  std::vector<std::vector<int32_t>> first_instance_of_a;
  for (int64_t step = 0; step < schedule.total_steps(); ++step) {
    schedule.next_batch(batch);
    ASSERT_EQ(batch.sequences, 4);
    ASSERT_EQ(batch.seq_len, 16);
    const Task& task = schedule.task_at(step);
    for (int row = 0; row < 4; ++row) {
      EXPECT_EQ(batch.sources[row], task.source);
      for (int t = 0; t + 1 < 16; ++t) ASSERT_EQ(batch.targets[row * 16 + t], batch.inputs[row * 16 + t + 1]);
      // Row r of step s in a task reads the source's next unread sequence.
      const int64_t index = task.instance * 12 + (step - task.first_step) * 4 + row;
      EXPECT_EQ(sequence_of(batch, row), train_sequence(schedule, task.source, index, 17));
      if (task.source == 0 && task.instance == 0) first_instance_of_a.push_back(sequence_of(batch, row));
      if (task.source == 0 && task.instance == 1) {
        for (const auto& earlier : first_instance_of_a) EXPECT_NE(sequence_of(batch, row), earlier);
      }
    }
  }
  EXPECT_EQ(schedule.position().step, 16);
  EXPECT_EQ(schedule.position().source_sequences, (std::vector<int64_t>{24, 24, 16, 0}));
  EXPECT_THROW(schedule.next_batch(batch), std::out_of_range);
}

TEST(DataSchedule, RestoredPositionGivesTheIdenticalNextBatch) {
  DataSchedule straight(tiny_spec());
  Batch batch;
  for (int i = 0; i < 7; ++i) straight.next_batch(batch);
  const std::vector<int64_t> saved = straight.position().to_integers();
  EXPECT_EQ(saved, (std::vector<int64_t>{7, 12, 12, 4, 0}));
  std::vector<Batch> expected(5);
  for (Batch& next : expected) straight.next_batch(next);

  DataSchedule resumed(tiny_spec());
  resumed.restore(DataPosition::from_integers(saved));
  for (const Batch& next : expected) {
    resumed.next_batch(batch);
    EXPECT_EQ(batch.inputs, next.inputs);
    EXPECT_EQ(batch.targets, next.targets);
  }
  EXPECT_THROW(resumed.restore(DataPosition{3, {1, 2}}), InputError);
  EXPECT_THROW(resumed.restore(DataPosition{17, {0, 0, 0, 0}}), InputError);
}

TEST(DataSchedule, BatchesDoNotDependOnThreadCount) {
  RunSpec spec = tiny_spec();
  spec.training.batch_tokens = 16 * 4096;  // 4096 rows: large enough to use the threads
  spec.token_budget = 3 * spec.training.batch_tokens;
  spec.schedule.tokens_per_task = spec.token_budget;
  const int threads = omp_get_max_threads();
  std::vector<Batch> batches(2);
  for (int run = 0; run < 2; ++run) {
    omp_set_num_threads(run == 0 ? 1 : 2);
    DataSchedule schedule(spec);
    for (int i = 0; i < 3; ++i) schedule.next_batch(batches[run]);
  }
  omp_set_num_threads(threads);
  EXPECT_EQ(batches[0].inputs, batches[1].inputs);
  EXPECT_EQ(batches[0].targets, batches[1].targets);
}

TEST(DataSchedule, StationaryMixtureFollowsWeightsDeterministically) {
  RunSpec spec = tiny_spec();
  spec.schedule.kind = ScheduleKind::stationary;
  spec.schedule.weights = {{"A", 3.0}, {"B", 1.0}, {"C", 0.0}};
  spec.token_budget = 64 * 500;
  DataSchedule first(spec), second(spec);
  ASSERT_EQ(first.tasks().size(), 1u);
  EXPECT_EQ(first.tasks()[0].source, -1);
  EXPECT_EQ(first.tasks()[0].steps, 500);
  EXPECT_EQ(first.training_sources(), (std::vector<int>{0, 1}));
  Batch a, b;
  int64_t counts[3] = {0, 0, 0};
  for (int step = 0; step < 500; ++step) {
    first.next_batch(a);
    second.next_batch(b);
    ASSERT_EQ(a.inputs, b.inputs);
    for (int source : a.sources) ++counts[source];
  }
  EXPECT_EQ(counts[2], 0);
  EXPECT_NEAR(counts[0] / 2000.0, 0.75, 0.03);  // standard error 0.0097
  EXPECT_EQ(first.position().source_sequences[0], counts[0]);
  EXPECT_EQ(first.position().source_sequences[1], counts[1]);
}

TEST(DataSchedule, ValidationProbeAndDiagnosticsSetsAreFixedAndHeldOut) {
  const DataSchedule schedule(tiny_spec()), again(tiny_spec());
  Batch validation, repeat, other_source;
  schedule.validation_batch(0, 0, 6, validation);
  again.validation_batch(0, 0, 6, repeat);
  EXPECT_EQ(validation.inputs, repeat.inputs);
  schedule.validation_batch(1, 0, 6, other_source);
  EXPECT_NE(validation.inputs, other_source.inputs);
  std::set<std::vector<int32_t>> training;
  for (int64_t i = 0; i < 200; ++i) training.insert(train_sequence(schedule, 0, i, 17));
  for (int row = 0; row < 6; ++row) EXPECT_FALSE(training.contains(sequence_of(validation, row)));
  Batch part;
  schedule.validation_batch(0, 2, 3, part);
  EXPECT_EQ(sequence_of(part, 0), sequence_of(validation, 2));
  EXPECT_THROW(schedule.validation_batch(0, 4, 3, part), std::out_of_range);

  Batch probe_eval, probe_validation, diagnostics;
  schedule.probe_eval_batch(probe_eval);
  schedule.validation_batch(3, 0, 6, probe_validation);
  EXPECT_EQ(probe_eval.inputs, probe_validation.inputs);
  schedule.diagnostics_batch(diagnostics);
  ASSERT_EQ(diagnostics.sequences, 3);
  EXPECT_EQ(sequence_of(diagnostics, 2), sequence_of(probe_validation, 2));
}

TEST(DataSchedule, ProbeBatchesAreTheSameAtEveryProbePoint) {
  DataSchedule schedule(tiny_spec());
  Batch before, after, next_step;
  schedule.probe_batch(2, before);
  for (int i = 0; i < 5; ++i) schedule.next_batch(after);  // training moves on...
  schedule.probe_batch(2, after);                          // ...the probe's data does not
  EXPECT_EQ(before.inputs, after.inputs);
  EXPECT_EQ(before.sources, (std::vector<int>{3, 3, 3, 3}));
  EXPECT_EQ(sequence_of(before, 1), train_sequence(schedule, 3, 9, 17));
  schedule.probe_batch(3, next_step);
  EXPECT_NE(next_step.inputs, before.inputs);
}

TEST(DataSchedule, RejectsInconsistentSpecs) {
  RunSpec spec = tiny_spec();
  spec.training.batch_tokens = 70;
  EXPECT_THROW(DataSchedule{spec}, InputError);
  spec = tiny_spec();
  spec.schedule.order = {"A", "Z"};
  try {
    DataSchedule schedule(spec);
    FAIL();
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("schedule.order names source 'Z'"), std::string::npos) << error.what();
  }
  spec = tiny_spec();
  spec.probe.source = "missing";
  EXPECT_THROW(DataSchedule{spec}, InputError);
}

class FileScheduleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("plascale-schedule-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A shard whose token i is first + i, so a window is known by its first token.
  std::string shard(const std::string& name, int first, int count) {
    std::vector<uint16_t> tokens(count);
    for (int i = 0; i < count; ++i) tokens[i] = static_cast<uint16_t>(first + i);
    write_llmc_shard(dir_ / name, tokens);
    return (dir_ / name).string();
  }

  // Context 4 (windows of 5 tokens at stride 4), batch of 2 sequences, one source "S".
  RunSpec file_spec(std::vector<std::string> train, std::vector<std::string> val) {
    RunSpec spec = tiny_spec();
    spec.model.context = 4;
    spec.model.vocab = 1024;
    spec.training.batch_tokens = 8;
    DataSource source;
    source.name = "S";
    source.kind = SourceKind::shards;
    source.train_files = std::move(train);
    source.val_files = std::move(val);
    spec.sources = {source};
    spec.schedule.order = {"S"};
    spec.schedule.cycles = 1;
    spec.schedule.tokens_per_task = 8 * 100;
    spec.token_budget = 8 * 100;
    spec.probe.source = "";
    spec.probe.eval_sequences = 3;
    spec.diagnostics.sample_sequences = 2;
    return spec;
  }

  fs::path dir_;
};

// Two files of 41 and 21 tokens hold 10 + 5 windows; the last 3 are held out, so training
// cycles through the first 12, each exactly once per epoch, from a seeded offset.
TEST_F(FileScheduleTest, EpochsVisitEveryTrainingWindowOnceAndNeverTheHeldOutTail) {
  DataSchedule schedule(file_spec({shard("a.bin", 0, 41), shard("b.bin", 500, 21)}, {}));
  EXPECT_EQ(schedule.source(0).train_sequences_per_epoch(), 12);
  const std::set<int32_t> train_starts{0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 500, 504};
  std::vector<int32_t> sequence(5);
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::set<int32_t> seen;
    for (int i = 0; i < 12; ++i) {
      schedule.source(0).train_sequence(epoch * 12 + i, sequence);
      EXPECT_EQ(sequence[4], sequence[0] + 4) << "a window stays inside one file";
      seen.insert(sequence[0]);
    }
    EXPECT_EQ(seen, train_starts) << "epoch " << epoch;
  }
  Batch validation;
  schedule.validation_batch(0, 0, 3, validation);
  EXPECT_EQ(validation.inputs, (std::vector<int32_t>{508, 509, 510, 511, 512, 513, 514, 515, 516, 517, 518, 519}));
  EXPECT_EQ(validation.targets[11], 520);
}

TEST_F(FileScheduleTest, ValFilesAreSpreadOverAndTrainingUsesAllWindows) {
  DataSchedule schedule(file_spec({shard("a.bin", 0, 41)}, {shard("v.bin", 700, 25)}));
  EXPECT_EQ(schedule.source(0).train_sequences_per_epoch(), 10);
  Batch validation;
  schedule.validation_batch(0, 0, 3, validation);  // 6 windows, sequences at windows 0, 2, 4
  EXPECT_EQ(validation.inputs[0], 700);
  EXPECT_EQ(validation.inputs[4], 708);
  EXPECT_EQ(validation.inputs[8], 716);
}

TEST_F(FileScheduleTest, TextSourcesAreBytes) {
  const fs::path path = dir_ / "book.txt";
  std::ofstream(path, std::ios::binary) << "0123456789abcdefghijklmnopqrstuvwxyz";  // 36 bytes: 8 windows
  RunSpec spec = file_spec({path.string()}, {});
  spec.sources[0].kind = SourceKind::text;
  spec.model.vocab = 256;
  DataSchedule schedule(spec);
  EXPECT_EQ(schedule.source(0).train_sequences_per_epoch(), 5);  // 8 windows, 3 held out
  Batch validation;
  schedule.validation_batch(0, 0, 3, validation);
  EXPECT_EQ(validation.inputs[0], 'k');  // window 5 starts at byte 20
  EXPECT_EQ(validation.targets[11], 'w');  // byte 32, the last of window 7
  spec.model.vocab = 255;
  EXPECT_THROW(DataSchedule{spec}, InputError);
}

TEST_F(FileScheduleTest, TooLittleDataOrBadFilesAreInputErrors) {
  try {
    DataSchedule schedule(file_spec({shard("tiny.bin", 0, 13)}, {}));
    FAIL();
  } catch (const InputError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("source 'S'"), std::string::npos) << message;
    EXPECT_NE(message.find("tiny.bin"), std::string::npos) << message;
    EXPECT_NE(message.find("hold 3 5-token windows"), std::string::npos) << message;
  }
  try {
    DataSchedule schedule(file_spec({shard("big.bin", 1000, 41)}, {}));
    FAIL();
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("big.bin"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("outside the vocabulary [0, 1024)"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace plascale
