#include "sweeps/spec_reader.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "sweeps/errors.h"
#include "sweeps/format.h"

namespace plascale {

bool Range::contains(double value) const {
  if (min_open ? value <= min : value < min) return false;
  if (max_open ? value >= max : value > max) return false;
  return true;
}

std::string Range::describe() const {
  auto bound = [](double v) { return std::isinf(v) ? std::string(v < 0 ? "-inf" : "inf") : exact_number(v); };
  std::string text(1, min_open ? '(' : '[');
  text += bound(min) + ", " + bound(max);
  text += max_open ? ')' : ']';
  return text;
}

void SpecReader::error(const YAML::Mark& mark, const std::string& message) {
  // yaml-cpp marks are 0-based; a null mark (-1) means "position unknown" and sorts first.
  errors_.push_back({mark.line + 1, mark.column + 1, message});
}

void SpecReader::throw_if_errors() {
  if (errors_.empty()) return;
  std::stable_sort(errors_.begin(), errors_.end(), [](const Entry& a, const Entry& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  std::vector<std::string> lines;
  for (const auto& entry : errors_) {
    if (entry.line <= 0)
      lines.push_back(file_ + ": " + entry.text);
    else
      lines.push_back(file_ + ":" + std::to_string(entry.line) + ":" + std::to_string(entry.column) +
                      ": " + entry.text);
  }
  // Identical messages at one place (e.g. a node reached twice through an alias) say nothing new.
  lines.erase(std::unique(lines.begin(), lines.end()), lines.end());
  errors_.clear();
  throw SpecError(std::move(lines));
}

YAML::Node SpecReader::load(const std::string& text) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    error(e.mark, "YAML syntax error: " + e.msg);
  }
  return YAML::Node();
}

std::string SpecReader::got(const YAML::Node& node) const {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a map";
  std::string text = node.Scalar();
  if (text.size() > 40) text = text.substr(0, 37) + "...";
  return double_quoted(text);
}

bool SpecReader::check_list(const YAML::Node& node, std::string_view what) {
  if (node.IsSequence()) return true;
  error(node, std::string(what) + ": expected a list, got " + got(node));
  return false;
}

bool SpecReader::check_map(const YAML::Node& node, std::string_view what, Keys allowed) {
  if (!node.IsMap()) {
    error(node, std::string(what) + ": expected a map with keys " + join(allowed) + ", got " + got(node));
    return false;
  }
  std::set<std::string> seen;
  for (const auto& entry : node) {
    const YAML::Node& key = entry.first;
    if (!key.IsScalar()) {
      error(key, std::string(what) + ": keys must be plain words, got " + got(key));
      continue;
    }
    const std::string& name = key.Scalar();
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string message = std::string(what) + ": unknown key " + double_quoted(name);
      if (auto suggestion = closest(name, allowed)) message += " (did you mean " + double_quoted(*suggestion) + "?)";
      error(key, message + "; allowed: " + join(allowed));
    } else if (!seen.insert(name).second) {
      error(key, std::string(what) + ": duplicate key " + double_quoted(name) + "; give each key once");
    }
  }
  return true;
}

std::optional<YAML::Node> SpecReader::find(const YAML::Node& map, std::string_view key) {
  if (!map.IsMap()) return std::nullopt;
  for (const auto& entry : map)
    if (entry.first.IsScalar() && entry.first.Scalar() == key) return entry.second;
  return std::nullopt;
}

std::optional<YAML::Node> SpecReader::require(const YAML::Node& map, std::string_view key) {
  auto value = find(map, key);
  if (!value && map.IsMap()) error(map, "missing required key " + double_quoted(key));
  return value;
}

namespace {

std::string_view without_plus(std::string_view text) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  return text;
}

}  // namespace

std::optional<int64_t> SpecReader::integer(const YAML::Node& node, std::string_view what,
                                           int64_t min, int64_t max) {
  std::string allowed = "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  if (!node.IsScalar()) {
    error(node, std::string(what) + ": expected " + allowed + ", got " + got(node));
    return std::nullopt;
  }
  std::string_view text = without_plus(node.Scalar());
  bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  // Whole numbers in e-notation (1e3) are integers too; suffixes (50M) are for token counts.
  std::optional<int64_t> value;
  if (!text.empty() && std::isdigit(static_cast<unsigned char>(text.back())))
    value = parse_token_count(text);
  if (!value) {
    error(node, std::string(what) + ": expected " + allowed + ", got " + got(node));
    return std::nullopt;
  }
  int64_t signed_value = negative ? -*value : *value;
  if (signed_value < min || signed_value > max) {
    error(node, std::string(what) + " = " + node.Scalar() + " is out of range; allowed: " + allowed);
    return std::nullopt;
  }
  return signed_value;
}

std::optional<double> SpecReader::number(const YAML::Node& node, std::string_view what, Range range) {
  std::string allowed = "a number in " + range.describe();
  double value = 0;
  bool parsed = false;
  if (node.IsScalar()) {
    std::string_view text = without_plus(node.Scalar());
    auto [end, status] = std::from_chars(text.data(), text.data() + text.size(), value);
    parsed = status == std::errc() && end == text.data() + text.size() && std::isfinite(value);
  }
  if (!parsed) {
    error(node, std::string(what) + ": expected " + allowed + ", got " + got(node));
    return std::nullopt;
  }
  if (!range.contains(value)) {
    error(node, std::string(what) + " = " + node.Scalar() + " is out of range; allowed: " + allowed);
    return std::nullopt;
  }
  return value;
}

