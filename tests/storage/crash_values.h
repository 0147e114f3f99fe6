#pragma once
// The values storage_crash_writer writes, shared with crash_test.cpp (and mirrored in
// check_crash_files.py) so that what survives a kill -9 can be checked exactly.

#include <fmt/core.h>

#include <array>
#include <string>
#include <vector>

#include "storage/run_file.h"

namespace plascale::crash {

inline constexpr int64_t kMaxRows = 50'000'000;  // the writer is killed long before this
inline constexpr int kRuns = 12;                 // runs in the status-update study
inline const std::vector<int64_t> kCurveSteps{0, 5, 10};

inline TrajectoryRow row(int64_t i) {
  const auto x = static_cast<double>(i);
  TrajectoryRow row;
  row.step = i;
  row.tokens = 256 * i;
  row.scalars["loss"] = 0.5 * x;
  row.scalars["lr"] = x + 0.25;
  row.vectors["val_loss"] = {{x + 0.1, x + 0.2}, {"a", "b"}};
  row.matrices["attn_entropy"] = {2, 2, {x, x + 1, x + 2, x + 3}};
  return row;
}

inline double probe_auc(int64_t k) { return 1000.0 + static_cast<double>(k); }
inline std::vector<double> probe_curve(int64_t k) {
  const auto x = static_cast<double>(k);
  return {x, x + 0.5, x + 0.75};
}

inline std::string run_id(int index) { return fmt::format("r{:02d}", index); }

struct StatusUpdate {
  int run = 0;
  RunStatus status = RunStatus::pending;
  int64_t attempts = 0;
  std::string last_error;
};

// Update k touches run k % kRuns; its attempts value k + 1 identifies it.
inline StatusUpdate status_update(int64_t k) {
  constexpr std::array<RunStatus, 4> kCycle{RunStatus::running, RunStatus::failed, RunStatus::running,
                                            RunStatus::done};
  StatusUpdate update;
  update.run = static_cast<int>(k % kRuns);
  update.status = kCycle[static_cast<size_t>(k % 4)];
  update.attempts = k + 1;
  update.last_error = update.status == RunStatus::failed ? fmt::format("error {}", k) : "";
  return update;
}

}  // namespace plascale::crash
