#include "orchestrator/scheduler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace plascale {

// How the queue is walked (docs/orchestrator.md "Scheduling policy"): pending runs in
// order of work per GPU, i.e. of duration, longest first (LPT: the runs that would stretch
// the makespan start first). The first eligible one that fits the offer starts. A longer
// run met on the way that does not fit, fits no other worker's free GPUs, but would fit this
// worker once it drains, reserves the worker. Without that, short runs would keep taking every
// GPU freed on every node and a gang run would wait for a node to drain by chance. While it
// drains, the worker still takes runs estimated to end before the drain does (backfill).

Scheduler::Scheduler(std::vector<SchedulableRun> runs, SchedulerOptions options)
    : options_(options) {
  if (options_.max_attempts < 1) {
    throw std::invalid_argument("SchedulerOptions::max_attempts is " +
                                std::to_string(options_.max_attempts) + "; it must be at least 1");
  }
  if (!(options_.backoff_seconds >= 0) || !std::isfinite(options_.backoff_seconds)) {
    throw std::invalid_argument("SchedulerOptions::backoff_seconds must be finite and >= 0");
  }
  std::vector<size_t> order(runs.size());
  std::iota(order.begin(), order.end(), size_t{0});
  const auto work_per_gpu = [](const SchedulableRun& run) { return run.cost / std::max(1, run.gpus); };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return work_per_gpu(runs[a]) > work_per_gpu(runs[b]);
  });
  runs_.reserve(runs.size());
  for (size_t input_index : order) {
    SchedulableRun& run = runs[input_index];
    if (run.id.empty()) throw std::invalid_argument("a SchedulableRun has an empty id");
    if (run.gpus < 0 || run.attempts < 0 || !(run.cost >= 0) || !std::isfinite(run.cost)) {
      throw std::invalid_argument("run " + run.id +
                                  ": gpus and attempts must be >= 0 and cost finite and >= 0");
    }
    if (!index_.emplace(run.id, runs_.size()).second) {
      throw std::invalid_argument("run id " + run.id + " appears twice");
    }
    RunState state;
    state.work_per_gpu = work_per_gpu(run);
    state.run = std::move(run);
    if (state.run.attempts >= options_.max_attempts) {
      state.state = State::failed;  // used up its attempts in an earlier job
      ++counts_.failed;
    } else {
      pending_.insert(runs_.size());
      ++counts_.pending;
    }
    runs_.push_back(std::move(state));
  }
}

std::optional<Assignment> Scheduler::assign(const WorkerOffer& offer, double now_seconds) {
  latest_time_ = std::max(latest_time_, now_seconds);
  std::vector<int> sorted_free = offer.free_gpus;
  std::sort(sorted_free.begin(), sorted_free.end());
  if (std::adjacent_find(sorted_free.begin(), sorted_free.end()) != sorted_free.end() ||
      (!sorted_free.empty() && sorted_free.front() < 0)) {
    throw std::invalid_argument("offer of worker " + std::to_string(offer.worker) +
                                ": free_gpus must be distinct device indices >= 0");
  }
  WorkerState& worker = workers_[offer.worker];
  worker.free = static_cast<int>(sorted_free.size());
  const int capacity = worker.busy + worker.free;
  const auto fits = [&](const SchedulableRun& run) {
    return run.gpus == 0 ? offer.cpu_slot_free : run.gpus <= worker.free;
  };

  if (worker.reserved_for >= 0) {
    const size_t reserved = static_cast<size_t>(worker.reserved_for);
    if (fits(runs_[reserved].run)) return start(reserved, offer.worker, sorted_free, now_seconds);
    return backfill(offer, sorted_free, now_seconds);
  }

  std::optional<int> most_free_elsewhere;  // computed once, when first needed
  for (size_t index : pending_) {
    RunState& run = runs_[index];
    if (run.eligible_at > now_seconds) continue;
    if (fits(run.run)) return start(index, offer.worker, sorted_free, now_seconds);
    if (run.run.gpus == 0 || run.reserved_on >= 0 || run.run.gpus > capacity) continue;
    if (!most_free_elsewhere) most_free_elsewhere = most_free_gpus_except(offer.worker);
    if (run.run.gpus > *most_free_elsewhere) {
      run.reserved_on = offer.worker;
      worker.reserved_for = static_cast<int>(index);
      return backfill(offer, sorted_free, now_seconds);
    }
  }
  return std::nullopt;
}

