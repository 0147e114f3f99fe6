// parse_sweep(): the sweep's own keys (model and sizes, the LR rule, the axes, the grid);
// the sections a RunSpec shares (data, probe, training, ...) are read by sections.cpp.

#include <algorithm>
#include <cstdio>
#include <limits>

#include "sweeps/errors.h"
#include "sweeps/expand.h"
#include "sweeps/format.h"
#include "sweeps/sections.h"
#include "sweeps/sweep.h"

namespace plascale {

namespace fs = std::filesystem;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct SharedModel {
  int context = 0;  // 0 = missing or invalid (already reported)
  int vocab = 0;
};

// Shared model keys, then each size; sizes inherit context, vocab and the MLP ratio.
SharedModel read_sizes(SpecReader& reader, const YAML::Node& root, const Resources& defaults, Sweep& sweep) {
  int context = 0, vocab = 0, mlp_ratio = 4, head_dim = 0;
  if (auto model = reader.require(root, "model");
      model && reader.check_map(*model, "model", {"family", "context", "vocab", "mlp_ratio", "head_dim"})) {
    std::string family = "gpt";  // the only family so far; checked so that a typo is caught
    reader.read_choice(*model, "family", family, {"gpt"});
    if (auto node = reader.require(*model, "context"))
      if (auto value = reader.integer(*node, "context", 2, 1 << 20)) context = static_cast<int>(*value);
    if (auto node = reader.require(*model, "vocab"))
      if (auto value = reader.integer(*node, "vocab", 2, 1 << 24)) vocab = static_cast<int>(*value);
    reader.read(*model, "mlp_ratio", mlp_ratio, 1, 64);
    reader.read(*model, "head_dim", head_dim, 1, 65536);
  }

  auto sizes = reader.require(root, "sizes");
  if (!sizes || !reader.check_list(*sizes, "sizes")) return {context, vocab};
  if (sizes->size() == 0) reader.error(*sizes, "sizes: the list is empty; define at least one model size");
  for (const auto& node : *sizes) {
    if (!reader.check_map(node, "size", {"name", "layers", "d_model", "heads", "mlp_hidden", "lr", "resources"}))
      continue;
    SweepSize size;
    ModelConfig& model = size.model;
    model.context = context;
    model.vocab = vocab;
    if (auto name = reader.require(node, "name"))
      if (auto value = reader.string(*name, "name")) model.size_name = *value;
    if (auto layers = reader.require(node, "layers"))
      if (auto value = reader.integer(*layers, "layers", 1, 1000)) model.layers = static_cast<int>(*value);
    if (auto d_model = reader.require(node, "d_model"))
      if (auto value = reader.integer(*d_model, "d_model", 1, 65536)) model.d_model = static_cast<int>(*value);
    auto heads = SpecReader::find(node, "heads");
    if (heads) {
      if (auto value = reader.integer(*heads, "heads", 1, 4096)) model.heads = static_cast<int>(*value);
      if (head_dim > 0 && model.heads > 0 && model.d_model > 0 && model.d_model != model.heads * head_dim)
        reader.error(*heads, "heads = " + std::to_string(model.heads) + " with d_model = " + std::to_string(model.d_model) +
                                 " gives head dimension " + std::to_string(model.d_model / model.heads) +
                                 ", but model.head_dim = " + std::to_string(head_dim) + "; allowed: heads = d_model / head_dim");
    } else if (head_dim > 0) {
      if (model.d_model % head_dim != 0)
        reader.error(node, "d_model = " + std::to_string(model.d_model) + " is not a multiple of model.head_dim = " +
                               std::to_string(head_dim) + "; give heads explicitly or change d_model");
      else
        model.heads = model.d_model / head_dim;
    } else {
      reader.error(node, "missing required key \"heads\" (or set model.head_dim to derive it)");
    }
    model.mlp_hidden = mlp_ratio * model.d_model;
    reader.read(node, "mlp_hidden", model.mlp_hidden, 1, 1 << 20);
    check_model(reader, heads ? *heads : YAML::Node(node), model);
    if (auto lr = SpecReader::find(node, "lr"))
      if (auto value = reader.number(*lr, "lr", {0, 10, true, false})) size.lr = *value;
    size.resources = defaults;
    if (auto resources = SpecReader::find(node, "resources"))
      read_resources(reader, *resources, {"gpus", "cpus", "time_limit"}, size.resources);
    if (model.size_name.empty()) continue;
    for (const auto& other : sweep.sizes) {
      if (other.model.size_name == model.size_name) {
        reader.error(node, "duplicate size name " + double_quoted(model.size_name) + "; names must be unique");
        model.size_name.clear();
        break;
      }
      if (other.model == ModelConfig{other.model.size_name, model.layers, model.d_model, model.heads, model.context,
                                     model.vocab, model.mlp_hidden}) {
        reader.error(node, "size " + double_quoted(model.size_name) + " is the same model as size " +
                               double_quoted(other.model.size_name) + "; every size must differ in shape");
        model.size_name.clear();
        break;
      }
    }
    if (!model.size_name.empty()) sweep.sizes.push_back(std::move(size));
  }
  return {context, vocab};
}

void read_lr(SpecReader& reader, const YAML::Node& training, LrRule& rule) {
  auto node = SpecReader::find(training, "lr");
  if (!node) return;
  if (!node->IsMap()) {
    if (auto value = reader.number(*node, "lr", {0, 10, true, false})) rule.fixed = *value;
    return;
  }
  std::string allowed = "a number, or {power_law: {anchors: [[P, lr], [P, lr], ...]}} with P non-embedding parameters";
  if (!reader.check_map(*node, "lr", {"power_law"})) return;
  auto law = reader.require(*node, "power_law");
  if (!law || !reader.check_map(*law, "power_law", {"anchors"})) return;
  auto anchors = reader.require(*law, "anchors");
  if (!anchors || !reader.check_list(*anchors, "anchors")) return;
  for (const auto& anchor : *anchors) {
    if (!anchor.IsSequence() || anchor.size() != 2) {
      reader.error(anchor, "anchors: expected a pair [P, lr]; allowed: " + allowed);
      continue;
    }
    auto params = reader.number(anchor[0], "anchor P", {1, kInf});
    auto lr = reader.number(anchor[1], "anchor lr", {0, 10, true, false});
    if (params && lr) rule.anchors.emplace_back(*params, *lr);
  }
  std::sort(rule.anchors.begin(), rule.anchors.end());
  bool distinct = std::adjacent_find(rule.anchors.begin(), rule.anchors.end(), [](const auto& a, const auto& b) {
                    return a.first == b.first;
                  }) == rule.anchors.end();
  if (rule.anchors.size() < 2 || !distinct)
    reader.error(*anchors, "anchors: need at least two anchors with different P; allowed: " + allowed);
}

// `budgets` is read after the schedule and training, which bound it.
void read_budgets(SpecReader& reader, const YAML::Node& root, Sweep& sweep) {
  auto list = SpecReader::find(root, "budgets");
  std::vector<std::pair<YAML::Node, std::optional<int64_t>>> budgets;  // nullopt = full
  if (!list) {
    budgets.emplace_back(root, std::nullopt);
  } else if (reader.check_list(*list, "budgets")) {
    if (list->size() == 0) reader.error(*list, "budgets: the list is empty; give token counts or \"full\"");
    for (const auto& item : *list) {
      if (item.IsScalar() && item.Scalar() == "full") budgets.emplace_back(item, std::nullopt);
      else if (auto value = reader.tokens(item, "budget", 1)) budgets.emplace_back(item, *value);
    }
  }
  for (const auto& [node, value] : budgets) {
    int64_t tokens = value ? *value : schedule_tokens(sweep.schedule);
    if (!value && sweep.schedule.kind == ScheduleKind::stationary) {
      reader.error(node, "budget \"full\" (the default) needs a continual schedule; give token counts in budgets");
      continue;
    }
    if (tokens <= 0) continue;  // schedule already reported
    check_budget(reader, node, tokens, sweep.schedule, sweep.training);
    if (std::find(sweep.budgets.begin(), sweep.budgets.end(), tokens) != sweep.budgets.end()) {
      reader.error(node, "duplicate budget " + format_token_count(tokens) + "; give each budget once");
      continue;
    }
    sweep.budgets.push_back(tokens);
  }
}

void read_mitigations(SpecReader& reader, const YAML::Node& root, Sweep& sweep) {
  auto list = SpecReader::find(root, "mitigations");
  if (!list) {
    sweep.mitigations.push_back({"none", {}});
    return;
  }
  if (!reader.check_list(*list, "mitigations")) return;
  if (list->size() == 0) reader.error(*list, "mitigations: the list is empty; use [none] for no mitigation");
  for (const auto& item : *list) {
    auto mitigation = read_mitigation(reader, item);
    if (!mitigation) continue;
    bool clash = false;
    for (const auto& other : sweep.mitigations) {
      if (other.name == mitigation->name) {
        reader.error(item, "duplicate mitigation name " + double_quoted(mitigation->name) + "; names must be unique");
        clash = true;
      } else if (other.strategies == mitigation->strategies) {
        reader.error(item, "mitigation " + double_quoted(mitigation->name) + " resolves to the same strategies as " +
                               double_quoted(other.name) + " (they would be the same run); remove one");
        clash = true;
      }
      if (clash) break;
    }
    if (!clash) sweep.mitigations.push_back(std::move(*mitigation));
  }
}

void read_seeds(SpecReader& reader, const YAML::Node& root, Sweep& sweep) {
  auto list = SpecReader::find(root, "seeds");
  if (!list) {
    sweep.seeds.push_back(0);
    return;
  }
  if (!reader.check_list(*list, "seeds")) return;
  if (list->size() == 0) reader.error(*list, "seeds: the list is empty; give at least one seed");
  for (const auto& item : *list) {
    auto seed = reader.integer(item, "seed", 0, std::numeric_limits<int64_t>::max());
    if (!seed) continue;
    if (std::find(sweep.seeds.begin(), sweep.seeds.end(), static_cast<uint64_t>(*seed)) != sweep.seeds.end())
      reader.error(item, "duplicate seed " + std::to_string(*seed) + "; give each seed once");
    else
      sweep.seeds.push_back(static_cast<uint64_t>(*seed));
  }
}

std::optional<GridPoint> read_grid_point(SpecReader& reader, const YAML::Node& node, const Sweep& sweep, bool include) {
  if (!reader.check_map(node, include ? "include" : "exclude", {"size", "budget", "mitigation", "seed"}))
    return std::nullopt;
  GridPoint point;
  bool ok = true;
  auto name_in = [&](const char* key, const std::vector<std::string>& names) -> std::optional<std::string> {
    auto value_node = SpecReader::find(node, key);
    if (!value_node) return std::nullopt;
    auto value = reader.string(*value_node, key);
    if (!value) {
      ok = false;
      return std::nullopt;
    }
    if (std::find(names.begin(), names.end(), *value) == names.end()) {
      std::string message = std::string(key) + " " + double_quoted(*value) + " is not in the sweep";
      if (auto suggestion = closest(*value, names)) message += " (did you mean " + double_quoted(*suggestion) + "?)";
      reader.error(*value_node, message + "; allowed: " + join(names));
      ok = false;
    }
    return value;
  };
  std::vector<std::string> sizes, mitigations;
  for (const auto& size : sweep.sizes) sizes.push_back(size.model.size_name);
  for (const auto& mitigation : sweep.mitigations) mitigations.push_back(mitigation.name);
  point.size = name_in("size", sizes);
  point.mitigation = name_in("mitigation", mitigations);
  if (auto budget = SpecReader::find(node, "budget")) {
    if (budget->IsScalar() && budget->Scalar() == "full") {
      if (sweep.schedule.kind == ScheduleKind::continual) point.budget = schedule_tokens(sweep.schedule);
      else reader.error(*budget, "budget \"full\" needs a continual schedule; give a token count");
    } else if (auto value = reader.tokens(*budget, "budget", 1)) {
      point.budget = *value;
    }
    if (!point.budget) ok = false;
    else if (include) check_budget(reader, *budget, *point.budget, sweep.schedule, sweep.training);
  }
  if (auto seed = SpecReader::find(node, "seed")) {
    if (auto value = reader.integer(*seed, "seed", 0, std::numeric_limits<int64_t>::max())) point.seed = *value;
    else ok = false;
  }
  if (ok && include && (!point.size || !point.budget || !point.mitigation || !point.seed)) {
    reader.error(node, "include: give all of size, budget, mitigation and seed (an included run is one grid point)");
    ok = false;
  }
  if (ok && !include && !point.size && !point.budget && !point.mitigation && !point.seed) {
    reader.error(node, "exclude: an empty entry would exclude every run; give size, budget, mitigation and/or seed");
    ok = false;
  }
  if (!ok) return std::nullopt;
  return point;
}

void read_grid(SpecReader& reader, const YAML::Node& root, Sweep& sweep) {
  auto grid = SpecReader::find(root, "grid");
  if (!grid || !reader.check_map(*grid, "grid", {"include", "exclude"})) return;
  for (const char* key : {"exclude", "include"}) {
    auto list = SpecReader::find(*grid, key);
    if (!list || !reader.check_list(*list, key)) continue;
    bool include = std::string_view(key) == "include";
    for (const auto& item : *list)
      if (auto point = read_grid_point(reader, item, sweep, include))
        (include ? sweep.include : sweep.exclude).push_back(*point);
  }
}

// `slurm:`: types and ranges here; slurm/ checks that each value is safe in an #SBATCH line.
void read_slurm(SpecReader& reader, const YAML::Node& node, SlurmConfig& out) {
  if (!reader.check_map(node, "slurm", {"qos", "nodes", "workers_per_node", "gpus_per_node", "cpus_per_gpu",
                                        "cpus_per_task", "mem", "time_limit", "constraint", "sbatch_options",
                                        "launcher", "warning_seconds", "max_resubmits"}))
    return;
  reader.read(node, "qos", out.qos);
  reader.read(node, "nodes", out.nodes, 1, 100000);
  reader.read(node, "workers_per_node", out.workers_per_node, 1, 4096);
  reader.read(node, "gpus_per_node", out.gpus_per_node, 0, 1024);
  reader.read(node, "cpus_per_gpu", out.cpus_per_gpu, 0, 4096);
  reader.read(node, "cpus_per_task", out.cpus_per_task, 0, 4096);
  reader.read(node, "mem", out.mem);
  read_time_limit(reader, node, out.time_limit);
  reader.read(node, "constraint", out.constraint);
  if (auto options = SpecReader::find(node, "sbatch_options"))
    if (auto list = reader.strings(*options, "sbatch_options")) out.sbatch_options = *list;
  reader.read_choice(node, "launcher", out.launcher, {"srun", "mpirun"});
  reader.read(node, "warning_seconds", out.warning_seconds, 1, 86400);
  reader.read(node, "max_resubmits", out.max_resubmits, 0, 10000);
}

}  // namespace

