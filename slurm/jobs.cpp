#include "slurm/jobs.h"

#include <fmt/core.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "slurm/command.h"
#include "sweeps/errors.h"
#include "sweeps/format.h"

namespace plascale::slurm {

namespace fs = std::filesystem;

namespace {

constexpr const char* kHeader = "job_id\tkind\tsubmitted_utc\tresubmit_index";

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream stream(line);
  while (std::getline(stream, field, '\t')) fields.push_back(field);
  return fields;
}

bool all_digits(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Lines "ID|STATE" -> states; a state like "CANCELLED by 0" keeps its first word.
void parse_states(const std::string& output, std::map<std::string, std::string>& states) {
  std::istringstream stream(output);
  std::string line;
  while (std::getline(stream, line)) {
    const size_t bar = line.find('|');
    if (bar == std::string::npos) continue;
    std::string state = line.substr(bar + 1);
    state = state.substr(0, state.find(' '));
    states.emplace(line.substr(0, bar), state);
  }
}

}  // namespace

fs::path jobs_file(const fs::path& study_dir) { return study_dir / "slurm" / "jobs.tsv"; }

std::vector<JobRecord> read_jobs(const fs::path& study_dir) {
  const fs::path path = jobs_file(study_dir);
  std::ifstream in(path);
  if (!in) return {};
  std::vector<JobRecord> jobs;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (number == 1 && line == kHeader) continue;
    const std::vector<std::string> fields = split_tabs(line);
    const bool valid = fields.size() == 4 && all_digits(fields[0]) && (fields[1] == "sweep" || fields[1] == "fit") &&
                       all_digits(fields[3]) && fields[3].size() < 9;
    if (!valid)
      throw InputError(fmt::format("{}:{}: not a job line; allowed: JOB_ID<tab>sweep|fit<tab>UTC time<tab>RESUBMIT_INDEX",
                                   path.string(), number));
    jobs.push_back({fields[0], fields[1], fields[2], std::stoi(fields[3])});
  }
  return jobs;
}

void append_job(const fs::path& study_dir, const JobRecord& job) {
  const fs::path path = jobs_file(study_dir);
  fs::create_directories(path.parent_path());
  const bool fresh = !fs::exists(path);
  std::ofstream out(path, std::ios::app);
  if (fresh) out << kHeader << '\n';
  out << job.job_id << '\t' << job.kind << '\t' << job.submitted_utc << '\t' << job.resubmit_index << '\n';
  out.flush();
  if (!out) throw std::runtime_error("cannot append to " + path.string());
}

int resubmissions(const std::vector<JobRecord>& jobs) {
  int highest = 0;
  for (const JobRecord& job : jobs)
    if (job.kind == "sweep") highest = std::max(highest, job.resubmit_index);
  return highest;
}

std::map<std::string, std::string> job_states(const std::vector<std::string>& job_ids) {
  std::map<std::string, std::string> states;
  if (job_ids.empty()) return states;
  std::string list;
  for (const std::string& id : job_ids) {
    if (!list.empty()) list += ',';
    list += id;
  }
  if (in_path("squeue")) {
    // --me and a filter here: `squeue -j` fails as a whole when one id is no longer known.
    CommandResult result = run_command({"squeue", "--me", "--noheader", "--states=all", "--format=%i|%T"});
    if (result.exit_code == 0) parse_states(result.output, states);
  }
  const bool all_known = std::all_of(job_ids.begin(), job_ids.end(), [&](auto& id) { return states.count(id); });
  if (!all_known && in_path("sacct")) {
    CommandResult result = run_command({"sacct", "--noheader", "--allocations", "--parsable2",
                                        "--format=JobID,State", "--jobs=" + list});
    if (result.exit_code == 0) parse_states(result.output, states);
  }
  std::erase_if(states, [&](auto& entry) {
    return std::find(job_ids.begin(), job_ids.end(), entry.first) == job_ids.end();
  });
  return states;
}

namespace {

std::map<std::string, std::string> states_of(const std::vector<JobRecord>& jobs) {
  std::vector<std::string> ids;
  for (const JobRecord& job : jobs) ids.push_back(job.job_id);
  return job_states(ids);
}

}  // namespace

std::string jobs_table(const fs::path& study_dir) {
  const std::vector<JobRecord> jobs = read_jobs(study_dir);
  if (jobs.empty()) return "";
  const std::map<std::string, std::string> states = states_of(jobs);
  const int resubmitted = resubmissions(jobs);
  std::string table = fmt::format("slurm jobs ({}; resubmitted {} time{}):\n", jobs_file(study_dir).string(),
                                  resubmitted, resubmitted == 1 ? "" : "s");
  size_t id_width = 6;
  for (const JobRecord& job : jobs) id_width = std::max(id_width, job.job_id.size());
  table += fmt::format("{:<{}}  kind   submitted             resubmit  state\n", "job id", id_width);
  for (const JobRecord& job : jobs) {
    auto state = states.find(job.job_id);
    table += fmt::format("{:<{}}  {:<5}  {:<20}  {:>8}  {}\n", job.job_id, id_width, job.kind, job.submitted_utc,
                         job.resubmit_index, state == states.end() ? "-" : state->second);
  }
  return table;
}

std::string jobs_json(const fs::path& study_dir) {
  const std::vector<JobRecord> jobs = read_jobs(study_dir);
  const std::map<std::string, std::string> states = states_of(jobs);
  std::string json = "[";
  for (const JobRecord& job : jobs) {
    auto state = states.find(job.job_id);
    json += fmt::format("{}{{\"job_id\": {}, \"kind\": {}, \"submitted_utc\": {}, \"resubmit_index\": {}, \"state\": {}}}",
                        json.size() == 1 ? "" : ", ", double_quoted(job.job_id), double_quoted(job.kind),
                        double_quoted(job.submitted_utc), job.resubmit_index,
                        state == states.end() ? "null" : double_quoted(state->second));
  }
  return json + "]";
}

}  // namespace plascale::slurm