std::optional<Assignment> Scheduler::backfill(const WorkerOffer& offer,
                                              const std::vector<int>& sorted_free,
                                              double now_seconds) {
  if (completed_seconds_ <= 0) return std::nullopt;  // no run has ended yet: no estimates
  const double work_per_second = completed_work_per_gpu_ / completed_seconds_;
  WorkerState& worker = workers_[offer.worker];
  const int gpus_needed = runs_[static_cast<size_t>(worker.reserved_for)].run.gpus;
  // When the worker will have drained: its runs' estimated ends, earliest first, until
  // enough GPUs are free. A run past its estimate is taken to end now.
  std::vector<std::pair<double, int>> ends;
  for (size_t index : worker.running) {
    const RunState& run = runs_[index];
    ends.emplace_back(std::max(now_seconds, run.started_at + run.work_per_gpu / work_per_second),
                      run.run.gpus);
  }
  std::sort(ends.begin(), ends.end());
  double drained_at = now_seconds;
  int free = worker.free;
  for (size_t next = 0; free < gpus_needed && next < ends.size(); ++next) {
    drained_at = ends[next].first;
    free += ends[next].second;
  }
  for (size_t index : pending_) {
    const RunState& run = runs_[index];
    if (run.eligible_at > now_seconds || run.run.gpus == 0 || run.run.gpus > worker.free) continue;
    if (now_seconds + run.work_per_gpu / work_per_second <= drained_at) {
      return start(index, offer.worker, sorted_free, now_seconds);
    }
  }
  return std::nullopt;
}

std::optional<Assignment> Scheduler::start(size_t run_index, int worker_id,
                                           const std::vector<int>& sorted_free, double now_seconds) {
  RunState& run = runs_[run_index];
  clear_reservation(run);
  WorkerState& worker = workers_[worker_id];
  worker.free -= run.run.gpus;
  worker.busy += run.run.gpus;
  pending_.erase(run_index);
  worker.running.push_back(run_index);
  run.state = State::running;
  run.worker = worker_id;
  run.started_at = now_seconds;
  ++run.run.attempts;
  --counts_.pending;
  ++counts_.running;

  Assignment assignment;
  assignment.run_id = run.run.id;
  assignment.worker = worker_id;
  // The lowest free indices: the choice is deterministic, so a run's devices can be replayed.
  assignment.gpus.assign(sorted_free.begin(), sorted_free.begin() + run.run.gpus);
  assignment.attempt = run.run.attempts;
  return assignment;
}

void Scheduler::clear_reservation(RunState& run) {
  if (run.reserved_on < 0) return;
  workers_[run.reserved_on].reserved_for = -1;
  run.reserved_on = -1;
}

int Scheduler::most_free_gpus_except(int worker_id) const {
  int most = 0;
  for (const auto& [id, worker] : workers_) {
    if (id != worker_id && worker.reserved_for < 0) most = std::max(most, worker.free);
  }
  return most;
}

Scheduler::RunState& Scheduler::running_run(const std::string& run_id) {
  const auto found = index_.find(run_id);
  if (found == index_.end()) throw std::logic_error("finish: unknown run " + run_id);
  RunState& run = runs_[found->second];
  if (run.state != State::running) throw std::logic_error("finish: run " + run_id + " is not running");
  return run;
}

bool Scheduler::finish(const std::string& run_id, RunEnd end, double now_seconds) {
  latest_time_ = std::max(latest_time_, now_seconds);
  RunState& run = running_run(run_id);
  WorkerState& worker = workers_[run.worker];
  worker.busy -= run.run.gpus;
  worker.free += run.run.gpus;
  worker.running.erase(std::find(worker.running.begin(), worker.running.end(), index_.at(run_id)));
  run.worker = -1;
  --counts_.running;

  bool pending_again = false;
  switch (end) {
    case RunEnd::completed:
      if (run.run.gpus > 0 && now_seconds > run.started_at) {  // GPU throughput only
        completed_work_per_gpu_ += run.work_per_gpu;
        completed_seconds_ += now_seconds - run.started_at;
      }
      run.state = State::completed;
      ++counts_.completed;
      break;
    case RunEnd::diverged:
      run.state = State::diverged;
      ++counts_.diverged;
      break;
    case RunEnd::failed:
      if (run.run.attempts >= options_.max_attempts) {
        run.state = State::failed;
        ++counts_.failed;
      } else {
        run.eligible_at =
            now_seconds + options_.backoff_seconds * std::ldexp(1.0, run.run.attempts - 1);
        pending_again = true;
      }
      break;
    case RunEnd::rejected:
      run.state = State::failed;
      ++counts_.failed;
      break;
    case RunEnd::stopped:
      --run.run.attempts;  // preemption is not the run's fault
      run.eligible_at = now_seconds;
      pending_again = true;
      break;
  }
  if (pending_again) {
    run.state = State::pending;
    pending_.insert(index_.at(run_id));
    ++counts_.pending;
  }
  return pending_again;
}

SchedulerCounts Scheduler::counts() const { return counts_; }

bool Scheduler::settled() const { return counts_.pending == 0 && counts_.running == 0; }

std::optional<double> Scheduler::next_retry_time() const {
  std::optional<double> earliest;
  for (size_t index : pending_) {
    const double at = runs_[index].eligible_at;
    if (at > latest_time_ && (!earliest || at < *earliest)) earliest = at;
  }
  return earliest;
}

}  // namespace plascale
