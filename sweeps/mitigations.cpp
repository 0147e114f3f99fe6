// The mitigation schema: every strategy kind, its parameters, their types, ranges and
// defaults (REFERENCES.md section 2). The engine reads Strategy::params by these keys.

#include <algorithm>
#include <limits>

#include "sweeps/format.h"
#include "sweeps/sections.h"

namespace plascale {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

enum class ParamType { number, integer, tokens, boolean, word, words };

struct ParamSchema {
  std::string_view key;
  ParamType type;
  std::optional<ParamValue> fallback;  // nullopt = optional with no default (absent from params)
  Range range{-kInf, kInf};
  std::vector<std::string_view> words{};  // allowed words for word / words
};

struct StrategySchema {
  std::string_view kind;
  std::vector<ParamSchema> params;
};

const std::vector<StrategySchema>& schema() {
  static const std::vector<StrategySchema> kinds = {
      {"continual_backprop",
       {{"replacement_rate", ParamType::number, 1e-4, {0, 1}},
        {"decay", ParamType::number, 0.99, {0, 1, false, true}},
        {"maturity", ParamType::integer, 100.0, {0, 1e9}},
        {"bias_correction", ParamType::boolean, true},
        {"units", ParamType::words, std::vector<std::string>{"mlp"}, {}, {"mlp", "heads"}}}},
      {"redo",
       {{"threshold", ParamType::number, 0.025, {0, 1, true, false}},
        {"period_steps", ParamType::integer, 1000.0, {1, 1e9}}}},
      {"shrink_perturb",
       {{"shrink", ParamType::number, 0.999, {0, 1, true, false}},
        {"sigma", ParamType::number, 1e-5, {0, 1}},
        {"period_steps", ParamType::integer, 1.0, {1, 1e9}},
        {"groups", ParamType::words, std::vector<std::string>{"all"}, {},
         {"all", "attention", "mlp", "layernorm", "embeddings"}}}},
      {"l2_init", {{"strength", ParamType::number, 1e-4, {0, kInf}}}},
      {"weight_decay",
       {{"value", ParamType::number, std::nullopt, {0, 10}},
        {"exclude_layernorm", ParamType::boolean, true}}},
      {"norm_limit",
       {{"max_layernorm_gain", ParamType::number, std::nullopt, {0, kInf, true, false}},
        {"max_weight_norm", ParamType::number, std::nullopt, {0, kInf, true, false}},
        {"per_tensor", ParamType::boolean, true}}},
      {"attention_noise",
       {{"std", ParamType::number, 0.1, {0, 100}},
        {"schedule", ParamType::word, std::string("constant"), {}, {"constant", "linear_decay"}},
        {"decay_tokens", ParamType::tokens, 0.0, {0, 9.2e18}}}},
  };
  return kinds;
}

std::string param_keys(const StrategySchema& kind) {
  std::string keys;
  for (const auto& param : kind.params) keys += (keys.empty() ? "" : ", ") + std::string(param.key);
  return keys;
}

std::optional<ParamValue> read_param(SpecReader& reader, const YAML::Node& node, const ParamSchema& param) {
  switch (param.type) {
    case ParamType::number:
      if (auto value = reader.number(node, param.key, param.range)) return *value;
      return std::nullopt;
    case ParamType::integer:
      if (auto value = reader.integer(node, param.key, static_cast<int64_t>(param.range.min),
                                      static_cast<int64_t>(param.range.max)))
        return static_cast<double>(*value);
      return std::nullopt;
    case ParamType::tokens:
      if (auto value = reader.tokens(node, param.key, static_cast<int64_t>(param.range.min)))
        return static_cast<double>(*value);
      return std::nullopt;
    case ParamType::boolean:
      if (auto value = reader.boolean(node, param.key)) return *value;
      return std::nullopt;
    case ParamType::word: {
      std::vector<std::string> allowed(param.words.begin(), param.words.end());
      if (node.IsScalar() && std::find(allowed.begin(), allowed.end(), node.Scalar()) != allowed.end())
        return node.Scalar();
      reader.error(node, std::string(param.key) + ": got " + (node.IsScalar() ? double_quoted(node.Scalar()) : "a non-word") +
                             "; allowed: " + join(allowed));
      return std::nullopt;
    }
    case ParamType::words: {
      auto words = reader.strings(node, param.key);
      if (!words) return std::nullopt;
      std::vector<std::string> allowed(param.words.begin(), param.words.end());
      // Kept in schema order, so [heads, mlp] and [mlp, heads] are the same run.
      std::vector<std::string> ordered;
      for (const auto& word : allowed)
        if (std::count(words->begin(), words->end(), word) > 0) ordered.push_back(word);
      bool bad = words->empty() || std::any_of(words->begin(), words->end(), [&](const std::string& w) {
                   return std::find(allowed.begin(), allowed.end(), w) == allowed.end();
                 });
      bad |= ordered.size() != words->size();  // repeated words
      bad |= std::count(ordered.begin(), ordered.end(), "all") > 0 && ordered.size() > 1;
      if (bad) {
        reader.error(node, std::string(param.key) + ": expected a non-empty list of distinct words from [" +
                               join(allowed) + "]" + (allowed.front() == "all" ? " (\"all\" alone or a subset of the others)" : ""));
        return std::nullopt;
      }
      return ordered;
    }
  }
  return std::nullopt;
}

std::optional<Strategy> read_strategy(SpecReader& reader, const StrategySchema& kind, const YAML::Node& at,
                                      const YAML::Node* params) {
  Strategy strategy{std::string(kind.kind), {}};
  std::vector<std::string_view> keys;
  for (const auto& param : kind.params) keys.push_back(param.key);
  bool has_params = params && !params->IsNull();
  if (has_params) {
    if (!params->IsMap()) {
      reader.error(*params, std::string(kind.kind) + ": expected a map of parameters (" + param_keys(kind) +
                                ") or nothing for the defaults");
      return std::nullopt;
    }
    for (const auto& entry : *params) {
      std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "";
      if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
      std::vector<std::string> candidates(keys.begin(), keys.end());
      std::string message = std::string(kind.kind) + ": unknown parameter " + double_quoted(key);
      if (auto suggestion = closest(key, candidates)) message += " (did you mean " + double_quoted(*suggestion) + "?)";
      reader.error(entry.first, message + "; allowed: " + param_keys(kind));
    }
  }
  for (const auto& param : kind.params) {
    std::optional<YAML::Node> node = has_params ? SpecReader::find(*params, param.key) : std::nullopt;
    if (node) {
      if (auto value = read_param(reader, *node, param)) strategy.params[std::string(param.key)] = *value;
    } else if (param.fallback) {
      strategy.params[std::string(param.key)] = *param.fallback;
    }
  }

  auto has = [&](const char* key) { return strategy.params.count(key) > 0; };
  if (kind.kind == "weight_decay" && !has("value"))
    reader.error(has_params ? *params : at, "weight_decay: missing required parameter \"value\" (decoupled weight decay, in [0, 10])");
  if (kind.kind == "norm_limit" && !has("max_layernorm_gain") && !has("max_weight_norm"))
    reader.error(has_params ? *params : at, "norm_limit: give max_layernorm_gain, max_weight_norm or both (positive numbers)");
  if (kind.kind == "attention_noise" && has("schedule") && has("decay_tokens") &&
      std::get<std::string>(strategy.params.at("schedule")) == "linear_decay" &&
      std::get<double>(strategy.params.at("decay_tokens")) <= 0)
    reader.error(has_params ? *params : at, "attention_noise: schedule linear_decay needs decay_tokens > 0");
  return strategy;
}

const StrategySchema* find_kind(std::string_view kind) {
  for (const auto& candidate : schema())
    if (candidate.kind == kind) return &candidate;
  return nullptr;
}

}  // namespace

