#include "sweeps/sections.h"

#include <glob.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

#include "sweeps/format.h"
#include "sweeps/sweep.h"

namespace plascale {

namespace fs = std::filesystem;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int64_t kMaxCount = 1'000'000'000;  // a sane upper bound for counts of steps, layers, ...

}  // namespace

void check_model(SpecReader& reader, const YAML::Node& at, const ModelConfig& model) {
  if (model.d_model <= 0 || model.heads <= 0) return;  // already reported
  if (model.d_model % model.heads != 0)
    reader.error(at, "heads = " + std::to_string(model.heads) + " does not divide d_model = " +
                         std::to_string(model.d_model) + "; allowed: heads such that d_model / heads is a whole head dimension");
}

// ---------------------------------------------------------------------------- data

namespace {

bool has_glob_characters(const std::string& pattern) {
  return pattern.find_first_of("*?[") != std::string::npos;
}

// llm.c token shard: 256 int32 header (magic 20240520, version 1, token count), uint16 tokens.
std::optional<std::string> shard_problem(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  int32_t header[256] = {};
  if (!file.read(reinterpret_cast<char*>(header), sizeof header))
    return "is shorter than an llm.c shard header (1024 bytes)";
  if (header[0] != 20240520) return "is not an llm.c token shard (magic " + std::to_string(header[0]) + ", expected 20240520)";
  if (header[1] != 1) return "has llm.c shard version " + std::to_string(header[1]) + "; allowed: 1";
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  uint64_t expected = 1024 + 2 * static_cast<uint64_t>(static_cast<uint32_t>(header[2]));
  if (ec || size != expected)
    return "has " + std::to_string(size) + " bytes but its header promises " + std::to_string(header[2]) +
           " tokens (" + std::to_string(expected) + " bytes)";
  return std::nullopt;
}

// Expands each pattern (relative to `base`) into existing files; errors at the pattern.
std::vector<std::string> read_files(SpecReader& reader, const YAML::Node& node, std::string_view what,
                                    const fs::path& base, SourceKind kind) {
  std::vector<std::string> files;
  // One pattern or a list of them. (Copies of YAML::Node alias the same node, so collect
  // the items rather than rebuilding a list.)
  std::vector<YAML::Node> items;
  if (node.IsScalar()) {
    items.push_back(node);
  } else if (reader.check_list(node, what)) {
    for (const auto& item : node) items.push_back(item);
  }
  for (const auto& item : items) {
    auto pattern = reader.string(item, what);
    if (!pattern) continue;
    std::string full = (base / *pattern).lexically_normal().string();
    std::vector<std::string> matches;
    if (has_glob_characters(*pattern)) {
      glob_t found{};
      int status = ::glob(full.c_str(), 0, nullptr, &found);
      if (status == 0)
        for (size_t i = 0; i < found.gl_pathc; ++i) matches.emplace_back(found.gl_pathv[i]);
      globfree(&found);
      if (matches.empty()) {
        reader.error(item, std::string(what) + ": no file matches " + double_quoted(*pattern) + " (looked for " + full +
                               "); allowed: a path or glob relative to the spec file that matches at least one file");
        continue;
      }
    } else {
      std::error_code ec;
      if (!fs::is_regular_file(full, ec)) {
        reader.error(item, std::string(what) + ": data file " + double_quoted(*pattern) + " not found (looked for " + full +
                               "); allowed: an existing file, relative to the spec file");
        continue;
      }
      matches.push_back(full);
    }
    for (const auto& match : matches) {
      if (kind == SourceKind::shards)
        if (auto problem = shard_problem(match)) {
          reader.error(item, std::string(what) + ": " + match + " " + *problem);
          continue;
        }
      files.push_back(match);
    }
  }
  return files;
}

std::optional<DataSource> read_source(SpecReader& reader, const YAML::Node& node, const fs::path& base, int vocab) {
  if (!reader.check_map(node, "data source", {"name", "kind", "language", "train", "val"})) return std::nullopt;
  DataSource source;
  if (auto name = reader.require(node, "name")) {
    if (auto value = reader.string(*name, "name")) source.name = *value;
  }
  auto kind_node = reader.require(node, "kind");
  std::string kind;
  if (kind_node) {
    if (auto value = reader.choice(*kind_node, "kind", {"synthetic", "shards", "text"})) kind = *value;
  }
  auto train = SpecReader::find(node, "train");
  auto val = SpecReader::find(node, "val");
  if (kind == "synthetic") {
    source.kind = SourceKind::synthetic;
    reader.read(node, "language", source.language, 0, 1'000'000);
    for (const auto& files : {train, val})
      if (files) reader.error(*files, "synthetic sources have no files; remove this key");
  } else if (kind == "shards" || kind == "text") {
    source.kind = kind == "shards" ? SourceKind::shards : SourceKind::text;
    if (auto language = SpecReader::find(node, "language"))
      reader.error(*language, "language is for synthetic sources; remove it or use kind: synthetic");
    if (source.kind == SourceKind::shards && vocab > 65536 && kind_node)
      reader.error(*kind_node, "shards hold uint16 tokens, so model vocab must be in [2, 65536]; got " + std::to_string(vocab));
    if (source.kind == SourceKind::text && vocab > 0 && vocab < 256 && kind_node)
      reader.error(*kind_node, "text is read as bytes, so model vocab must be >= 256; got " + std::to_string(vocab));
    if (auto files = reader.require(node, "train")) source.train_files = read_files(reader, *files, "train", base, source.kind);
    if (val) source.val_files = read_files(reader, *val, "val", base, source.kind);
  }
  return source;
}

}  // namespace

