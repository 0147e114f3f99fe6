#pragma once
// What `plascale run` shows while it works. On a terminal: a summary redrawn in place
// (runs done/running/pending/failed, aggregate tokens/s, ETA) with the slowest and the
// failing runs under it. Otherwise (a batch log): one line per state change and a summary
// line every `summary_every_seconds`.

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "orchestrator/protocol.h"
#include "orchestrator/scheduler.h"

namespace plascale {

class SweepDisplay {
 public:
  // `budgets`: token budget of every run to train (for the ETA).
  SweepDisplay(std::FILE* out, bool terminal, double summary_every_seconds, std::map<std::string, int64_t> budgets);

  void started(const Assignment& assignment, double now_seconds);
  void progress(const ProgressReport& report, double now_seconds);
  void ended(const RunReport& report, int attempt, bool retried, double now_seconds);
  // A line of its own (stop requested, ...).
  void message(const std::string& text, double now_seconds);
  // Redraws (terminal) or prints the periodic summary (batch) when due.
  void tick(const SchedulerCounts& counts, double now_seconds);
  // The final summary.
  void finish(const SchedulerCounts& counts, double now_seconds);

  // "12 done, 3 running, 40 pending, 1 failed, 0 diverged | 5.1k tokens/s | ETA 0:12:30"
  std::string summary(const SchedulerCounts& counts, double now_seconds) const;

 private:
  struct RunView {
    int worker = 0;
    int attempt = 1;
    double started = 0;
    int64_t start_tokens = -1;  // tokens at its first report this attempt
    int64_t tokens = 0;
  };

  void line(const std::string& text, double now_seconds);
  void redraw(const SchedulerCounts& counts, double now_seconds);
  std::vector<std::string> detail_lines(double now_seconds) const;

  std::FILE* out_;
  bool terminal_;
  double summary_every_;
  std::map<std::string, int64_t> budgets_;
  std::map<std::string, int64_t> tokens_;       // latest known tokens per run
  std::map<std::string, RunView> running_;
  std::map<std::string, std::string> failing_;  // run -> last error, while it has one
  int64_t tokens_trained_ = 0;                  // by this invocation, all runs
  double last_output_ = -1e9;
  int drawn_lines_ = 0;                         // terminal: lines of the block to redraw
};

}  // namespace plascale
