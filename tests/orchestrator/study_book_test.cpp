// The coordinator's bookkeeping in a real study: creating it, counting attempts across
// invocations, skipping finished runs on resume, and refusing a sweep whose runs changed.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/orchestrator/test_dir.h"
#include "orchestrator/coordinator.h"
#include "orchestrator/run_files.h"
#include "orchestrator/study_book.h"
#include "storage/study.h"
#include "sweeps/errors.h"
#include "sweeps/expand.h"
#include "sweeps/runspec_yaml.h"

namespace plascale {
namespace {

namespace fs = std::filesystem;

using testing::fresh_dir;

// Two sizes x two seeds; `lr` is the knob that changes every run's computation.
Sweep tiny_sweep(const fs::path& dir, const std::string& lr = "3e-3", const std::string& seeds = "[0, 1]") {
  const std::string yaml = R"(name: book
model: {family: gpt, context: 16, vocab: 64, mlp_ratio: 4}
sizes:
  - {name: s1, layers: 1, d_model: 32, heads: 2}
  - {name: s2, layers: 2, d_model: 32, heads: 2}
data:
  synthetic: {seed: 3, order: 2, branching: 4}
  sources: [{name: a, kind: synthetic, language: 0}, {name: p, kind: synthetic, language: 2}]
  schedule: {kind: continual, order: [a], tokens_per_task: 1K, cycles: 1}
probe: {source: p, steps: 2, eval_interval: 1, eval_sequences: 2, every_tasks: 1}
training: {lr: )" + lr + R"(, batch_tokens: 64}
budgets: [full]
mitigations: [none]
seeds: )" + seeds + R"(
output: {study: study}
)";
  return parse_sweep(yaml, (dir / "sweep.yaml").string());
}

// What a child leaves behind: a run file with one row.
void write_run_file(const fs::path& study, const RunSpec& spec) {
  RunAttributes attributes;
  attributes.id = spec.id;
  auto writer = RunFileWriter::create(run_file_path(study, spec.id), attributes);
  TrajectoryRow row;
  row.step = 16;
  row.tokens = 1024;
  row.scalars["train_loss"] = 3.5;
  writer.append(row);
  writer.flush();
}

std::vector<std::string> event_lines(const fs::path& study) {
  std::ifstream in(events_path(study));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

RunReport report_of(const std::string& run_id, RunEnd end, const std::string& error = "") {
  RunReport report;
  report.run_id = run_id;
  report.end = end;
  report.error = error;
  return report;
}

TEST(StudyBook, NewStudyRegistersEveryRunWithASpecFileChildrenCanTrainFrom) {
  const fs::path dir = fresh_dir("book_new");
  const Sweep sweep = tiny_sweep(dir);
  PreparedStudy prepared;
  StudyBook::open(sweep, dir / "study", false, prepared);
  ASSERT_EQ(prepared.runs.size(), 4u);
  EXPECT_EQ(prepared.already_done, 0);
  const StudyReader reader(dir / "study");
  EXPECT_EQ(reader.info().sweep_yaml, sweep.text);
  for (const RunToDo& run : prepared.runs) {
    EXPECT_EQ(run.earlier_attempts, 0);
    EXPECT_FALSE(run.resumed);
    const RunInfo info = reader.run(run.spec.id);
    EXPECT_EQ(info.attributes.status, RunStatus::pending);
    EXPECT_EQ(info.attributes.spec_yaml, runspec_to_yaml(run.spec));
    // The frozen spec reads back as the same run: a later edit of the sweep cannot change it.
    EXPECT_EQ(load_runspec(run_paths(dir / "study", run.spec.id).spec.string()).id, run.spec.id);
  }
}

TEST(StudyBook, AttemptsAndErrorsAreRecordedAndResumeSkipsFinishedRuns) {
  const fs::path dir = fresh_dir("book_resume");
  const fs::path study = dir / "study";
  const Sweep sweep = tiny_sweep(dir);
  const std::vector<RunSpec> specs = expand_sweep(sweep);
  {
    PreparedStudy prepared;
    StudyBook book = StudyBook::open(sweep, study, false, prepared);
    // Run 0 completes on its second attempt; run 1 diverges; run 2 fails and is given up;
    // run 3 is stopped by a preemption after starting.
    book.started({specs[0].id, 1, {}, 1});
    book.ended(report_of(specs[0].id, RunEnd::failed, "killed by signal 9 (SIGKILL)"), 1, true);
    EXPECT_EQ(StudyReader(study).run(specs[0].id).attributes.status, RunStatus::failed);
    EXPECT_EQ(StudyReader(study).run(specs[0].id).attributes.last_error, "killed by signal 9 (SIGKILL)");
    book.started({specs[0].id, 2, {}, 2});
    write_run_file(study, specs[0]);
    book.ended(report_of(specs[0].id, RunEnd::completed), 2, false);

    book.started({specs[1].id, 1, {}, 1});
    write_run_file(study, specs[1]);
    book.ended(report_of(specs[1].id, RunEnd::diverged, "loss became NaN or infinite"), 1, false);

    book.started({specs[2].id, 1, {}, 1});
    book.ended(report_of(specs[2].id, RunEnd::failed, "exit code 1: boom"), 1, false);

    book.started({specs[3].id, 2, {}, 1});
    write_run_file(study, specs[3]);
    book.ended(report_of(specs[3].id, RunEnd::stopped), 1, true);
  }
  {
    const StudyReader reader(study);
    const RunInfo done = reader.run(specs[0].id);
    EXPECT_EQ(done.attributes.status, RunStatus::done);
    EXPECT_EQ(done.attributes.attempts, 2);
    EXPECT_TRUE(done.merged);
    EXPECT_EQ(done.points, 1);
    EXPECT_EQ(reader.run(specs[1].id).attributes.status, RunStatus::diverged);
    EXPECT_TRUE(reader.run(specs[1].id).merged);
    EXPECT_EQ(reader.run(specs[2].id).attributes.status, RunStatus::failed);
    EXPECT_EQ(reader.run(specs[2].id).attributes.last_error, "exit code 1: boom");
    const RunInfo stopped = reader.run(specs[3].id);
    EXPECT_EQ(stopped.attributes.status, RunStatus::pending);
    EXPECT_EQ(stopped.attributes.attempts, 0);  // a stopped attempt is not an attempt
  }
  const auto events = event_lines(study);
  ASSERT_EQ(events.size(), 10u);
  EXPECT_NE(events[1].find("\"event\": \"failed\""), std::string::npos) << events[1];
  EXPECT_NE(events[1].find("killed by signal 9"), std::string::npos) << events[1];
  EXPECT_NE(events[3].find("\"event\": \"done\""), std::string::npos) << events[3];
  EXPECT_NE(events[7].find("\"event\": \"given_up\""), std::string::npos) << events[7];
  EXPECT_NE(events[9].find("\"event\": \"stopped\""), std::string::npos) << events[9];

  // Resume: done and diverged runs are skipped; the failed run starts over with its earlier
  // attempt counted; the stopped one continues from its data.
  PreparedStudy again;
  StudyBook book = StudyBook::open(sweep, study, false, again);
  EXPECT_EQ(again.already_done, 2);
  ASSERT_EQ(again.runs.size(), 2u);
  for (const RunToDo& run : again.runs) {
    if (run.spec.id == specs[2].id) {
      EXPECT_EQ(run.earlier_attempts, 1);
      book.started({run.spec.id, 1, {}, 1});
      EXPECT_EQ(StudyReader(study).run(run.spec.id).attributes.attempts, 2);
    } else {
      EXPECT_EQ(run.spec.id, specs[3].id);
      EXPECT_EQ(run.earlier_attempts, 0);
      EXPECT_TRUE(run.resumed);
    }
  }
}

TEST(StudyBook, ChangedRunsWithDataAreRefusedUnlessForcedAndAddedRunsAreFine) {
  const fs::path dir = fresh_dir("book_changed");
  const fs::path study = dir / "study";
  const Sweep sweep = tiny_sweep(dir);
  const std::vector<RunSpec> specs = expand_sweep(sweep);
  {
    PreparedStudy prepared;
    StudyBook book = StudyBook::open(sweep, study, false, prepared);
    book.started({specs[0].id, 1, {}, 1});
    write_run_file(study, specs[0]);
    book.ended(report_of(specs[0].id, RunEnd::completed), 1, false);
  }
  // A new seed adds runs and changes none.
  PreparedStudy added;
  StudyBook::open(tiny_sweep(dir, "3e-3", "[0, 1, 2]"), study, false, added);
  EXPECT_EQ(added.runs.size(), 5u);
  EXPECT_EQ(added.already_done, 1);

  // A new LR changes every run; only run 0 has data, so only it is named.
  const Sweep changed = tiny_sweep(dir, "1e-3");
  PreparedStudy refused;
  try {
    StudyBook::open(changed, study, false, refused);
    FAIL() << "a changed run with data was accepted";
  } catch (const InputError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("1 recorded run(s)"), std::string::npos) << message;
    EXPECT_NE(message.find("size s1, budget 1000, mitigation none, seed 0"), std::string::npos) << message;
    EXPECT_NE(message.find(specs[0].id), std::string::npos) << message;
    EXPECT_NE(message.find("lr: 0.001"), std::string::npos) << message;
    EXPECT_NE(message.find("--force"), std::string::npos) << message;
  }
  EXPECT_EQ(StudyReader(study).runs().size(), 6u);  // nothing registered by the refusal

  PreparedStudy forced;
  StudyBook::open(changed, study, true, forced);
  EXPECT_EQ(forced.runs.size(), 4u);
  EXPECT_EQ(forced.already_done, 0);
  EXPECT_EQ(StudyReader(study).run(specs[0].id).attributes.status, RunStatus::done);  // kept beside
}

// The coordinator's decisions with a real Scheduler, without MPI or a study.
TEST(Coordinator, FailedRunsAreRetriedAfterTheBackoffAndKeptOffersAreServed) {
  const fs::path dir = fresh_dir("coordinator");
  const std::vector<RunSpec> specs = expand_sweep(tiny_sweep(dir));
  std::vector<RunToDo> runs;
  for (const RunSpec& spec : {specs[0], specs[3]}) runs.push_back({spec, 0, false});
  std::FILE* log = std::tmpfile();
  SweepDisplay display(log, false, 1e9, {{specs[0].id, 1024}, {specs[3].id, 1024}});
  Coordinator coordinator(runs, SchedulerOptions{2, 1.0}, 0, nullptr, display);

  WorkerOffer worker1{1, 0, {}, true};
  WorkerOffer worker2{2, 0, {}, true};
  const auto first = coordinator.request(worker1, 0);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->assignment.run_id, specs[3].id);  // the larger model first
  const auto second = coordinator.request(worker2, 0);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->assignment.run_id, specs[0].id);

  RunReport crash = report_of(specs[3].id, RunEnd::failed, "killed by signal 9 (SIGKILL)");
  coordinator.result(crash, 1.0);
  EXPECT_FALSE(coordinator.request(worker1, 1.0));  // backing off: the offer is kept
  EXPECT_TRUE(coordinator.serve_waiting(1.5).empty());
  ASSERT_TRUE(coordinator.next_retry_time());
  const std::vector<RunOrder> retried = coordinator.serve_waiting(*coordinator.next_retry_time());
  ASSERT_EQ(retried.size(), 1u);
  EXPECT_EQ(retried[0].assignment.worker, 1);
  EXPECT_EQ(retried[0].assignment.attempt, 2);

  coordinator.result(report_of(specs[0].id, RunEnd::completed), 3.0);
  coordinator.result(report_of(specs[0].id, RunEnd::completed), 3.0);  // a duplicate is ignored
  coordinator.result(crash, 4.0);
  EXPECT_TRUE(coordinator.settled());
  EXPECT_EQ(coordinator.counts().completed, 1);
  EXPECT_EQ(coordinator.counts().failed, 1);
  EXPECT_EQ(coordinator.exit_code(), 1);

  std::rewind(log);
  std::string text;
  for (int c; (c = std::fgetc(log)) != EOF;) text += static_cast<char>(c);
  std::fclose(log);
  EXPECT_NE(text.find("failed (will retry) " + specs[3].id + " attempt 1: killed by signal 9"), std::string::npos)
      << text;
  EXPECT_NE(text.find("failed (no attempts left) " + specs[3].id + " attempt 2"), std::string::npos) << text;
}

