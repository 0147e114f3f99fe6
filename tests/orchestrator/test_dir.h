#pragma once

#include <filesystem>
#include <string>

namespace plascale::testing {

// An empty folder for one test under the build tree, kept after the test for inspection.
inline std::filesystem::path fresh_dir(const std::string& name) {
  std::filesystem::path dir = std::filesystem::path(PLASCALE_BINARY_DIR) / "test-output" / "orchestrator" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace plascale::testing