std::vector<std::string> strategy_kinds() {
  std::vector<std::string> kinds;
  for (const auto& kind : schema()) kinds.emplace_back(kind.kind);
  return kinds;
}

std::optional<Mitigation> read_mitigation(SpecReader& reader, const YAML::Node& entry) {
  std::vector<std::string> kinds = strategy_kinds();
  std::string allowed = "\"none\", a strategy (" + join(kinds) + ") or a map {name: ..., <strategy>: {parameters}}";
  if (entry.IsScalar()) {
    const std::string& word = entry.Scalar();
    if (word == "none") return Mitigation{"none", {}};
    if (const auto* kind = find_kind(word)) {
      auto strategy = read_strategy(reader, *kind, entry, nullptr);
      if (!strategy) return std::nullopt;
      return Mitigation{word, {*strategy}};
    }
    std::vector<std::string> words = kinds;
    words.push_back("none");
    std::string message = "unknown mitigation " + double_quoted(word);
    if (auto suggestion = closest(word, words)) message += " (did you mean " + double_quoted(*suggestion) + "?)";
    reader.error(entry, message + "; allowed: " + allowed);
    return std::nullopt;
  }
  if (!entry.IsMap()) {
    reader.error(entry, "mitigation: expected " + allowed);
    return std::nullopt;
  }
  Mitigation mitigation;
  bool ok = true;
  std::vector<std::string> seen;
  for (const auto& item : entry) {
    std::string key = item.first.IsScalar() ? item.first.Scalar() : "";
    if (key == "name") continue;
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      reader.error(item.first, "mitigation: strategy " + double_quoted(key) + " given twice");
      ok = false;
      continue;
    }
    seen.push_back(key);
    const auto* kind = find_kind(key);
    if (!kind) {
      std::vector<std::string> keys = kinds;
      keys.insert(keys.begin(), "name");
      std::string message = "mitigation: unknown key " + double_quoted(key);
      if (auto suggestion = closest(key, keys)) message += " (did you mean " + double_quoted(*suggestion) + "?)";
      reader.error(item.first, message + "; allowed: name, " + join(kinds));
      ok = false;
      continue;
    }
    if (auto strategy = read_strategy(reader, *kind, item.first, &item.second))
      mitigation.strategies.push_back(std::move(*strategy));
    else
      ok = false;
  }
  std::sort(mitigation.strategies.begin(), mitigation.strategies.end(),
            [](const Strategy& a, const Strategy& b) { return a.kind < b.kind; });
  if (auto name = SpecReader::find(entry, "name")) {
    if (auto value = reader.string(*name, "name")) mitigation.name = *value;
    else ok = false;
  } else {
    for (const auto& strategy : mitigation.strategies)
      mitigation.name += (mitigation.name.empty() ? "" : "+") + strategy.kind;
    if (mitigation.name.empty()) mitigation.name = "none";
  }
  if (!ok) return std::nullopt;
  return mitigation;
}

}  // namespace plascale