int64_t schedule_tokens(const Schedule& schedule) {
  if (schedule.kind != ScheduleKind::continual) return 0;
  __int128 total = static_cast<__int128>(schedule.tokens_per_task) * schedule.order.size() * schedule.cycles;
  return total > INT64_MAX ? INT64_MAX : static_cast<int64_t>(total);
}

void read_data(SpecReader& reader, const YAML::Node& data, const fs::path& base, int vocab,
               std::vector<DataSource>& sources, SyntheticConfig& synthetic, Schedule& schedule) {
  if (!reader.check_map(data, "data", {"synthetic", "sources", "schedule"})) return;

  bool any_synthetic = false;
  std::vector<std::string> names;
  if (auto list = reader.require(data, "sources"); list && reader.check_list(*list, "sources")) {
    if (list->size() == 0) reader.error(*list, "sources: the list is empty; define at least one data source");
    for (const auto& item : *list) {
      auto source = read_source(reader, item, base, vocab);
      if (!source) continue;
      if (source->name.empty()) continue;
      if (std::find(names.begin(), names.end(), source->name) != names.end()) {
        reader.error(item, "duplicate source name " + double_quoted(source->name) + "; names must be unique");
        continue;
      }
      any_synthetic |= source->kind == SourceKind::synthetic;
      names.push_back(source->name);
      sources.push_back(std::move(*source));
    }
  }

  if (auto node = SpecReader::find(data, "synthetic")) {
    if (reader.check_map(*node, "synthetic", {"seed", "order", "branching"})) {
      reader.read(*node, "seed", synthetic.seed);
      reader.read(*node, "order", synthetic.order, 1, 16);
      // A language uses half the vocabulary and draws `branching` distinct successors from it
      // (docs/synthetic-data.md).
      reader.read(*node, "branching", synthetic.branching, 2, 1 << 24);
      if (any_synthetic && vocab > 0 && vocab < 2 * synthetic.branching)
        reader.error(*node, "synthetic: branching " + std::to_string(synthetic.branching) + " needs model vocab >= " +
                                std::to_string(2 * synthetic.branching) + " (a language uses half the vocabulary); got " +
                                std::to_string(vocab));
      // The generator's successor table: (vocab/2) x 4^(order-1) states x branching entries.
      double entries = (vocab / 2) * std::pow(4.0, synthetic.order - 1) * synthetic.branching;
      if (any_synthetic && entries > static_cast<double>(1 << 27))
        reader.error(*node, "synthetic: order " + std::to_string(synthetic.order) + " with vocab " + std::to_string(vocab) +
                                " and branching " + std::to_string(synthetic.branching) +
                                " needs a successor table over the limit of 2^27 entries; lower order or branching");
    }
  } else if (any_synthetic) {
    reader.error(data, "missing required key \"synthetic\" (the generator's seed, order, branching) for synthetic sources");
  }

  auto schedule_node = reader.require(data, "schedule");
  if (!schedule_node || !reader.check_map(*schedule_node, "schedule",
                                          {"kind", "order", "tokens_per_task", "cycles", "reset_optimizer", "weights"}))
    return;
  const YAML::Node& node = *schedule_node;
  auto check_source = [&](const YAML::Node& at, const std::string& name) {
    if (std::find(names.begin(), names.end(), name) != names.end()) return true;
    std::string message = "unknown source " + double_quoted(name);
    if (auto suggestion = closest(name, names)) message += " (did you mean " + double_quoted(*suggestion) + "?)";
    reader.error(at, message + "; allowed: a source defined in data.sources: " + join(names));
    return false;
  };
  std::string kind;
  if (auto kind_node = reader.require(node, "kind"))
    if (auto value = reader.choice(*kind_node, "kind", {"continual", "stationary"})) kind = *value;
  const Keys continual_keys = {"order", "tokens_per_task", "cycles", "reset_optimizer"};
  if (kind == "continual") {
    schedule.kind = ScheduleKind::continual;
    if (auto weights = SpecReader::find(node, "weights"))
      reader.error(*weights, "weights are for kind: stationary; a continual schedule uses order");
    if (auto order = reader.require(node, "order"); order && reader.check_list(*order, "order")) {
      if (order->size() == 0) reader.error(*order, "order: the list is empty; name at least one source");
      for (const auto& item : *order)
        if (auto name = reader.string(item, "order"); name && check_source(item, *name))
          schedule.order.push_back(*name);
    }
    if (auto tokens = reader.require(node, "tokens_per_task"))
      if (auto value = reader.tokens(*tokens, "tokens_per_task", 1)) schedule.tokens_per_task = *value;
    reader.read(node, "cycles", schedule.cycles, 1, 1'000'000);
    reader.read(node, "reset_optimizer", schedule.reset_optimizer);
  } else if (kind == "stationary") {
    schedule.kind = ScheduleKind::stationary;
    for (auto key : continual_keys)
      if (auto extra = SpecReader::find(node, key))
        reader.error(*extra, std::string(key) + " is for kind: continual; a stationary schedule uses weights");
    auto weights = reader.require(node, "weights");
    if (weights && !weights->IsMap())
      reader.error(*weights, "weights: expected a map {source: weight}, got a " +
                                 std::string(weights->IsSequence() ? "list" : "scalar"));
    if (weights && weights->IsMap()) {
      if (weights->size() == 0) reader.error(*weights, "weights: the map is empty; give at least one source a weight");
      for (const auto& entry : *weights) {
        auto name = reader.string(entry.first, "weights");
        if (!name || !check_source(entry.first, *name)) continue;
        bool duplicate = std::any_of(schedule.weights.begin(), schedule.weights.end(),
                                     [&](const auto& weight) { return weight.first == *name; });
        if (duplicate) {
          reader.error(entry.first, "weights: duplicate source " + double_quoted(*name));
          continue;
        }
        if (auto weight = reader.number(entry.second, "weight", {0, kInf, true}))
          schedule.weights.emplace_back(*name, *weight);
      }
    }
  }
}

