#pragma once
// Where a study's files live and which format version this build writes (docs/storage.md).
//
//   STUDY/study.h5               the study: sweep, run table, merged runs, fits
//   STUDY/runs/<run_id>/run.h5   one run's trajectory and probe, written by that run alone
//   STUDY/runs/<run_id>/ckpt/    that run's checkpoints

#include <filesystem>
#include <string>

namespace plascale {

// Stored as the `format_version` attribute of study.h5 and of every run.h5. Files with a
// higher version are refused (written by a newer plascale); bump it on any change that an
// older reader would misread.
inline constexpr int kStorageFormatVersion = 1;

inline std::filesystem::path study_file_path(const std::filesystem::path& study_dir) {
  return study_dir / "study.h5";
}
inline std::filesystem::path run_dir_path(const std::filesystem::path& study_dir, const std::string& run_id) {
  return study_dir / "runs" / run_id;
}
inline std::filesystem::path run_file_path(const std::filesystem::path& study_dir, const std::string& run_id) {
  return run_dir_path(study_dir, run_id) / "run.h5";
}
inline std::filesystem::path checkpoint_dir_path(const std::filesystem::path& study_dir,
                                                 const std::string& run_id) {
  return run_dir_path(study_dir, run_id) / "ckpt";
}

}  // namespace plascale
