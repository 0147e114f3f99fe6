#include "orchestrator/coordinator.h"

#include <fmt/core.h>

#include <algorithm>

#include "sweeps/cost.h"

namespace plascale {

namespace {

std::vector<SchedulableRun> schedulable(const std::vector<RunToDo>& runs) {
  std::vector<SchedulableRun> result;
  for (const RunToDo& run : runs) {
    // Attempts are counted per `plascale run`: a run that failed before gets its attempts
    // afresh (the study's `attempts` keeps the total).
    result.push_back({run.spec.id, estimated_flops(run.spec), run.spec.resources.gpus, 0});
  }
  return result;
}

}  // namespace

Coordinator::Coordinator(const std::vector<RunToDo>& runs, SchedulerOptions scheduling, int threads,
                         StudyBook* book, SweepDisplay& display)
    : scheduler_(schedulable(runs), scheduling), book_(book), display_(display) {
  for (const RunToDo& run : runs) {
    threads_[run.spec.id] = threads > 0 ? threads : run.spec.resources.cpus;
    unsettled_[run.spec.id] = run.spec.resources.gpus;
  }
}

RunOrder Coordinator::order_for(const Assignment& assignment) {
  running_[assignment.run_id] = assignment;
  if (book_) book_->started(assignment);
  return RunOrder{assignment, threads_[assignment.run_id]};
}

std::optional<RunOrder> Coordinator::request(const WorkerOffer& offer, double now_seconds) {
  std::optional<Assignment> assignment = scheduler_.assign(offer, now_seconds);
  if (!assignment) {
    waiting_[offer.worker] = offer;
    return std::nullopt;
  }
  waiting_.erase(offer.worker);
  RunOrder order = order_for(*assignment);
  display_.started(order.assignment, now_seconds);
  return order;
}

void Coordinator::progress(const ProgressReport& report, double now_seconds) {
  display_.progress(report, now_seconds);
}

void Coordinator::result(const RunReport& report, double now_seconds) {
  auto running = running_.find(report.run_id);
  if (running == running_.end()) return;  // not running here: a duplicate report
  const Assignment& ended = running->second;
  const bool retried = scheduler_.finish(report.run_id, report.end, now_seconds);
  if (book_) book_->ended(report, ended.attempt, retried);
  if (!retried) unsettled_.erase(report.run_id);
  display_.ended(report, ended.attempt, retried, now_seconds);
  if (auto kept = waiting_.find(ended.worker); kept != waiting_.end()) {
    std::vector<int>& free_gpus = kept->second.free_gpus;
    free_gpus.insert(free_gpus.end(), ended.gpus.begin(), ended.gpus.end());
    std::sort(free_gpus.begin(), free_gpus.end());
  }
  running_.erase(running);
}

std::vector<RunOrder> Coordinator::serve_waiting(double now_seconds) {
  std::vector<RunOrder> orders;
  for (auto offer = waiting_.begin(); offer != waiting_.end();) {
    if (std::optional<Assignment> assignment = scheduler_.assign(offer->second, now_seconds)) {
      orders.push_back(order_for(*assignment));
      display_.started(orders.back().assignment, now_seconds);
      offer = waiting_.erase(offer);
    } else {
      ++offer;
    }
  }
  return orders;
}

std::string Coordinator::unschedulable(size_t workers) const {
  const SchedulerCounts now = scheduler_.counts();
  if (workers == 0 || waiting_.size() < workers || now.running > 0 || now.pending == 0 ||
      scheduler_.next_retry_time()) {
    return "";
  }
  size_t most_gpus = 0;
  for (const auto& [worker, offer] : waiting_) most_gpus = std::max(most_gpus, offer.free_gpus.size());
  std::string runs;
  for (const auto& [id, gpus] : unsettled_) runs += fmt::format("{}{} ({} GPUs)", runs.empty() ? "" : ", ", id, gpus);
  return fmt::format("{} pending run(s) fit no worker: {}; the largest worker has {} GPUs (--gpus-per-node, "
                     "CUDA_VISIBLE_DEVICES and the ranks per node decide it)",
                     now.pending, runs, most_gpus);
}

int Coordinator::exit_code() const { return scheduler_.counts().failed > 0 ? 1 : 0; }

}  // namespace plascale
