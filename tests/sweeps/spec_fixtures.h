#pragma once
// Shared by the sweeps tests: a small valid sweep, temporary folders, and helpers that
// parse and return the errors.

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sweeps/errors.h"
#include "sweeps/sweep.h"

namespace plascale::testing {

// Smallest useful sweep: one size, two synthetic languages, a held-out probe language.
inline const char* kMiniSweep = R"(name: mini
model: {context: 16, vocab: 256}
sizes:
  - {name: a, layers: 1, d_model: 32, heads: 2}
data:
  synthetic: {seed: 1, order: 2, branching: 4}
  sources:
    - {name: l0, kind: synthetic, language: 0}
    - {name: l1, kind: synthetic, language: 1}
    - {name: held, kind: synthetic, language: 9}
  schedule: {kind: continual, order: [l0, l1], tokens_per_task: 4096, cycles: 2}
probe: {source: held, steps: 4, eval_interval: 2, eval_sequences: 2, every_tasks: 1}
training: {lr: 1e-3, batch_tokens: 256}
)";

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

inline std::string example_path(const std::string& name) {
  return std::string(PLASCALE_SOURCE_DIR) + "/sweeps/examples/" + name;
}

// `text` with the first occurrence of `from` replaced; fails the test if absent.
inline std::string replaced(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "fixture does not contain: " << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// "line:column" (1-based) of the first occurrence of `needle` in `text`.
inline std::string position_of(const std::string& text, const std::string& needle) {
  auto at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  int line = 1, column = 1;
  for (size_t i = 0; i < at && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

// A fresh folder under the build tree, removed when the fixture goes.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = std::filesystem::path(PLASCALE_BINARY_DIR) / "tmp" /
            ("sweeps-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path write(const std::string& name, const std::string& content) const {
    auto file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    return file;
  }

 private:
  std::filesystem::path path_;
};

// The errors parse_sweep reports for `text` (empty if it parses).
inline std::vector<std::string> sweep_errors(const std::string& text, const std::string& file = "t.yaml") {
  try {
    parse_sweep(text, file);
  } catch (const SpecError& error) {
    return error.errors();
  }
  return {};
}

// Exactly one error, which starts with "t.yaml:line:column: " where line:column is the first
// occurrence of `at` in `text` (computed here independently of the parser), and contains `fragment`.
inline void expect_one_error(const std::string& text, const std::string& at, const std::string& fragment) {
  std::string position = position_of(text, at);
  auto errors = sweep_errors(text);
  ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
  EXPECT_EQ(errors[0].rfind("t.yaml:" + position + ": ", 0), 0u) << errors[0];
  EXPECT_NE(errors[0].find(fragment), std::string::npos) << errors[0];
}

}  // namespace plascale::testing