// --------------------------------------------------------------------------- probe

void read_probe(SpecReader& reader, const YAML::Node& node, const std::vector<DataSource>& sources,
                const Schedule& schedule, ProbeConfig& out) {
  if (!reader.check_map(node, "probe", {"enabled", "source", "steps", "eval_interval", "eval_sequences",
                                        "every_tokens", "every_tasks", "at_start", "scratch_baseline"}))
    return;
  reader.read(node, "enabled", out.enabled);
  reader.read(node, "steps", out.steps, 1, kMaxCount);
  reader.read(node, "eval_interval", out.eval_interval, 1, kMaxCount);
  reader.read(node, "eval_sequences", out.eval_sequences, 1, 1'000'000);
  reader.read_tokens(node, "every_tokens", out.every_tokens, 0);
  reader.read(node, "every_tasks", out.every_tasks, 0, kMaxCount);
  reader.read(node, "at_start", out.at_start);
  reader.read(node, "scratch_baseline", out.scratch_baseline);
  if (!out.enabled) {
    reader.read(node, "source", out.source);  // kept, unchecked, for switching it back on
    return;
  }

  if (out.eval_interval > out.steps)
    if (auto at = SpecReader::find(node, "eval_interval"))
      reader.error(*at, "eval_interval = " + std::to_string(out.eval_interval) + " exceeds steps = " +
                            std::to_string(out.steps) + "; allowed: 1 to steps");
  if (auto every_tasks = SpecReader::find(node, "every_tasks");
      every_tasks && out.every_tasks > 0 && schedule.kind == ScheduleKind::stationary)
    reader.error(*every_tasks, "every_tasks needs a continual schedule; a stationary one has no tasks: use every_tokens");

  auto source_node = reader.require(node, "source");
  if (!source_node) return;
  auto name = reader.string(*source_node, "source");
  if (!name) return;
  std::vector<std::string> names;
  for (const auto& source : sources) names.push_back(source.name);
  if (std::find(names.begin(), names.end(), *name) == names.end()) {
    std::string message = "probe source " + double_quoted(*name) + " is not defined";
    if (auto suggestion = closest(*name, names)) message += " (did you mean " + double_quoted(*suggestion) + "?)";
    reader.error(*source_node, message + "; allowed: a source in data.sources that the schedule does not train on");
    return;
  }
  bool trained_on = std::find(schedule.order.begin(), schedule.order.end(), *name) != schedule.order.end() ||
                    std::any_of(schedule.weights.begin(), schedule.weights.end(),
                                [&](const auto& weight) { return weight.first == *name; });
  if (trained_on) {
    reader.error(*source_node, "probe source " + double_quoted(*name) +
                                   " is in the training schedule; the probe must use a held-out source");
    return;
  }
  out.source = *name;
}