// A worker whose offer was refused does not ask again; when one of its runs ends, the GPUs it
// freed must count in the kept offer, or a gang run that needs them would wait forever.
TEST(Coordinator, AKeptOfferGainsTheGpusOfTheWorkersEndedRun) {
  const fs::path dir = fresh_dir("coordinator_gpus");
  const std::vector<RunSpec> specs = expand_sweep(tiny_sweep(dir));
  RunSpec four_gpus = specs[3];
  four_gpus.resources.gpus = 4;
  RunSpec eight_gpus = specs[0];
  eight_gpus.resources.gpus = 8;
  std::vector<RunToDo> runs{{four_gpus, 0, false}, {eight_gpus, 0, false}};
  std::FILE* log = std::tmpfile();
  SweepDisplay display(log, false, 1e9, {{four_gpus.id, 1024}, {eight_gpus.id, 1024}});
  Coordinator coordinator(runs, SchedulerOptions{}, 0, nullptr, display);

  const auto first = coordinator.request(WorkerOffer{1, 0, {0, 1, 2, 3, 4, 5, 6, 7}, false}, 0);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->assignment.run_id, four_gpus.id);
  EXPECT_EQ(first->assignment.gpus, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_FALSE(coordinator.request(WorkerOffer{1, 0, {4, 5, 6, 7}, false}, 0.1));

  RunReport done = report_of(four_gpus.id, RunEnd::completed);
  done.worker = 1;
  coordinator.result(done, 1.0);
  const std::vector<RunOrder> served = coordinator.serve_waiting(1.0);
  ASSERT_EQ(served.size(), 1u);
  EXPECT_EQ(served[0].assignment.run_id, eight_gpus.id);
  EXPECT_EQ(served[0].assignment.gpus, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
  std::fclose(log);
}

}  // namespace
}  // namespace plascale
