#include "orchestrator/study_book.h"

#include <fmt/format.h>

#include <chrono>
#include <set>
#include <sstream>
#include <tuple>

#include "orchestrator/run_files.h"
#include "storage/layout.h"
#include "sweeps/errors.h"
#include "sweeps/format.h"
#include "sweeps/expand.h"
#include "sweeps/runspec_yaml.h"

namespace plascale {

namespace {

// What a researcher calls "the same run": its place in the grid.
using GridKey = std::tuple<std::string, int64_t, std::string, uint64_t>;
GridKey grid_key(const RunAttributes& run) { return {run.size, run.token_budget, run.mitigation, run.seed}; }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The spec lines the new run has and the recorded one lacks (ids aside): what changed.
std::string changed_lines(const std::string& old_yaml, const std::string& new_yaml) {
  constexpr size_t kShown = 4;
  const std::vector<std::string> old_lines = lines_of(old_yaml);
  const std::set<std::string> old_set(old_lines.begin(), old_lines.end());
  std::string changed;
  size_t shown = 0;
  for (const std::string& line : lines_of(new_yaml)) {
    if (old_set.count(line) != 0 || line.rfind("id:", 0) == 0) continue;
    if (shown++ == kShown) {
      changed += "; ...";
      break;
    }
    changed += fmt::format("{}'{}'", changed.empty() ? "" : ", ", line);
  }
  return changed.empty() ? "(formatting only)" : changed;
}

void write_file_atomically(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  const std::filesystem::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) throw std::runtime_error("cannot write " + temporary.string());
  }
  std::filesystem::rename(temporary, path);
}

std::string utc_now_millis() {  // events need finer order than study timestamps
  const auto now = std::chrono::system_clock::now();
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:03}Z", text, millis % 1000);
}

const char* end_event(RunEnd end, bool retried) {
  switch (end) {
    case RunEnd::completed: return "done";
    case RunEnd::diverged: return "diverged";
    case RunEnd::stopped: return "stopped";
    case RunEnd::failed: return retried ? "failed" : "given_up";
    case RunEnd::rejected: return "rejected";
  }
  return "failed";
}

}  // namespace

StudyBook StudyBook::open(const Sweep& sweep, const std::filesystem::path& study_dir, bool force,
                          PreparedStudy& prepared) {
  const std::vector<RunSpec> specs = expand_sweep(sweep);
  std::vector<RunInfo> recorded;
  if (std::filesystem::exists(study_file_path(study_dir))) recorded = StudyReader(study_dir).runs();

  std::map<std::string, const RunInfo*> by_id;
  std::map<GridKey, std::vector<const RunInfo*>> by_key;
  for (const RunInfo& run : recorded) {
    by_id[run.attributes.id] = &run;
    by_key[grid_key(run.attributes)].push_back(&run);
  }
  std::vector<RunAttributes> attributes;
  std::vector<std::string> conflicts;
  for (const RunSpec& spec : specs) {
    attributes.push_back(run_attributes(spec, RunStatus::pending, runspec_to_yaml(spec)));
    const RunAttributes& now = attributes.back();
    for (const RunInfo* old : by_key[grid_key(now)]) {
      const bool has_data = old->attributes.status != RunStatus::pending || old->points > 0;
      if (old->attributes.id == now.id || !has_data) continue;
      conflicts.push_back(fmt::format(
          "  size {}, budget {}, mitigation {}, seed {}: recorded run {} ({}, {} points) is now run {}; changed: {}",
          now.size, now.token_budget, now.mitigation, now.seed, old->attributes.id,
          run_status_name(old->attributes.status), old->points, now.id,
          changed_lines(old->attributes.spec_yaml, now.spec_yaml)));
    }
  }
  if (!conflicts.empty() && !force) {
    std::string list;
    for (const std::string& line : conflicts) list += "\n" + line;
    throw InputError(fmt::format(
        "{}: sweep '{}' computes {} recorded run(s) of study {} differently:{}\nResuming would mix two "
        "computations under one grid point. Use a new study (--study DIR), undo the change, or pass --force to "
        "train the new runs beside the recorded ones.",
        sweep.file, sweep.name, conflicts.size(), study_dir.string(), list));
  }

  StudyWriter writer = recorded.empty() && !std::filesystem::exists(study_file_path(study_dir))
                           ? StudyWriter::create(study_dir, sweep.text, sweep_hash(sweep.text))
                           : StudyWriter::open(study_dir);
  std::map<std::string, int64_t> earlier_attempts;
  for (size_t i = 0; i < specs.size(); ++i) {
    const RunSpec& spec = specs[i];
    auto old = by_id.find(spec.id);
    // A relabelled run (same id, other size or mitigation name) is a different spec_yaml:
    // register_run refuses it unless forced, which starts its record afresh.
    const bool replaced = writer.register_run(attributes[i], force) && old != by_id.end();
    write_file_atomically(run_paths(study_dir, spec.id).spec, attributes[i].spec_yaml);
    RunToDo todo{spec, 0, false};
    if (old != by_id.end() && !replaced) {
      const RunAttributes& recorded_run = old->second->attributes;
      if (recorded_run.status == RunStatus::done || recorded_run.status == RunStatus::diverged) {
        ++prepared.already_done;
        continue;
      }
      todo.earlier_attempts = recorded_run.attempts;
      todo.resumed = old->second->points > 0;
    }
    earlier_attempts[spec.id] = todo.earlier_attempts;
    prepared.runs.push_back(std::move(todo));
  }
  return StudyBook(std::move(writer), std::move(earlier_attempts));
}

