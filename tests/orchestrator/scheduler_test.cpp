#include "orchestrator/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace plascale {
namespace {

SchedulableRun gpu_run(const std::string& id, double cost, int gpus) {
  SchedulableRun run;
  run.id = id;
  run.cost = cost;
  run.gpus = gpus;
  return run;
}

WorkerOffer gpus_free(int worker, std::vector<int> free_gpus) {
  WorkerOffer offer;
  offer.worker = worker;
  offer.node = worker;
  offer.free_gpus = std::move(free_gpus);
  return offer;
}

WorkerOffer cpu_slot(int worker) {
  WorkerOffer offer;
  offer.worker = worker;
  offer.node = worker;
  offer.cpu_slot_free = true;
  return offer;
}

std::vector<int> all_but(std::vector<int> used, int gpus_per_node = 8) {
  std::vector<int> free_gpus;
  for (int gpu = 0; gpu < gpus_per_node; ++gpu) {
    if (std::find(used.begin(), used.end(), gpu) == used.end()) free_gpus.push_back(gpu);
  }
  return free_gpus;
}

TEST(Scheduler, OrdersByWorkPerGpuSoTheLongestRunGoesFirst) {
  // 80 units on 8 GPUs take half as long as 20 units on 1 GPU: the 1-GPU run goes first.
  Scheduler scheduler({gpu_run("wide", 80, 8), gpu_run("narrow", 20, 1)});
  EXPECT_EQ(scheduler.assign(gpus_free(0, all_but({})), 0)->run_id, "narrow");
  EXPECT_EQ(scheduler.assign(gpus_free(1, all_but({})), 0)->run_id, "wide");
}

TEST(Scheduler, CpuRunsGoMostExpensiveFirstAndTiesKeepInputOrder) {
  Scheduler scheduler({gpu_run("cheap", 1, 0), gpu_run("dear", 3, 0), gpu_run("mid-a", 2, 0),
                       gpu_run("mid-b", 2, 0)});
  std::vector<std::string> order;
  for (int i = 0; i < 4; ++i) {
    const auto assignment = scheduler.assign(cpu_slot(1), 0);
    ASSERT_TRUE(assignment);
    EXPECT_TRUE(assignment->gpus.empty());
    EXPECT_EQ(assignment->attempt, 1);
    order.push_back(assignment->run_id);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"dear", "mid-a", "mid-b", "cheap"}));
  EXPECT_FALSE(scheduler.assign(cpu_slot(1), 0));
}

TEST(Scheduler, SkipsARunThatAnotherWorkerHasRoomFor) {
  Scheduler scheduler({gpu_run("eight-a", 100, 8), gpu_run("eight-b", 90, 8), gpu_run("four", 40, 4)});
  ASSERT_EQ(scheduler.assign(gpus_free(1, all_but({})), 0)->run_id, "eight-a");
  scheduler.finish("eight-a", RunEnd::completed, 1);
  // Worker 1 has 8 free again, so worker 2 (5 free) does not drain for eight-b: it gets
  // the longest run that fits it.
  EXPECT_EQ(scheduler.assign(gpus_free(2, {0, 1, 2, 3, 4}), 1)->run_id, "four");
  EXPECT_EQ(scheduler.assign(gpus_free(1, all_but({})), 1)->run_id, "eight-b");
}

TEST(Scheduler, GangAssignsOnlyFreeGpusOfTheOfferingWorker) {
  Scheduler scheduler({gpu_run("four", 10, 4), gpu_run("two", 5, 2)});
  // Three free GPUs: the 4-GPU run cannot be split across this worker and another.
  const auto two = scheduler.assign(gpus_free(7, {5, 1, 3}), 0);
  ASSERT_TRUE(two);
  EXPECT_EQ(two->run_id, "two");
  EXPECT_EQ(two->worker, 7);
  EXPECT_EQ(two->gpus, (std::vector<int>{1, 3}));
  const auto four = scheduler.assign(gpus_free(8, {6, 2, 4, 0, 7}), 0);
  ASSERT_TRUE(four);
  EXPECT_EQ(four->worker, 8);
  EXPECT_EQ(four->gpus, (std::vector<int>{0, 2, 4, 6}));
}

