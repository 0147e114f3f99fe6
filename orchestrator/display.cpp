#include "orchestrator/display.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace plascale {

namespace {

constexpr double kRedrawSeconds = 0.5;
constexpr size_t kDetailRuns = 3;

std::string clock_text(double seconds) {
  if (!std::isfinite(seconds)) return "?";
  const auto total = static_cast<int64_t>(std::max(0.0, seconds) + 0.5);
  return fmt::format("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60);
}

std::string rate_text(double per_second) {
  if (per_second >= 1e6) return fmt::format("{:.1f}M", per_second / 1e6);
  if (per_second >= 1e3) return fmt::format("{:.1f}k", per_second / 1e3);
  return fmt::format("{:.0f}", per_second);
}

const char* end_word(RunEnd end, bool retried) {
  switch (end) {
    case RunEnd::completed: return "done";
    case RunEnd::diverged: return "diverged";
    case RunEnd::stopped: return "stopped";
    case RunEnd::failed: return retried ? "failed (will retry)" : "failed (no attempts left)";
    case RunEnd::rejected: return "failed (bad input, not retried)";
  }
  return "?";
}

}  // namespace

SweepDisplay::SweepDisplay(std::FILE* out, bool terminal, double summary_every_seconds,
                           std::map<std::string, int64_t> budgets)
    : out_(out), terminal_(terminal), summary_every_(summary_every_seconds), budgets_(std::move(budgets)) {}

void SweepDisplay::line(const std::string& text, double now_seconds) {
  if (terminal_ && drawn_lines_ > 0) {
    fmt::print(out_, "\033[{}F\033[J", drawn_lines_);  // up to the block's start, clear below
    drawn_lines_ = 0;
  }
  fmt::print(out_, "[{}] {}\n", clock_text(now_seconds), text);
  std::fflush(out_);
}

void SweepDisplay::message(const std::string& text, double now_seconds) { line(text, now_seconds); }

void SweepDisplay::started(const Assignment& assignment, double now_seconds) {
  running_[assignment.run_id] = RunView{assignment.worker, assignment.attempt, now_seconds, -1,
                                        tokens_[assignment.run_id]};
  std::string where = fmt::format("worker {}", assignment.worker);
  if (!assignment.gpus.empty()) where += fmt::format(" GPU {}", fmt::join(assignment.gpus, ","));
  if (!terminal_) line(fmt::format("start {} attempt {} on {}", assignment.run_id, assignment.attempt, where), now_seconds);
}

void SweepDisplay::progress(const ProgressReport& report, double now_seconds) {
  auto run = running_.find(report.run_id);
  if (run == running_.end()) return;
  RunView& view = run->second;
  if (view.start_tokens < 0) {
    view.start_tokens = report.tokens;  // resumed runs start at their checkpoint
  } else {
    tokens_trained_ += std::max<int64_t>(0, report.tokens - view.tokens);
  }
  view.tokens = report.tokens;
  tokens_[report.run_id] = report.tokens;
}

void SweepDisplay::ended(const RunReport& report, int attempt, bool retried, double now_seconds) {
  running_.erase(report.run_id);
  if (report.end == RunEnd::completed) tokens_[report.run_id] = budgets_[report.run_id];
  if (report.end == RunEnd::failed || report.end == RunEnd::rejected) {
    failing_[report.run_id] = report.error;
  } else {
    failing_.erase(report.run_id);
  }
  std::string text = fmt::format("{} {} attempt {}", end_word(report.end, retried), report.run_id, attempt);
  if (!report.error.empty()) text += ": " + report.error;
  line(text, now_seconds);
}

std::string SweepDisplay::summary(const SchedulerCounts& counts, double now_seconds) const {
  int64_t remaining = 0;
  for (const auto& [id, budget] : budgets_) {
    auto known = tokens_.find(id);
    remaining += std::max<int64_t>(0, budget - (known == tokens_.end() ? 0 : known->second));
  }
  const double rate = now_seconds > 0 ? static_cast<double>(tokens_trained_) / now_seconds : 0;
  const bool all_ended = counts.pending == 0 && counts.running == 0;
  const std::string eta = all_ended ? "0:00:00" : rate > 0 ? clock_text(static_cast<double>(remaining) / rate) : "?";
  return fmt::format("{} done, {} running, {} pending, {} failed, {} diverged | {} tokens/s | ETA {}", counts.completed,
                     counts.running, counts.pending, counts.failed, counts.diverged, rate_text(rate), eta);
}

std::vector<std::string> SweepDisplay::detail_lines(double now_seconds) const {
  std::vector<std::string> lines;
  std::vector<std::pair<double, std::string>> by_rate;
  for (const auto& [id, view] : running_) {
    const double seconds = std::max(now_seconds - view.started, 1e-9);
    const double rate = view.start_tokens < 0 ? 0 : static_cast<double>(view.tokens - view.start_tokens) / seconds;
    const auto budget = budgets_.find(id);
    const double percent = budget == budgets_.end() || budget->second == 0
                               ? 0
                               : 100.0 * static_cast<double>(view.tokens) / static_cast<double>(budget->second);
    by_rate.emplace_back(rate, fmt::format("  slow    {}  {:5.1f}%  {} tokens/s  worker {}  attempt {}", id, percent,
                                           rate_text(rate), view.worker, view.attempt));
  }
  std::sort(by_rate.begin(), by_rate.end());
  for (size_t i = 0; i < std::min(kDetailRuns, by_rate.size()); ++i) lines.push_back(by_rate[i].second);
  size_t shown = 0;
  for (const auto& [id, error] : failing_) {
    if (shown++ == kDetailRuns) break;
    lines.push_back(fmt::format("  failing {}  {}", id, error.substr(0, 100)));
  }
  return lines;
}

void SweepDisplay::redraw(const SchedulerCounts& counts, double now_seconds) {
  if (drawn_lines_ > 0) fmt::print(out_, "\033[{}F\033[J", drawn_lines_);
  std::vector<std::string> lines = detail_lines(now_seconds);
  lines.insert(lines.begin(), fmt::format("[{}] {}", clock_text(now_seconds), summary(counts, now_seconds)));
  for (const std::string& text : lines) fmt::print(out_, "{}\n", text);
  drawn_lines_ = static_cast<int>(lines.size());
  std::fflush(out_);
}

void SweepDisplay::tick(const SchedulerCounts& counts, double now_seconds) {
  const double due = terminal_ ? kRedrawSeconds : summary_every_;
  if (now_seconds - last_output_ < due) return;
  last_output_ = now_seconds;
  if (terminal_) {
    redraw(counts, now_seconds);
  } else {
    line(summary(counts, now_seconds), now_seconds);
  }
}

void SweepDisplay::finish(const SchedulerCounts& counts, double now_seconds) {
  if (terminal_) {
    redraw(counts, now_seconds);
    drawn_lines_ = 0;  // the final block stays on the screen
  } else {
    line(summary(counts, now_seconds), now_seconds);
  }
}

}  // namespace plascale
