#pragma once
// The line protocol a child `plascale train --progress-fd N` writes to its supervisor
// through a pipe: the supervisor's heartbeat and the coordinator's progress display.
//
//   progress <tokens> <total_tokens> <loss>\n    after a step, at most every kProgressSeconds
//   event <text>\n                                at probes, checkpoints, resume (a heartbeat too)
//
// A child whose supervisor has died gets SIGPIPE at its next line and dies with it, so a
// lost worker rank leaves no run writing behind its back.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace plascale {

inline constexpr double kProgressSeconds = 0.5;

struct ChildProgress {
  int64_t tokens = 0;
  int64_t total_tokens = 0;
  double loss = 0;
};

std::string progress_line(const ChildProgress& progress);
std::string event_line(std::string_view text);

// The progress in a `progress` line; nothing for an event line or anything else.
std::optional<ChildProgress> parse_progress_line(std::string_view line);

}  // namespace plascale
