#pragma once
// The coordinator's bookkeeping in the study (it is study.h5's only writer): prepares a
// study for a sweep (creates it, or checks that resuming it is safe), records each attempt's
// start and end in study.h5 (status, attempts, last_error, merge) and appends every state
// change to STUDY/events.jsonl, the study's history of attempts.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "orchestrator/protocol.h"
#include "storage/study.h"
#include "sweeps/run_spec.h"
#include "sweeps/sweep.h"

namespace plascale {

// A run of the sweep as the study had it before this `plascale run`.
struct RunToDo {
  RunSpec spec;
  int64_t earlier_attempts = 0;  // attempts recorded by earlier invocations
  bool resumed = false;          // it has a checkpoint or trajectory to continue from
};

struct PreparedStudy {
  std::vector<RunToDo> runs;     // to train now: not done, not diverged
  int64_t already_done = 0;      // skipped: done or diverged before
};

class StudyBook {
 public:
  // Creates the study or opens it to resume. Refuses (InputError, naming the runs and the
  // changed spec lines) a study that holds data for a run the sweep now computes
  // differently (same size, budget, mitigation and seed labels, another id), unless
  // `force`. Registers every run of the sweep and writes its spec.yaml.
  static StudyBook open(const Sweep& sweep, const std::filesystem::path& study_dir, bool force,
                        PreparedStudy& prepared);

  // An attempt starts (status running, attempts counted) / ends.
  void started(const Assignment& assignment);
  // `retried`: the scheduler gives the run another attempt. `attempt` is the one that ended.
  void ended(const RunReport& report, int attempt, bool retried);
  // Sweep-level events: {"event": name, ...fields} (fields are JSON already).
  void note(const std::string& event, const std::string& json_fields);

 private:
  StudyBook(StudyWriter writer, std::map<std::string, int64_t> earlier_attempts);
  void append_event(const std::string& json);

  StudyWriter writer_;
  std::map<std::string, int64_t> earlier_attempts_;
  std::ofstream events_;
};

}  // namespace plascale
