#include "orchestrator/progress_channel.h"

#include <fmt/core.h>

#include <charconv>
#include <cstdlib>

namespace plascale {

std::string progress_line(const ChildProgress& progress) {
  return fmt::format("progress {} {} {}\n", progress.tokens, progress.total_tokens, progress.loss);
}

std::string event_line(std::string_view text) {
  std::string line = fmt::format("event {}", text);
  for (char& c : line)
    if (c == '\n') c = ' ';
  return line + "\n";
}

std::optional<ChildProgress> parse_progress_line(std::string_view line) {
  constexpr std::string_view kPrefix = "progress ";
  if (line.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  const std::string rest(line.substr(kPrefix.size()));
  const char* cursor = rest.c_str();
  const char* end = cursor + rest.size();
  ChildProgress progress;
  auto parsed = std::from_chars(cursor, end, progress.tokens);
  if (parsed.ec != std::errc() || parsed.ptr == end || *parsed.ptr != ' ') return std::nullopt;
  parsed = std::from_chars(parsed.ptr + 1, end, progress.total_tokens);
  if (parsed.ec != std::errc() || parsed.ptr == end || *parsed.ptr != ' ') return std::nullopt;
  // strtod, not from_chars: it also reads "nan" and "inf", which a diverging run reports.
  char* loss_end = nullptr;
  progress.loss = std::strtod(parsed.ptr + 1, &loss_end);
  if (loss_end == parsed.ptr + 1 || (loss_end != end && *loss_end != '\n')) return std::nullopt;
  return progress;
}

}  // namespace plascale
