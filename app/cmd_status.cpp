// `plascale status STUDY [--json]`: the run table of a study and a summary line. Opens the
// study read-only, so it is safe while the coordinator and the runs are writing.

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <string>

#include "app/commands.h"
#include "slurm/jobs.h"
#include "storage/study.h"
#include "sweeps/errors.h"
#include "sweeps/format.h"

namespace plascale {

namespace {

struct StatusOptions {
  std::string study_dir;
  bool json = false;
};

constexpr std::array<RunStatus, 5> kStatusOrder{RunStatus::done, RunStatus::running, RunStatus::pending,
                                                RunStatus::failed, RunStatus::diverged};

// 1234 -> "1.23k", 4'900'000 -> "4.9M", 2.5e9 -> "2.5B": parameters and tokens at a glance
// (--json gives exact numbers).
std::string short_count(int64_t count) {
  constexpr std::array<std::pair<double, const char*>, 4> kUnits{
      {{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "k"}}};
  const auto value = static_cast<double>(count);
  for (const auto& [scale, suffix] : kUnits)
    if (value >= scale) return fmt::format("{:.3g}{}", value / scale, suffix);
  return std::to_string(count);
}

// What the table shows as the run's error: its last error, or why its run file is unreadable.
std::string error_text(const RunInfo& run) {
  if (!run.run_file_error.empty()) return "run.h5: " + run.run_file_error;
  return run.attributes.last_error;
}

std::string summary_line(const std::vector<RunInfo>& runs) {
  std::map<RunStatus, int> counts;
  for (const RunInfo& run : runs) ++counts[run.attributes.status];
  std::string line = fmt::format("{} runs:", runs.size());
  for (size_t i = 0; i < kStatusOrder.size(); ++i)
    line += fmt::format("{} {} {}", i == 0 ? "" : ",", counts[kStatusOrder[i]], run_status_name(kStatusOrder[i]));
  return line;
}

void print_table(const std::filesystem::path& study_dir, const std::vector<RunInfo>& runs) {
  constexpr size_t kErrorWidth = 60;
  const std::array<std::string, 11> header{"id", "size", "params", "budget", "mitigation", "seed",
                                           "status", "attempts", "points", "tokens", "last error"};
  std::vector<std::array<std::string, 11>> rows;
  for (const RunInfo& run : runs) {
    const RunAttributes& a = run.attributes;
    std::string error = error_text(run);
    std::replace(error.begin(), error.end(), '\n', ' ');
    if (error.size() > kErrorWidth) error = error.substr(0, kErrorWidth - 3) + "...";
    rows.push_back({a.id, a.size, short_count(a.n_params_nonembedding), short_count(a.token_budget), a.mitigation,
                    std::to_string(a.seed), run_status_name(a.status), std::to_string(a.attempts),
                    std::to_string(run.points), run.last_tokens ? short_count(*run.last_tokens) : "-", error});
  }
  std::array<size_t, 11> widths{};
  for (size_t c = 0; c < header.size(); ++c) {
    widths[c] = header[c].size();
    for (const auto& row : rows) widths[c] = std::max(widths[c], row[c].size());
  }
  auto print_row = [&](const std::array<std::string, 11>& row) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      // Numbers right-aligned, words left-aligned; no padding after the last column.
      const bool numeric = c == 2 || c == 3 || c == 5 || c == 7 || c == 8 || c == 9;
      if (c + 1 == row.size()) {
        line += row[c];
      } else {
        line += numeric ? fmt::format("{:>{}}  ", row[c], widths[c]) : fmt::format("{:<{}}  ", row[c], widths[c]);
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    fmt::print("{}\n", line);
  };
  fmt::print("study {}\n", study_dir.string());
  print_row(header);
  for (const auto& row : rows) print_row(row);
  fmt::print("{}\n", summary_line(runs));
}

void print_json(const std::filesystem::path& study_dir, const std::vector<RunInfo>& runs) {
  // Slurm job states first: squeue/sacct may take a moment, the runs are read already.
  const std::string slurm_jobs = slurm::jobs_json(study_dir);
  std::string out = fmt::format("{{\"study\": {}, \"runs\": [", double_quoted(study_dir.string()));
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunInfo& run = runs[i];
    const RunAttributes& a = run.attributes;
    out += fmt::format(
        "{}\n  {{\"id\": {}, \"size\": {}, \"n_params_nonembedding\": {}, \"n_params_total\": {}, "
        "\"token_budget\": {}, \"mitigation\": {}, \"seed\": {}, \"status\": {}, \"attempts\": {}, "
        "\"points\": {}, \"last_tokens\": {}, \"merged\": {}, \"last_error\": {}, \"run_file_error\": {}}}",
        i == 0 ? "" : ",", double_quoted(a.id), double_quoted(a.size), a.n_params_nonembedding, a.n_params_total,
        a.token_budget, double_quoted(a.mitigation), a.seed, double_quoted(run_status_name(a.status)), a.attempts,
        run.points, run.last_tokens ? std::to_string(*run.last_tokens) : "null", run.merged,
        double_quoted(a.last_error), double_quoted(run.run_file_error));
  }
  std::map<RunStatus, int> counts;
  for (const RunInfo& run : runs) ++counts[run.attributes.status];
  out += "\n], \"summary\": {";
  for (size_t i = 0; i < kStatusOrder.size(); ++i)
    out += fmt::format("{}\"{}\": {}", i == 0 ? "" : ", ", run_status_name(kStatusOrder[i]), counts[kStatusOrder[i]]);
  out += fmt::format("}}, \"total\": {}, \"slurm_jobs\": {}}}\n", runs.size(), slurm_jobs);
  fmt::print("{}", out);
}

int status(const StatusOptions& options) {
  const StudyReader reader(options.study_dir);
  const std::vector<RunInfo> runs = reader.runs();
  if (options.json) {
    print_json(options.study_dir, runs);
  } else {
    print_table(options.study_dir, runs);
    if (std::string jobs = slurm::jobs_table(options.study_dir); !jobs.empty()) fmt::print("\n{}", jobs);
  }
  return kExitOk;
}

}  // namespace

void register_status(CLI::App& app, CommandResult& result) {
  auto options = std::make_shared<StatusOptions>();
  CLI::App* command = app.add_subcommand("status", "Print a study's run table (safe while runs are writing)");
  command->add_option("study", options->study_dir, "Study folder (holds study.h5)")->required();
  command->add_flag("--json", options->json, "Print the table as JSON instead");
  command->callback([&result, options] { result.run = [options] { return status(*options); }; });
}

}  // namespace plascale
