#pragma once
// Files `plascale run` keeps in a study beside storage's (docs/orchestrator.md, "Files"):
//
//   STUDY/events.jsonl            the coordinator's event log, one JSON object per line
//   STUDY/runs/<id>/spec.yaml     the resolved RunSpec the run's children train from
//   STUDY/runs/<id>/train.log     the children's stdout and stderr, appended per attempt

#include <filesystem>
#include <string>

#include "storage/layout.h"

namespace plascale {

struct RunPaths {
  std::filesystem::path dir;
  std::filesystem::path spec;
  std::filesystem::path log;
};

inline RunPaths run_paths(const std::filesystem::path& study_dir, const std::string& run_id) {
  const std::filesystem::path dir = run_dir_path(study_dir, run_id);
  return {dir, dir / "spec.yaml", dir / "train.log"};
}

inline std::filesystem::path events_path(const std::filesystem::path& study_dir) {
  return study_dir / "events.jsonl";
}

}  // namespace plascale
