#pragma once
// Helpers shared by the storage tests: a scratch folder and deterministic runs and rows.

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "storage/run_file.h"
#include "sweeps/errors.h"

namespace plascale::testing {

// A fresh folder under the system temp dir, removed at the end of the test.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "plascale-storage-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline RunAttributes make_run(int index) {
  RunAttributes run;
  run.id = fmt::format("run{:04d}", index);
  run.size = fmt::format("{}M", index % 7 + 1);
  run.n_params_nonembedding = 1000000 + index;
  run.n_params_total = 2000000 + index;
  run.token_budget = 50000000 + 1000 * static_cast<int64_t>(index);
  run.mitigation = index % 2 == 0 ? "none" : "redo";
  run.seed = 18000000000000000000ull + static_cast<uint64_t>(index);  // above INT64_MAX on purpose
  run.spec_yaml = fmt::format("model: {{layers: 2}}\nseed: {}\n", index);
  return run;
}

}  // namespace plascale::testing