TEST(Scheduler, PacksSmallRunsOntoOneNodesFreeGpus) {
  std::vector<SchedulableRun> runs;
  for (int i = 0; i < 6; ++i) runs.push_back(gpu_run("small" + std::to_string(i), 10 - i, i < 2 ? 2 : 1));
  Scheduler scheduler(runs);
  std::vector<int> used;
  for (int i = 0; i < 6; ++i) {
    const auto assignment = scheduler.assign(gpus_free(0, all_but(used)), 0);
    ASSERT_TRUE(assignment) << i;
    for (int gpu : assignment->gpus) {
      EXPECT_EQ(std::find(used.begin(), used.end(), gpu), used.end()) << "GPU " << gpu << " given twice";
      used.push_back(gpu);
    }
  }
  std::sort(used.begin(), used.end());
  EXPECT_EQ(used, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(scheduler.counts().running, 6);
  EXPECT_FALSE(scheduler.assign(gpus_free(0, {}), 0));
}

TEST(Scheduler, GpuRunsNeedGpusAndCpuRunsNeedTheCpuSlot) {
  Scheduler scheduler({gpu_run("gpu", 10, 1), gpu_run("cpu", 1, 0)});
  const auto on_cpu = scheduler.assign(cpu_slot(0), 0);
  ASSERT_TRUE(on_cpu);
  EXPECT_EQ(on_cpu->run_id, "cpu");
  EXPECT_FALSE(scheduler.assign(cpu_slot(0), 0));
  EXPECT_EQ(scheduler.assign(gpus_free(1, {3}), 0)->run_id, "gpu");
}

// The known failure of greedy gang scheduling: 1-GPU runs fill a node, an 8-GPU run is next
// in line, and as each 1-GPU run ends a shorter 1-GPU run takes the freed GPU, so the node
// never has 8 free. The reservation drains the node instead. Work per GPU (the sort key)
// is 100 for the long runs, 90 for the gang run, 80 for the short ones.
TEST(Scheduler, ReservesADrainingNodeSoAGangRunIsNotStarved) {
  std::vector<SchedulableRun> runs;
  for (int i = 0; i < 8; ++i) runs.push_back(gpu_run("long" + std::to_string(i), 100, 1));
  runs.push_back(gpu_run("gang", 8 * 90, 8));
  for (int i = 0; i < 20; ++i) runs.push_back(gpu_run("short" + std::to_string(i), 80, 1));
  Scheduler scheduler(runs);

  std::vector<int> busy;
  for (int gpu = 0; gpu < 8; ++gpu) {
    const auto next = scheduler.assign(gpus_free(0, all_but(busy)), 0);
    ASSERT_TRUE(next);
    EXPECT_EQ(next->run_id, "long" + std::to_string(gpu));
    EXPECT_EQ(next->gpus, std::vector<int>{gpu});
    busy.push_back(gpu);
  }
  // The long runs end one by one, each freed GPU stays free: the node drains for the gang
  // run even though 20 shorter 1-GPU runs are waiting (none would end before the drain).
  std::vector<int> free_gpus;
  for (int gpu = 0; gpu < 7; ++gpu) {
    const double now = 100 + gpu;
    scheduler.finish("long" + std::to_string(gpu), RunEnd::completed, now);
    free_gpus.push_back(gpu);
    EXPECT_FALSE(scheduler.assign(gpus_free(0, free_gpus), now)) << "GPU " << gpu;
  }
  scheduler.finish("long7", RunEnd::completed, 107);
  const auto gang = scheduler.assign(gpus_free(0, all_but({})), 107);
  ASSERT_TRUE(gang);
  EXPECT_EQ(gang->run_id, "gang");
  EXPECT_EQ(gang->gpus, all_but({}));
}

// While a node drains for a gang run, a run estimated to end before the drain does still
// starts there. The estimate: work per GPU / (work per GPU per second of completed runs).
TEST(Scheduler, ADrainingNodeBackfillsRunsThatEndBeforeItHasDrained) {
  std::vector<SchedulableRun> runs;
  for (int i = 0; i < 7; ++i) runs.push_back(gpu_run("slow" + std::to_string(i), 300, 1));
  runs.push_back(gpu_run("quick", 100, 1));
  runs.push_back(gpu_run("gang", 8 * 90, 8));
  for (int i = 0; i < 3; ++i) runs.push_back(gpu_run("short" + std::to_string(i), 80, 1));
  Scheduler scheduler(runs);
  std::vector<int> busy;
  for (int gpu = 0; gpu < 8; ++gpu) {
    ASSERT_TRUE(scheduler.assign(gpus_free(0, all_but(busy)), 0));
    busy.push_back(gpu);
  }
  // "quick" (on GPU 7) ends at 100 s: a GPU does 1 unit of work per second, so the slow runs
  // end at 300 s and an 80-unit short run started now ends at 180 s, in time.
  scheduler.finish("quick", RunEnd::completed, 100);
  const auto first = scheduler.assign(gpus_free(0, {7}), 100);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->run_id, "short0");
  scheduler.finish("short0", RunEnd::completed, 180);
  EXPECT_EQ(scheduler.assign(gpus_free(0, {7}), 180)->run_id, "short1");
  scheduler.finish("short1", RunEnd::completed, 260);
  // Started at 260 s, a short run would end at 340 s, after the slow runs: it waits.
  EXPECT_FALSE(scheduler.assign(gpus_free(0, {7}), 260));
  for (int i = 0; i < 7; ++i) scheduler.finish("slow" + std::to_string(i), RunEnd::completed, 300);
  EXPECT_EQ(scheduler.assign(gpus_free(0, all_but({})), 300)->run_id, "gang");
}