// ------------------------------------------------------------------------ training

void read_training(SpecReader& reader, const YAML::Node& node, int context, TrainingConfig& out) {
  if (!reader.check_map(node, "training", {"lr", "betas", "eps", "weight_decay", "warmup_fraction", "schedule",
                                              "min_lr_fraction", "batch_tokens", "grad_clip", "precision", "backend"})) return;
  if (auto betas = SpecReader::find(node, "betas")) {
    if (!betas->IsSequence() || betas->size() != 2) {
      reader.error(*betas, "betas: expected a list of two numbers [beta1, beta2], each in [0, 1)");
    } else {
      Range beta{0, 1, false, true};
      if (auto value = reader.number((*betas)[0], "beta1", beta)) out.beta1 = *value;
      if (auto value = reader.number((*betas)[1], "beta2", beta)) out.beta2 = *value;
    }
  }
  reader.read(node, "eps", out.eps, {0, 1, true, false});
  reader.read(node, "weight_decay", out.weight_decay, {0, 10});
  reader.read(node, "warmup_fraction", out.warmup_fraction, {0, 1});
  std::string schedule = out.schedule == LrSchedule::constant ? "constant" : "cosine";
  reader.read_choice(node, "schedule", schedule, {"constant", "cosine"});
  out.schedule = schedule == "constant" ? LrSchedule::constant : LrSchedule::cosine;
  reader.read(node, "min_lr_fraction", out.min_lr_fraction, {0, 1});
  reader.read(node, "grad_clip", out.grad_clip, {0, kInf});
  std::string precision = out.precision == Precision::fp32 ? "fp32" : "bf16";
  reader.read_choice(node, "precision", precision, {"fp32", "bf16"});
  out.precision = precision == "fp32" ? Precision::fp32 : Precision::bf16;
  std::string backend = out.backend == Backend::cpu ? "cpu" : "cuda";
  reader.read_choice(node, "backend", backend, {"cpu", "cuda"});
  out.backend = backend == "cpu" ? Backend::cpu : Backend::cuda;
  if (out.precision == Precision::bf16 && out.backend == Backend::cpu)
    if (auto at = SpecReader::find(node, "precision"))
      reader.error(*at, "precision bf16 needs backend: cuda; the CPU backend computes in fp32");

  if (auto batch = reader.require(node, "batch_tokens")) {
    if (auto value = reader.tokens(*batch, "batch_tokens", 1)) {
      if (context > 0 && *value % context != 0)
        reader.error(*batch, "batch_tokens = " + std::to_string(*value) + " is not a multiple of the context (" +
                                 std::to_string(context) + "); allowed: a positive multiple, e.g. " +
                                 std::to_string(std::max<int64_t>(1, *value / context) * context));
      else
        out.batch_tokens = *value;
    }
  }
}

// --------------------------------------------------------------------- diagnostics

