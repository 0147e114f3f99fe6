#pragma once
// Rank 0's decisions, without the transport: what to answer a worker's request, what to
// do with a run's progress and end. The Scheduler decides which run goes where; this class
// keeps the offers of workers it could not serve (they are served when a run ends or a
// backoff expires), records every attempt through the StudyBook and tells the display.
// run_sweep() (run.h) moves its messages over MPI, or calls it directly with one rank.

#include <map>
#include <optional>
#include <vector>

#include "orchestrator/display.h"
#include "orchestrator/protocol.h"
#include "orchestrator/scheduler.h"
#include "orchestrator/study_book.h"

namespace plascale {

class Coordinator {
 public:
  // `book` may be null (the dispatch benchmark's dry runs record nothing).
  Coordinator(const std::vector<RunToDo>& runs, SchedulerOptions scheduling, int threads, StudyBook* book,
              SweepDisplay& display);

  // The order for this offer, or nothing: the offer is then kept for serve_waiting(). A worker
  // does not ask again while its offer is kept, so result() returns an ended run's GPUs to it.
  std::optional<RunOrder> request(const WorkerOffer& offer, double now_seconds);
  void progress(const ProgressReport& report, double now_seconds);
  void result(const RunReport& report, double now_seconds);
  // Orders for kept offers that can be served now.
  std::vector<RunOrder> serve_waiting(double now_seconds);
  // A worker leaves (stop): its kept offer is dropped.
  void forget_worker(int worker) { waiting_.erase(worker); }

  bool settled() const { return scheduler_.settled(); }
  // Every one of `workers` is idle and refused, no backoff is running, and runs are pending:
  // those runs fit no worker (more GPUs than any worker has). Names them, else empty.
  std::string unschedulable(size_t workers) const;
  SchedulerCounts counts() const { return scheduler_.counts(); }
  std::optional<double> next_retry_time() const { return scheduler_.next_retry_time(); }
  // 0 when every run is done or diverged, 1 when some run failed all its attempts.
  int exit_code() const;

 private:
  RunOrder order_for(const Assignment& assignment);

  Scheduler scheduler_;
  std::map<std::string, int> threads_;   // per run: --threads of its children (0 = worker's share)
  std::map<std::string, Assignment> running_;  // per running run: where it runs, which attempt
  std::map<std::string, int> unsettled_; // runs not finished for good -> GPUs they need
  std::map<int, WorkerOffer> waiting_;   // per worker: an offer not served yet
  StudyBook* book_;
  SweepDisplay& display_;
};

}  // namespace plascale