TEST(Scheduler, AReservedRunStartsOnWhicheverWorkerFitsItFirst) {
  Scheduler scheduler({gpu_run("busy0", 60, 8), gpu_run("busy1", 55, 8), gpu_run("gang", 40, 8),
                       gpu_run("small", 5, 1)});
  ASSERT_EQ(scheduler.assign(gpus_free(0, all_but({})), 0)->run_id, "busy0");
  ASSERT_EQ(scheduler.assign(gpus_free(1, all_but({})), 0)->run_id, "busy1");
  scheduler.finish("busy0", RunEnd::completed, 1);
  // Worker 0 frees all 8 at once: the gang run starts there; no reservation was needed.
  scheduler.finish("busy1", RunEnd::completed, 1);
  EXPECT_EQ(scheduler.assign(gpus_free(0, all_but({})), 1)->run_id, "gang");
  EXPECT_EQ(scheduler.assign(gpus_free(1, all_but({})), 1)->run_id, "small");
}

TEST(Scheduler, AReservationIsReleasedWhenItsRunStartsElsewhere) {
  Scheduler scheduler({gpu_run("half", 60, 4), gpu_run("gang", 48, 8), gpu_run("small", 5, 1)});
  ASSERT_EQ(scheduler.assign(gpus_free(0, all_but({})), 0)->run_id, "half");
  // Worker 0 has 4 free, no other worker is known: it reserves itself for the gang run.
  EXPECT_FALSE(scheduler.assign(gpus_free(0, {4, 5, 6, 7}), 0));
  // A new worker with 8 free takes the gang run; worker 0 is free to take others again.
  EXPECT_EQ(scheduler.assign(gpus_free(1, all_but({})), 1)->run_id, "gang");
  EXPECT_EQ(scheduler.assign(gpus_free(0, {4, 5, 6, 7}), 1)->run_id, "small");
}