std::optional<bool> SpecReader::boolean(const YAML::Node& node, std::string_view what) {
  if (node.IsScalar()) {
    const std::string& text = node.Scalar();
    for (const char* yes : {"true", "True", "TRUE", "yes", "on"}) if (text == yes) return true;
    for (const char* no : {"false", "False", "FALSE", "no", "off"}) if (text == no) return false;
  }
  error(node, std::string(what) + ": expected true or false, got " + got(node));
  return std::nullopt;
}

std::optional<std::string> SpecReader::string(const YAML::Node& node, std::string_view what) {
  if (node.IsScalar() && !node.Scalar().empty()) return node.Scalar();
  error(node, std::string(what) + ": expected a non-empty string, got " + got(node));
  return std::nullopt;
}

std::optional<std::string> SpecReader::choice(const YAML::Node& node, std::string_view what,
                                              Keys allowed) {
  if (node.IsScalar() && std::find(allowed.begin(), allowed.end(), node.Scalar()) != allowed.end())
    return node.Scalar();
  std::string message = std::string(what) + ": got " + got(node);
  if (node.IsScalar())
    if (auto suggestion = closest(node.Scalar(), allowed)) message += " (did you mean " + double_quoted(*suggestion) + "?)";
  error(node, message + "; allowed: " + join(allowed));
  return std::nullopt;
}

std::optional<int64_t> SpecReader::tokens(const YAML::Node& node, std::string_view what, int64_t min) {
  std::optional<int64_t> value;
  if (node.IsScalar()) value = parse_token_count(node.Scalar());
  std::string allowed = "a whole token count >= " + format_token_count(min) +
                        " (an integer, 5e6, or with a suffix K, M, B, T: \"50M\")";
  if (!value) {
    error(node, std::string(what) + ": expected " + allowed + ", got " + got(node));
    return std::nullopt;
  }
  if (*value < min) {
    error(node, std::string(what) + " = " + node.Scalar() + " is out of range; allowed: " + allowed);
    return std::nullopt;
  }
  return value;
}

std::optional<std::vector<std::string>> SpecReader::strings(const YAML::Node& node, std::string_view what) {
  if (node.IsScalar()) {
    if (auto one = string(node, what)) return std::vector<std::string>{*one};
    return std::nullopt;
  }
  if (!check_list(node, what)) return std::nullopt;
  std::vector<std::string> values;
  bool ok = true;
  for (const auto& item : node) {
    if (auto value = string(item, what)) values.push_back(*value);
    else ok = false;
  }
  if (!ok) return std::nullopt;
  return values;
}

void SpecReader::read(const YAML::Node& map, std::string_view key, int& out, int64_t min, int64_t max) {
  if (auto node = find(map, key))
    if (auto value = integer(*node, key, min, max)) out = static_cast<int>(*value);
}

void SpecReader::read(const YAML::Node& map, std::string_view key, int64_t& out, int64_t min, int64_t max) {
  if (auto node = find(map, key))
    if (auto value = integer(*node, key, min, max)) out = *value;
}

void SpecReader::read(const YAML::Node& map, std::string_view key, uint64_t& out) {
  if (auto node = find(map, key))
    if (auto value = integer(*node, key, 0, INT64_MAX)) out = static_cast<uint64_t>(*value);
}

void SpecReader::read(const YAML::Node& map, std::string_view key, double& out, Range range) {
  if (auto node = find(map, key))
    if (auto value = number(*node, key, range)) out = *value;
}

void SpecReader::read(const YAML::Node& map, std::string_view key, bool& out) {
  if (auto node = find(map, key))
    if (auto value = boolean(*node, key)) out = *value;
}

void SpecReader::read(const YAML::Node& map, std::string_view key, std::string& out) {
  if (auto node = find(map, key))
    if (auto value = string(*node, key)) out = *value;
}

void SpecReader::read_choice(const YAML::Node& map, std::string_view key, std::string& out, Keys allowed) {
  if (auto node = find(map, key))
    if (auto value = choice(*node, key, allowed)) out = *value;
}

void SpecReader::read_tokens(const YAML::Node& map, std::string_view key, int64_t& out, int64_t min) {
  if (auto node = find(map, key))
    if (auto value = tokens(*node, key, min)) out = *value;
}

std::string read_spec_file(const std::string& path, std::string_view what) {
  std::error_code ec;
  std::ifstream file(path, std::ios::binary);
  if (!std::filesystem::is_regular_file(path, ec) || !file)
    throw InputError(path + ": cannot read the " + std::string(what) + " file (no such file, or not a readable file)");
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

int edit_distance(std::string_view a, std::string_view b) {
  std::vector<int> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    int diagonal = row[0];
    row[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      int above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

namespace {

template <typename Words>
std::optional<std::string> closest_of(std::string_view word, const Words& candidates) {
  if (word.size() > 200) return std::nullopt;
  std::optional<std::string> best;
  int best_distance = std::max<int>(2, static_cast<int>(word.size()) / 3) + 1;
  for (const auto& candidate : candidates) {
    int distance = edit_distance(word, candidate);
    if (distance < best_distance && distance < static_cast<int>(word.size())) {
      best_distance = distance;
      best = std::string(candidate);
    }
  }
  return best;
}

template <typename Words>
std::string join_words(const Words& words) {
  std::string text;
  for (const auto& word : words) text += (text.empty() ? "" : ", ") + std::string(word);
  return text;
}

}  // namespace

std::optional<std::string> closest(std::string_view word, Keys candidates) { return closest_of(word, candidates); }
std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& candidates) {
  return closest_of(word, candidates);
}
std::string join(Keys words) { return join_words(words); }
std::string join(const std::vector<std::string>& words) { return join_words(words); }

}  // namespace plascale
