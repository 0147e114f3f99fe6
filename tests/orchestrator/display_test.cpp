// What `plascale run` prints: state-change lines and the summary in a batch log, the block
// redrawn in place on a terminal, and the aggregate rate and ETA behind both.

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "orchestrator/display.h"

namespace plascale {
namespace {

std::string contents(std::FILE* file) {
  std::rewind(file);
  std::string text;
  for (int c; (c = std::fgetc(file)) != EOF;) text += static_cast<char>(c);
  return text;
}

RunReport ended(const std::string& id, RunEnd end, const std::string& error = "") {
  RunReport report;
  report.run_id = id;
  report.end = end;
  report.error = error;
  return report;
}

TEST(SweepDisplay, RateAndEtaCountOnlyTokensTrainedByThisInvocation) {
  std::FILE* out = std::tmpfile();
  SweepDisplay display(out, false, 10, {{"a", 1000}, {"b", 1000}});
  display.started({"a", 1, {}, 1}, 0);
  display.progress({"a", 1, 400, 1000, 2.0}, 1);  // resumed at 400: the baseline, not a gain
  display.progress({"a", 1, 600, 1000, 1.9}, 2);
  SchedulerCounts counts;
  counts.running = 1;
  counts.pending = 1;
  // 200 tokens in 4 s = 50 tokens/s; 400 + 1000 tokens left -> 28 s.
  EXPECT_EQ(display.summary(counts, 4), "0 done, 1 running, 1 pending, 0 failed, 0 diverged | 50 tokens/s | ETA 0:00:28");
  std::fclose(out);
}

TEST(SweepDisplay, BatchLogHasALinePerStateChangeAndPeriodicSummaries) {
  std::FILE* out = std::tmpfile();
  SweepDisplay display(out, false, 10, {{"a", 1000}, {"b", 1000}});
  SchedulerCounts counts;
  display.tick(counts, 0);  // the first summary
  display.started({"a", 2, {0, 1}, 3}, 1);
  display.tick(counts, 5);  // not due
  display.ended(ended("a", RunEnd::failed, "exit code 1: boom"), 3, true, 6);
  display.tick(counts, 12);
  const std::string text = contents(out);
  std::fclose(out);
  EXPECT_NE(text.find("[0:00:01] start a attempt 3 on worker 2 GPU 0,1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("[0:00:06] failed (will retry) a attempt 3: exit code 1: boom\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("[0:00:05]"), std::string::npos) << text;
  EXPECT_NE(text.find("[0:00:12] 0 done"), std::string::npos) << text;
  EXPECT_EQ(text.find('\033'), std::string::npos) << "escape codes in a log";
}

TEST(SweepDisplay, TerminalRedrawsOneBlockWithTheSlowestAndFailingRuns) {
  std::FILE* out = std::tmpfile();
  SweepDisplay display(out, true, 10, {{"fast", 1000}, {"slow", 1000}, {"bad", 1000}});
  display.started({"fast", 1, {}, 1}, 0);
  display.started({"slow", 2, {}, 1}, 0);
  display.progress({"fast", 1, 0, 1000, 2}, 0);
  display.progress({"slow", 2, 0, 1000, 2}, 0);
  display.progress({"fast", 1, 800, 1000, 2}, 1);
  display.progress({"slow", 2, 100, 1000, 2}, 1);
  display.ended(ended("bad", RunEnd::failed, "killed by signal 9 (SIGKILL)"), 1, true, 1);
  SchedulerCounts counts;
  counts.running = 2;
  display.tick(counts, 1);
  display.tick(counts, 2);  // redraws: goes up over the 4 lines of the block and clears
  const std::string text = contents(out);
  std::fclose(out);
  EXPECT_NE(text.find("\033[4F\033[J"), std::string::npos) << text;
  const size_t slow = text.rfind("  slow    slow");
  const size_t fast = text.rfind("  slow    fast");
  ASSERT_NE(slow, std::string::npos) << text;
  ASSERT_NE(fast, std::string::npos) << text;
  EXPECT_LT(slow, fast) << "the slowest run first";
  EXPECT_NE(text.find("  failing bad  killed by signal 9 (SIGKILL)"), std::string::npos) << text;
}

}  // namespace
}  // namespace plascale