TEST(Scheduler, RunsTooLargeForAWorkerDoNotReserveIt) {
  Scheduler scheduler({gpu_run("gang", 40, 8), gpu_run("small", 5, 1)});
  // A 4-GPU worker can never hold the 8-GPU run: it gets the small run.
  EXPECT_EQ(scheduler.assign(gpus_free(0, {0, 1, 2, 3}), 0)->run_id, "small");
}

TEST(Scheduler, RetriesFailedRunsWithDoublingBackoffUpToMaxAttempts) {
  SchedulerOptions options;
  options.max_attempts = 3;
  options.backoff_seconds = 10;
  Scheduler scheduler({gpu_run("flaky", 1, 1)}, options);
  EXPECT_FALSE(scheduler.next_retry_time());

  EXPECT_EQ(scheduler.assign(gpus_free(0, {0}), 0)->attempt, 1);
  EXPECT_TRUE(scheduler.finish("flaky", RunEnd::failed, 100));
  EXPECT_EQ(scheduler.counts().pending, 1);
  ASSERT_TRUE(scheduler.next_retry_time());
  EXPECT_DOUBLE_EQ(*scheduler.next_retry_time(), 110);  // retry 1: 10 s
  EXPECT_FALSE(scheduler.assign(gpus_free(0, {0}), 109.9));

  EXPECT_EQ(scheduler.assign(gpus_free(0, {0}), 110)->attempt, 2);
  EXPECT_FALSE(scheduler.next_retry_time());
  EXPECT_TRUE(scheduler.finish("flaky", RunEnd::failed, 200));
  EXPECT_DOUBLE_EQ(*scheduler.next_retry_time(), 220);  // retry 2: 20 s
  EXPECT_FALSE(scheduler.assign(gpus_free(0, {0}), 219));

  EXPECT_EQ(scheduler.assign(gpus_free(0, {0}), 220)->attempt, 3);
  EXPECT_FALSE(scheduler.finish("flaky", RunEnd::failed, 300));  // third failure: given up
  EXPECT_EQ(scheduler.counts().failed, 1);
  EXPECT_EQ(scheduler.counts().pending, 0);
  EXPECT_TRUE(scheduler.settled());
  EXPECT_FALSE(scheduler.assign(gpus_free(0, {0}), 1e9));
}

TEST(Scheduler, BackingOffRunsLetCheaperRunsGoFirst) {
  Scheduler scheduler({gpu_run("dear", 10, 1), gpu_run("cheap", 1, 1)});
  ASSERT_EQ(scheduler.assign(gpus_free(0, {0}), 0)->run_id, "dear");
  scheduler.finish("dear", RunEnd::failed, 5);
  EXPECT_EQ(scheduler.assign(gpus_free(0, {0}), 6)->run_id, "cheap");
}

TEST(Scheduler, DivergedRunsAreNeverRetried) {
  Scheduler scheduler({gpu_run("nan", 1, 1)});
  ASSERT_TRUE(scheduler.assign(gpus_free(0, {0}), 0));
  EXPECT_FALSE(scheduler.finish("nan", RunEnd::diverged, 1));
  EXPECT_EQ(scheduler.counts().diverged, 1);
  EXPECT_EQ(scheduler.counts().failed, 0);
  EXPECT_FALSE(scheduler.assign(gpus_free(0, {0}), 1e9));
  EXPECT_FALSE(scheduler.next_retry_time());
  EXPECT_TRUE(scheduler.settled());
}

TEST(Scheduler, RejectedRunsFailAtOnceWithAttemptsLeft) {
  Scheduler scheduler({gpu_run("bad-input", 1, 1)});  // max_attempts 3 by default
  ASSERT_TRUE(scheduler.assign(gpus_free(0, {0}), 0));
  EXPECT_FALSE(scheduler.finish("bad-input", RunEnd::rejected, 1));
  EXPECT_EQ(scheduler.counts().failed, 1);
  EXPECT_FALSE(scheduler.assign(gpus_free(0, {0}), 1e9));
  EXPECT_FALSE(scheduler.next_retry_time());
  EXPECT_TRUE(scheduler.settled());
}