StudyBook::StudyBook(StudyWriter writer, std::map<std::string, int64_t> earlier_attempts)
    : writer_(std::move(writer)), earlier_attempts_(std::move(earlier_attempts)) {
  events_.open(events_path(writer_.dir()), std::ios::app);
  if (!events_) throw std::runtime_error("cannot open " + events_path(writer_.dir()).string());
}

void StudyBook::append_event(const std::string& json) {
  // One write per line and a flush: a kill -9 of the coordinator loses at most this line.
  events_ << json << '\n';
  events_.flush();
}

void StudyBook::note(const std::string& event, const std::string& json_fields) {
  append_event(fmt::format("{{\"utc\": \"{}\", \"event\": {}{}{}}}", utc_now_millis(), double_quoted(event),
                           json_fields.empty() ? "" : ", ", json_fields));
}

void StudyBook::started(const Assignment& assignment) {
  const int64_t attempts = earlier_attempts_[assignment.run_id] + assignment.attempt;
  writer_.set_status(assignment.run_id, RunStatus::running, attempts);
  note("start", fmt::format("\"run\": {}, \"attempt\": {}, \"attempts\": {}, \"worker\": {}, \"gpus\": [{}]",
                            double_quoted(assignment.run_id), assignment.attempt, attempts, assignment.worker,
                            fmt::join(assignment.gpus, ", ")));
}

void StudyBook::ended(const RunReport& report, int attempt, bool retried) {
  const std::string& id = report.run_id;
  int64_t attempts = earlier_attempts_[id] + attempt;
  switch (report.end) {
    case RunEnd::completed:
      writer_.set_status(id, RunStatus::done, attempts);
      writer_.merge_run(id);
      break;
    case RunEnd::diverged:
      writer_.set_status(id, RunStatus::diverged, attempts, report.error);
      writer_.merge_run(id);
      break;
    case RunEnd::stopped:
      --attempts;  // a stopped attempt does not count: the run continues where it stopped
      writer_.set_status(id, RunStatus::pending, attempts);
      break;
    case RunEnd::failed:
    case RunEnd::rejected:
      writer_.set_status(id, RunStatus::failed, attempts, report.error);
      if (!retried && std::filesystem::exists(run_file_path(writer_.dir(), id))) writer_.merge_run(id);
      break;
  }
  note(end_event(report.end, retried),
       fmt::format("\"run\": {}, \"attempt\": {}, \"attempts\": {}, \"worker\": {}, \"tokens\": {}, \"exit_code\": {}, "
                   "\"signal\": {}, \"error\": {}",
                   double_quoted(id), attempt, attempts, report.worker, report.tokens, report.exit_code,
                   report.signal, double_quoted(report.error)));
}

}  // namespace plascale