void read_diagnostics(SpecReader& reader, const YAML::Node& node, int context, DiagnosticsConfig& out) {
  if (!reader.check_map(node, "diagnostics", {"every_tokens", "dormant_threshold", "entropy_query_range",
                                              "lazy_fraction", "collapsed_fraction", "sample_sequences"}))
    return;
  reader.read_tokens(node, "every_tokens", out.every_tokens, 0);
  reader.read(node, "dormant_threshold", out.dormant_threshold, {0, 1});
  reader.read(node, "lazy_fraction", out.lazy_fraction, {0, 1, true, true});
  reader.read(node, "collapsed_fraction", out.collapsed_fraction, {0, 1, true, true});
  if (out.collapsed_fraction >= out.lazy_fraction)
    if (auto at = SpecReader::find(node, "collapsed_fraction"))
      reader.error(*at, "collapsed_fraction must be below lazy_fraction (" + exact_number(out.lazy_fraction) + ")");
  reader.read(node, "sample_sequences", out.sample_sequences, 1, 1'000'000);
  if (auto range = SpecReader::find(node, "entropy_query_range")) {
    std::string allowed = "[begin, end) with 0 <= begin < end <= context (" + std::to_string(context) +
                          "); end 0 = the context length";
    if (!range->IsSequence() || range->size() != 2) {
      reader.error(*range, "entropy_query_range: expected two integers " + allowed);
      return;
    }
    auto begin = reader.integer((*range)[0], "entropy_query_range begin", 0, std::max(0, context - 1));
    auto end = reader.integer((*range)[1], "entropy_query_range end", 0, std::max(0, context));
    if (!begin || !end) return;
    if (*end != 0 && *end <= *begin) {
      reader.error(*range, "entropy_query_range: end must exceed begin; allowed: " + allowed);
      return;
    }
    out.entropy_query_begin = static_cast<int>(*begin);
    out.entropy_query_end = static_cast<int>(*end);
  }
}

// ----------------------------------------------------------------------- resources

// Slurm-style time: "MM", "HH:MM:SS", "D-HH:MM:SS" (or "D-HH", "D-HH:MM"); hours < 24 after a day.
bool valid_time_limit(const std::string& text) {
  std::string_view rest = text;
  auto number = [&](int max_digits, int limit) {
    size_t digits = 0;
    int value = 0;
    while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits])) && digits < 9) {
      value = value * 10 + (rest[digits] - '0');
      ++digits;
    }
    if (digits == 0 || static_cast<int>(digits) > max_digits || value > limit) return false;
    rest.remove_prefix(digits);
    return true;
  };
  auto eat = [&](char c) {
    if (rest.empty() || rest.front() != c) return false;
    rest.remove_prefix(1);
    return true;
  };
  if (text.find('-') != std::string::npos) {
    if (!number(4, 9999) || !eat('-') || !number(2, 23)) return false;
    for (int parts = 0; parts < 2 && !rest.empty(); ++parts)
      if (!eat(':') || !number(2, 59)) return false;
    return rest.empty();
  }
  if (!number(6, 999999)) return false;
  for (int parts = 0; parts < 2 && !rest.empty(); ++parts)
    if (!eat(':') || !number(2, 59)) return false;
  return rest.empty();
}

void read_time_limit(SpecReader& reader, const YAML::Node& node, std::string& out) {
  auto limit = SpecReader::find(node, "time_limit");
  if (!limit) return;
  auto text = reader.string(*limit, "time_limit");
  if (text && !valid_time_limit(*text))
    reader.error(*limit, "time_limit " + double_quoted(*text) +
                             " is not a Slurm time; allowed: \"HH:MM:SS\", \"D-HH:MM:SS\" or minutes \"MM\"");
  else if (text)
    out = *text;
}

void read_resources(SpecReader& reader, const YAML::Node& node, Keys allowed, Resources& out) {
  if (!reader.check_map(node, "resources", allowed)) return;
  reader.read(node, "gpus", out.gpus, 0, 1024);
  reader.read(node, "cpus", out.cpus, 0, 4096);
  read_time_limit(reader, node, out.time_limit);
}

// -------------------------------------------------------------------------- budget

void check_budget(SpecReader& reader, const YAML::Node& at, int64_t budget, const Schedule& schedule,
                  const TrainingConfig& training) {
  if (training.batch_tokens > 0 && budget < training.batch_tokens)
    reader.error(at, "budget " + format_token_count(budget) + " is less than one batch (" +
                         format_token_count(training.batch_tokens) + " tokens); allowed: >= batch_tokens");
  int64_t available = schedule_tokens(schedule);
  if (schedule.kind == ScheduleKind::continual && available > 0 && budget > available)
    reader.error(at, "budget " + format_token_count(budget) + " exceeds the schedule (" +
                         std::to_string(schedule.order.size()) + " tasks x " +
                         format_token_count(schedule.tokens_per_task) + " tokens x " + std::to_string(schedule.cycles) +
                         " cycles = " + format_token_count(available) + "); allowed: up to that, or raise cycles");
}

}  // namespace plascale