TEST(Scheduler, StoppedRunsArePendingAgainWithoutCountingAnAttempt) {
  SchedulerOptions options;
  options.max_attempts = 1;
  Scheduler scheduler({gpu_run("preempted", 1, 2)}, options);
  for (int stop = 0; stop < 3; ++stop) {
    const auto assignment = scheduler.assign(gpus_free(0, {0, 1}), stop);
    ASSERT_TRUE(assignment);
    EXPECT_EQ(assignment->attempt, 1);
    EXPECT_TRUE(scheduler.finish("preempted", RunEnd::stopped, stop));
    EXPECT_EQ(scheduler.counts().pending, 1);
  }
  ASSERT_TRUE(scheduler.assign(gpus_free(0, {0, 1}), 5));
  EXPECT_FALSE(scheduler.finish("preempted", RunEnd::completed, 6));
  EXPECT_EQ(scheduler.counts().completed, 1);
}

TEST(Scheduler, ResumedRunsContinueTheirAttemptCount) {
  SchedulerOptions options;
  options.max_attempts = 3;
  SchedulableRun twice = gpu_run("twice", 2, 0);
  twice.attempts = 2;
  SchedulableRun spent = gpu_run("spent", 5, 0);
  spent.attempts = 3;
  Scheduler scheduler({twice, spent}, options);
  EXPECT_EQ(scheduler.counts().failed, 1);
  EXPECT_EQ(scheduler.counts().pending, 1);
  const auto assignment = scheduler.assign(cpu_slot(0), 0);
  ASSERT_TRUE(assignment);
  EXPECT_EQ(assignment->run_id, "twice");
  EXPECT_EQ(assignment->attempt, 3);
  EXPECT_FALSE(scheduler.finish("twice", RunEnd::failed, 1));
  EXPECT_EQ(scheduler.counts().failed, 2);
}

TEST(Scheduler, CountsEveryStateAndSettlesWhenNothingIsLeft) {
  Scheduler scheduler({gpu_run("a", 4, 0), gpu_run("b", 3, 0), gpu_run("c", 2, 0), gpu_run("d", 1, 0)});
  EXPECT_EQ(scheduler.counts().pending, 4);
  EXPECT_FALSE(scheduler.settled());
  for (int worker = 0; worker < 3; ++worker) ASSERT_TRUE(scheduler.assign(cpu_slot(worker), 0));
  SchedulerCounts counts = scheduler.counts();
  EXPECT_EQ(counts.pending, 1);
  EXPECT_EQ(counts.running, 3);
  scheduler.finish("a", RunEnd::completed, 1);
  scheduler.finish("b", RunEnd::diverged, 1);
  scheduler.finish("c", RunEnd::failed, 1);  // back to pending (3 attempts by default)
  counts = scheduler.counts();
  EXPECT_EQ(counts.pending, 2);
  EXPECT_EQ(counts.running, 0);
  EXPECT_EQ(counts.completed, 1);
  EXPECT_EQ(counts.diverged, 1);
  EXPECT_FALSE(scheduler.settled());
  EXPECT_EQ(scheduler.assign(cpu_slot(0), 1)->run_id, "d");  // c is backing off
  scheduler.finish("d", RunEnd::completed, 2);
  EXPECT_EQ(scheduler.assign(cpu_slot(0), *scheduler.next_retry_time())->run_id, "c");
  scheduler.finish("c", RunEnd::completed, 20);
  counts = scheduler.counts();
  EXPECT_EQ(counts.pending + counts.running, 0);
  EXPECT_EQ(counts.completed, 3);
  EXPECT_TRUE(scheduler.settled());
}

