#include "sweeps/runspec_yaml.h"

#include <sstream>
#include <variant>

#include "sweeps/errors.h"
#include "sweeps/format.h"
#include "sweeps/sections.h"

namespace plascale {

namespace fs = std::filesystem;

namespace {

std::string list(const std::vector<std::string>& words) {
  std::string text = "[";
  for (const auto& word : words) text += (text.size() > 1 ? ", " : "") + double_quoted(word);
  return text + "]";
}

std::string value_text(const ParamValue& value) {
  struct Visitor {
    std::string operator()(double v) const { return exact_number(v); }
    std::string operator()(bool v) const { return v ? "true" : "false"; }
    std::string operator()(const std::string& v) const { return double_quoted(v); }
    std::string operator()(const std::vector<std::string>& v) const { return list(v); }
  };
  return std::visit(Visitor{}, value);
}

const char* word(bool flag) { return flag ? "true" : "false"; }

}  // namespace

std::string runspec_to_yaml(const RunSpec& spec) {
  std::ostringstream out;
  const auto& m = spec.model;
  out << "# plascale RunSpec: one fully resolved training run (docs/sweep-spec.md).\n";
  out << "id: " << double_quoted(run_id(spec)) << "\n";
  out << "sweep: " << double_quoted(spec.sweep_name) << "\n";
  out << "model: {size: " << double_quoted(m.size_name) << ", layers: " << m.layers << ", d_model: " << m.d_model
      << ", heads: " << m.heads << ", context: " << m.context << ", vocab: " << m.vocab
      << ", mlp_hidden: " << m.mlp_hidden << "}\n";
  out << "token_budget: " << spec.token_budget << "\n";
  out << "mitigation:\n  name: " << double_quoted(spec.mitigation.name) << "\n";
  for (const auto& strategy : spec.mitigation.strategies) {
    out << "  " << strategy.kind << ": {";
    bool first = true;
    for (const auto& [key, value] : strategy.params) {
      out << (first ? "" : ", ") << key << ": " << value_text(value);
      first = false;
    }
    out << "}\n";
  }
  out << "seed: " << spec.seed << "\n";

  out << "data:\n";
  out << "  synthetic: {seed: " << spec.synthetic.seed << ", order: " << spec.synthetic.order
      << ", branching: " << spec.synthetic.branching << "}\n";
  out << "  sources:\n";
  for (const auto& source : spec.sources) {
    out << "    - {name: " << double_quoted(source.name);
    switch (source.kind) {
      case SourceKind::synthetic: out << ", kind: synthetic, language: " << source.language; break;
      case SourceKind::shards: out << ", kind: shards, train: " << list(source.train_files); break;
      case SourceKind::text: out << ", kind: text, train: " << list(source.train_files); break;
    }
    if (source.kind != SourceKind::synthetic && !source.val_files.empty()) out << ", val: " << list(source.val_files);
    out << "}\n";
  }
  const auto& s = spec.schedule;
  if (s.kind == ScheduleKind::continual) {
    out << "  schedule: {kind: continual, order: " << list(s.order) << ", tokens_per_task: " << s.tokens_per_task
        << ", cycles: " << s.cycles << ", reset_optimizer: " << word(s.reset_optimizer) << "}\n";
  } else {
    out << "  schedule:\n    kind: stationary\n    weights:\n";
    for (const auto& [name, weight] : s.weights) out << "      " << double_quoted(name) << ": " << exact_number(weight) << "\n";
  }

  const auto& p = spec.probe;
  out << "probe: {enabled: " << word(p.enabled);
  if (!p.source.empty()) out << ", source: " << double_quoted(p.source);
  out << ", steps: " << p.steps << ", eval_interval: " << p.eval_interval << ", eval_sequences: " << p.eval_sequences
      << ", every_tokens: " << p.every_tokens << ", every_tasks: " << p.every_tasks << ", at_start: " << word(p.at_start)
      << ", scratch_baseline: " << word(p.scratch_baseline) << "}\n";

  const auto& t = spec.training;
  out << "training:\n"
      << "  lr: " << exact_number(t.lr) << "\n"
      << "  betas: [" << exact_number(t.beta1) << ", " << exact_number(t.beta2) << "]\n"
      << "  eps: " << exact_number(t.eps) << "\n"
      << "  weight_decay: " << exact_number(t.weight_decay) << "\n"
      << "  warmup_fraction: " << exact_number(t.warmup_fraction) << "\n"
      << "  schedule: " << (t.schedule == LrSchedule::constant ? "constant" : "cosine") << "\n"
      << "  min_lr_fraction: " << exact_number(t.min_lr_fraction) << "\n"
      << "  batch_tokens: " << t.batch_tokens << "\n"
      << "  grad_clip: " << exact_number(t.grad_clip) << "\n"
      << "  precision: " << (t.precision == Precision::fp32 ? "fp32" : "bf16") << "\n"
      << "  backend: " << (t.backend == Backend::cpu ? "cpu" : "cuda") << "\n";

  const auto& d = spec.diagnostics;
  out << "diagnostics: {every_tokens: " << d.every_tokens << ", dormant_threshold: " << exact_number(d.dormant_threshold)
      << ", entropy_query_range: [" << d.entropy_query_begin << ", " << d.entropy_query_end
      << "], lazy_fraction: " << exact_number(d.lazy_fraction)
      << ", collapsed_fraction: " << exact_number(d.collapsed_fraction)
      << ", sample_sequences: " << d.sample_sequences << "}\n";
  out << "checkpoint: {every_tokens: " << spec.checkpoint_every_tokens << "}\n";
  out << "resources: {gpus: " << spec.resources.gpus << ", cpus: " << spec.resources.cpus;
  if (!spec.resources.time_limit.empty()) out << ", time_limit: " << double_quoted(spec.resources.time_limit);
  out << "}\n";
  return out.str();
}

RunSpec parse_runspec(const std::string& yaml_text, const std::string& file_name) {
  SpecReader reader(file_name);
  RunSpec spec;
  fs::path base = fs::absolute(fs::path(file_name).parent_path().empty() ? fs::current_path()
                                                                         : fs::path(file_name).parent_path());
  YAML::Node root = reader.load(yaml_text);
  reader.throw_if_errors();
  if (!reader.check_map(root, "RunSpec", {"id", "sweep", "model", "token_budget", "mitigation", "seed", "data",
                                          "probe", "training", "diagnostics", "checkpoint", "resources"}))
    reader.throw_if_errors();

  reader.read(root, "sweep", spec.sweep_name);
  auto model_node = reader.require(root, "model");
  if (model_node &&
      reader.check_map(*model_node, "model", {"size", "layers", "d_model", "heads", "context", "vocab", "mlp_hidden"})) {
    auto& m = spec.model;
    reader.read(*model_node, "size", m.size_name);
    struct Field { const char* key; int* out; int64_t min, max; };
    for (Field field : {Field{"layers", &m.layers, 1, 1000}, Field{"d_model", &m.d_model, 1, 65536},
                        Field{"heads", &m.heads, 1, 4096}, Field{"context", &m.context, 2, 1 << 20},
                        Field{"vocab", &m.vocab, 2, 1 << 24}, Field{"mlp_hidden", &m.mlp_hidden, 1, 1 << 20}}) {
      if (auto node = reader.require(*model_node, field.key))
        if (auto value = reader.integer(*node, field.key, field.min, field.max)) *field.out = static_cast<int>(*value);
    }
    check_model(reader, *model_node, m);
  }
  if (auto mitigation = reader.require(root, "mitigation")) {
    if (!mitigation->IsMap())
      reader.error(*mitigation, "mitigation: expected a map {name: ..., <strategy>: {parameters}}");
    else if (auto value = read_mitigation(reader, *mitigation))
      spec.mitigation = *value;
  }
  if (auto seed = reader.require(root, "seed"))
    if (auto value = reader.integer(*seed, "seed", 0, INT64_MAX)) spec.seed = static_cast<uint64_t>(*value);
  if (auto data = reader.require(root, "data"))
    read_data(reader, *data, base, spec.model.vocab, spec.sources, spec.synthetic, spec.schedule);
  if (auto probe = reader.require(root, "probe")) read_probe(reader, *probe, spec.sources, spec.schedule, spec.probe);
  if (auto training = reader.require(root, "training")) {
    read_training(reader, *training, spec.model.context, spec.training);
    if (auto lr = reader.require(*training, "lr"))
      if (auto value = reader.number(*lr, "lr", {0, 10, true, false})) spec.training.lr = *value;
  }
  if (auto diagnostics = SpecReader::find(root, "diagnostics"))
    read_diagnostics(reader, *diagnostics, spec.model.context, spec.diagnostics);
  if (auto checkpoint = SpecReader::find(root, "checkpoint");
      checkpoint && reader.check_map(*checkpoint, "checkpoint", {"every_tokens"}))
    reader.read_tokens(*checkpoint, "every_tokens", spec.checkpoint_every_tokens, 0);
  if (auto resources = SpecReader::find(root, "resources"))
    read_resources(reader, *resources, {"gpus", "cpus", "time_limit"}, spec.resources);
  if (auto budget = reader.require(root, "token_budget"))
    if (auto value = reader.tokens(*budget, "token_budget", 1)) {
      spec.token_budget = *value;
      check_budget(reader, *budget, *value, spec.schedule, spec.training);
    }
  reader.throw_if_errors();

  spec.id = run_id(spec);
  if (auto id = SpecReader::find(root, "id")) {
    if (!id->IsScalar() || id->Scalar() != spec.id) {
      reader.error(*id, "id " + (id->IsScalar() ? double_quoted(id->Scalar()) : std::string("(not a word)")) +
                            " does not match the spec's content (its id is " + double_quoted(spec.id) +
                            "); the spec was edited: remove the id line or set it to the new id");
      reader.throw_if_errors();
    }
  }
  return spec;
}

RunSpec load_runspec(const std::string& path) {
  return parse_runspec(read_spec_file(path, "RunSpec"), path);
}

}  // namespace plascale