Sweep parse_sweep(const std::string& yaml_text, const std::string& file_name) {
  SpecReader reader(file_name);
  Sweep sweep;
  sweep.file = file_name;
  sweep.text = yaml_text;
  fs::path base = fs::path(file_name).parent_path();
  if (base.empty() || file_name == kDefaultSweepName) base = fs::current_path();
  base = fs::absolute(base);

  YAML::Node root = reader.load(yaml_text);
  reader.throw_if_errors();
  if (!reader.check_map(root, "sweep", {"name", "model", "sizes", "data", "probe", "training", "budgets",
                                        "mitigations", "seeds", "diagnostics", "checkpoint", "grid", "output",
                                        "resources", "slurm"})) {
    reader.throw_if_errors();
  }

  if (auto name = reader.require(root, "name")) {
    if (auto value = reader.string(*name, "name")) {
      bool plain = std::all_of(value->begin(), value->end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      });
      if (plain) sweep.name = *value;
      else reader.error(*name, "name " + double_quoted(*value) + " has other characters than letters, digits, '-', '_', '.'");
    }
  }

  // Sweep-wide resources are the defaults of every size.
  Resources defaults;
  if (auto resources = SpecReader::find(root, "resources")) {
    read_resources(reader, *resources, {"gpus", "cpus", "time_limit", "partition", "account"}, defaults);
    reader.read(*resources, "partition", sweep.partition);
    reader.read(*resources, "account", sweep.account);
  }
  if (auto slurm = SpecReader::find(root, "slurm")) read_slurm(reader, *slurm, sweep.slurm);
  auto [context, vocab] = read_sizes(reader, root, defaults, sweep);

  if (auto data = reader.require(root, "data"))
    read_data(reader, *data, base, vocab, sweep.sources, sweep.synthetic, sweep.schedule);
  if (auto probe = reader.require(root, "probe"))
    read_probe(reader, *probe, sweep.sources, sweep.schedule, sweep.probe);
  if (auto training = reader.require(root, "training")) {
    read_training(reader, *training, context, sweep.training);
    read_lr(reader, *training, sweep.lr);
    if (sweep.schedule.kind == ScheduleKind::continual && sweep.training.batch_tokens > 0 &&
        sweep.schedule.tokens_per_task > 0 && sweep.schedule.tokens_per_task < sweep.training.batch_tokens)
      reader.error(*training, "batch_tokens (" + format_token_count(sweep.training.batch_tokens) +
                                  ") exceeds data.schedule.tokens_per_task (" +
                                  format_token_count(sweep.schedule.tokens_per_task) +
                                  "); allowed: at most one task's tokens per step");
  }
  if (auto diagnostics = SpecReader::find(root, "diagnostics"))
    read_diagnostics(reader, *diagnostics, context, sweep.diagnostics);
  if (auto checkpoint = SpecReader::find(root, "checkpoint");
      checkpoint && reader.check_map(*checkpoint, "checkpoint", {"every_tokens"}))
    reader.read_tokens(*checkpoint, "every_tokens", sweep.checkpoint_every_tokens, 0);

  read_budgets(reader, root, sweep);
  read_mitigations(reader, root, sweep);
  read_seeds(reader, root, sweep);
  read_grid(reader, root, sweep);

  std::string study = "studies/" + (sweep.name.empty() ? std::string("sweep") : sweep.name);
  if (auto output = SpecReader::find(root, "output"); output && reader.check_map(*output, "output", {"study"}))
    reader.read(*output, "study", study);
  sweep.output_study = (base / study).lexically_normal().string();

  reader.throw_if_errors();
  if (expand_sweep(sweep).empty()) {
    auto grid = SpecReader::find(root, "grid");
    reader.error(grid ? *grid : root, "the grid expands to no runs: grid.exclude removes every run");
    reader.throw_if_errors();
  }
  return sweep;
}

Sweep load_sweep(const std::string& path) {
  return parse_sweep(read_spec_file(path, "sweep"), path);
}

Sweep load_default_sweep() { return parse_sweep(default_sweep_yaml(), kDefaultSweepName); }

std::string sweep_hash(const std::string& yaml_text) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a64(yaml_text)));
  return hex;
}

}  // namespace plascale
