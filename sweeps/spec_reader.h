#pragma once
// Internal to sweeps/: reads typed values out of a yaml-cpp tree and collects every
// problem as "file:line:column: what is wrong; allowed: ...", so a researcher sees all
// errors of a spec at once. Readers never throw on bad values: they record an error
// and leave the destination at its default; throw_if_errors() raises them together.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace plascale {

// Allowed interval of a number, printed in messages as e.g. "(0, 1]".
struct Range {
  double min;
  double max;
  bool min_open = false;
  bool max_open = false;
  bool contains(double value) const;
  std::string describe() const;
};

using Keys = std::initializer_list<std::string_view>;

class SpecReader {
 public:
  explicit SpecReader(std::string file) : file_(std::move(file)) {}

  const std::string& file() const { return file_; }
  void error(const YAML::Mark& mark, const std::string& message);
  void error(const YAML::Node& node, const std::string& message) { error(node.Mark(), message); }
  bool has_errors() const { return !errors_.empty(); }
  // Throws SpecError with every error so far, ordered by position.
  void throw_if_errors();

  // Parses YAML text; syntax errors are recorded with their position. Null node on failure.
  YAML::Node load(const std::string& text);

  // True if `node` is a map whose keys are all in `allowed` and unique; records errors
  // (with a did-you-mean for unknown keys) otherwise. `what` names the section.
  bool check_map(const YAML::Node& node, std::string_view what, Keys allowed);
  bool check_list(const YAML::Node& node, std::string_view what);

  // Value of `key` in a map, or nullopt when absent (never inserts; first of duplicates).
  static std::optional<YAML::Node> find(const YAML::Node& map, std::string_view key);
  // Like find(), but absence is an error at the map.
  std::optional<YAML::Node> require(const YAML::Node& map, std::string_view key);

  // Conversions of one node; `what` names it in messages. nullopt (and an error) if wrong.
  std::optional<int64_t> integer(const YAML::Node& node, std::string_view what, int64_t min,
                                 int64_t max);
  std::optional<double> number(const YAML::Node& node, std::string_view what, Range range);
  std::optional<bool> boolean(const YAML::Node& node, std::string_view what);
  std::optional<std::string> string(const YAML::Node& node, std::string_view what);
  std::optional<std::string> choice(const YAML::Node& node, std::string_view what, Keys allowed);
  std::optional<int64_t> tokens(const YAML::Node& node, std::string_view what, int64_t min);
  std::optional<std::vector<std::string>> strings(const YAML::Node& node, std::string_view what);

  // Optional map fields: when `key` is present and valid, overwrite `out`.
  void read(const YAML::Node& map, std::string_view key, int& out, int64_t min, int64_t max);
  void read(const YAML::Node& map, std::string_view key, int64_t& out, int64_t min, int64_t max);
  void read(const YAML::Node& map, std::string_view key, uint64_t& out);
  void read(const YAML::Node& map, std::string_view key, double& out, Range range);
  void read(const YAML::Node& map, std::string_view key, bool& out);
  void read(const YAML::Node& map, std::string_view key, std::string& out);
  void read_choice(const YAML::Node& map, std::string_view key, std::string& out, Keys allowed);
  void read_tokens(const YAML::Node& map, std::string_view key, int64_t& out, int64_t min);

 private:
  std::string got(const YAML::Node& node) const;  // "'two'", "a list", "a map", "nothing"

  struct Entry {
    int line, column;
    std::string text;
  };
  std::string file_;
  std::vector<Entry> errors_;
};

// The whole text of a spec file; InputError naming the path if it is not a readable file.
// `what` names the kind of file in the message ("sweep", "RunSpec").
std::string read_spec_file(const std::string& path, std::string_view what);

// Levenshtein distance; used for did-you-mean suggestions.
int edit_distance(std::string_view a, std::string_view b);
// The closest of `candidates` if it is close enough to be a plausible typo.
std::optional<std::string> closest(std::string_view word, Keys candidates);
std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& candidates);
std::string join(Keys words);
std::string join(const std::vector<std::string>& words);

}  // namespace plascale