// Random offers and ends on three 8-GPU workers: every assignment is a gang of exactly the
// run's GPUs, all from the offer, never a GPU that is busy, and every run ends exactly once.
TEST(Scheduler, RandomInterleavingsKeepEveryInvariant) {
  std::mt19937 random(12345);
  std::vector<SchedulableRun> runs;
  std::map<std::string, int> gpus_of;
  const int widths[] = {1, 1, 1, 2, 2, 4, 8};
  for (int i = 0; i < 300; ++i) {
    const std::string id = "run" + std::to_string(i);
    const int gpus = widths[random() % 7];
    runs.push_back(gpu_run(id, 1 + random() % 1000, gpus));
    gpus_of[id] = gpus;
  }
  SchedulerOptions options;
  options.backoff_seconds = 1;
  Scheduler scheduler(runs, options);

  std::vector<std::set<int>> busy(3);                       // per worker
  std::map<std::string, std::pair<int, std::vector<int>>> running;  // run -> worker, GPUs
  std::set<std::string> ended;
  double now = 0;
  for (int step = 0; step < 200000 && !scheduler.settled(); ++step) {
    now += 0.25;
    if (!running.empty() && random() % 2 == 0) {
      auto victim = running.begin();
      std::advance(victim, random() % running.size());
      const auto [worker, gpus] = victim->second;
      for (int gpu : gpus) busy[worker].erase(gpu);
      const RunEnd end = random() % 10 == 0 ? RunEnd::failed : random() % 20 == 0 ? RunEnd::stopped
                                                                                   : RunEnd::completed;
      if (!scheduler.finish(victim->first, end, now)) {
        EXPECT_TRUE(ended.insert(victim->first).second) << victim->first << " ended twice";
      }
      running.erase(victim);
      continue;
    }
    const int worker = static_cast<int>(random() % 3);
    std::vector<int> free_gpus;
    for (int gpu = 0; gpu < 8; ++gpu) {
      if (!busy[worker].count(gpu)) free_gpus.push_back(gpu);
    }
    const auto assignment = scheduler.assign(gpus_free(worker, free_gpus), now);
    if (!assignment) continue;
    ASSERT_EQ(assignment->worker, worker);
    ASSERT_EQ(static_cast<int>(assignment->gpus.size()), gpus_of[assignment->run_id]);
    ASSERT_FALSE(running.count(assignment->run_id)) << assignment->run_id << " started twice";
    for (int gpu : assignment->gpus) {
      ASSERT_TRUE(std::find(free_gpus.begin(), free_gpus.end(), gpu) != free_gpus.end());
      ASSERT_TRUE(busy[worker].insert(gpu).second) << "GPU " << gpu << " given twice";
    }
    running[assignment->run_id] = {worker, assignment->gpus};
    const SchedulerCounts counts = scheduler.counts();
    ASSERT_EQ(counts.running, static_cast<int64_t>(running.size()));
    ASSERT_EQ(counts.pending + counts.running + counts.completed + counts.diverged + counts.failed, 300);
  }
  EXPECT_TRUE(scheduler.settled());
  EXPECT_EQ(ended.size(), 300u);
}

TEST(Scheduler, RejectsCallerMistakes) {
  EXPECT_THROW(Scheduler({gpu_run("same", 1, 0), gpu_run("same", 2, 0)}), std::invalid_argument);
  EXPECT_THROW(Scheduler({gpu_run("neg", 1, -1)}), std::invalid_argument);
  SchedulerOptions no_attempts;
  no_attempts.max_attempts = 0;
  EXPECT_THROW(Scheduler({gpu_run("a", 1, 0)}, no_attempts), std::invalid_argument);

  Scheduler scheduler({gpu_run("a", 1, 1)});
  EXPECT_THROW(scheduler.assign(gpus_free(0, {1, 1}), 0), std::invalid_argument);
  EXPECT_THROW(scheduler.finish("a", RunEnd::completed, 0), std::logic_error);  // not running
  EXPECT_THROW(scheduler.finish("zzz", RunEnd::completed, 0), std::logic_error);
}

}  // namespace
}  // namespace plascale
