#include "sweeps/run_spec.h"

#include <algorithm>
#include <cstdio>
#include <type_traits>
#include <variant>

#include "sweeps/format.h"

namespace plascale {

int64_t nonembedding_params(const ModelConfig& model) {
  const int64_t d = model.d_model, h = model.mlp_hidden;
  const int64_t attention = 4 * d * d + 4 * d;
  const int64_t mlp = 2 * d * h + h + d;
  const int64_t layer_norms = 4 * d;
  return model.layers * (attention + mlp + layer_norms) + 2 * d;
}

int64_t total_params(const ModelConfig& model) {
  const int64_t d = model.d_model;
  return nonembedding_params(model) + int64_t{model.vocab} * d + int64_t{model.context} * d;
}

namespace {

// One "key=value" line per field. Strings are quoted so that no value can fake a line.
class CanonicalWriter {
 public:
  void field(std::string_view key, const std::string& value) { line(key, double_quoted(value)); }
  void field(std::string_view key, const char* value) { line(key, double_quoted(value)); }
  void field(std::string_view key, double value) { line(key, exact_number(value)); }
  void field(std::string_view key, bool value) { line(key, value ? "true" : "false"); }
  template <typename Integer>
    requires std::is_integral_v<Integer>
  void field(std::string_view key, Integer value) { line(key, std::to_string(value)); }
  void field(std::string_view key, const std::vector<std::string>& values) {
    std::string list = "[";
    for (const auto& value : values) {
      if (list.size() > 1) list += ',';
      list += double_quoted(value);
    }
    line(key, list + "]");
  }
  std::string text() && { return std::move(text_); }

 private:
  void line(std::string_view key, const std::string& value) {
    text_.append(key).append("=").append(value).append("\n");
  }
  std::string text_ = "plascale-runspec-v1\n";
};

const char* name_of(SourceKind kind) {
  switch (kind) {
    case SourceKind::synthetic: return "synthetic";
    case SourceKind::shards: return "shards";
    case SourceKind::text: return "text";
  }
  return "?";
}

}  // namespace

std::string canonical_form(const RunSpec& spec) {
  CanonicalWriter out;
  const auto& model = spec.model;
  out.field("model.layers", model.layers);
  out.field("model.d_model", model.d_model);
  out.field("model.heads", model.heads);
  out.field("model.context", model.context);
  out.field("model.vocab", model.vocab);
  out.field("model.mlp_hidden", model.mlp_hidden);
  out.field("token_budget", spec.token_budget);
  out.field("seed", spec.seed);

  // Strategies are applied together, so their order carries no meaning: sort by kind.
  std::vector<const Strategy*> strategies;
  for (const auto& strategy : spec.mitigation.strategies) strategies.push_back(&strategy);
  std::stable_sort(strategies.begin(), strategies.end(),
                   [](const Strategy* a, const Strategy* b) { return a->kind < b->kind; });
  out.field("mitigation.strategies", strategies.size());
  for (const Strategy* strategy : strategies) {
    std::string prefix = "mitigation." + strategy->kind;
    out.field(prefix, "on");
    for (const auto& [key, value] : strategy->params)
      std::visit([&](const auto& v) { out.field(prefix + "." + key, v); }, value);
  }

  // Source names are part of the identity: the schedule and the probe refer to them.
  out.field("data.sources", spec.sources.size());
  for (size_t i = 0; i < spec.sources.size(); ++i) {
    const auto& source = spec.sources[i];
    std::string prefix = "data.source[" + std::to_string(i) + "].";
    out.field(prefix + "name", source.name);
    out.field(prefix + "kind", name_of(source.kind));
    out.field(prefix + "train", source.train_files);
    out.field(prefix + "val", source.val_files);
    out.field(prefix + "language", source.language);
  }
  out.field("data.synthetic.seed", spec.synthetic.seed);
  out.field("data.synthetic.order", spec.synthetic.order);
  out.field("data.synthetic.branching", spec.synthetic.branching);

  const auto& schedule = spec.schedule;
  out.field("schedule.kind", schedule.kind == ScheduleKind::continual ? "continual" : "stationary");
  out.field("schedule.order", schedule.order);
  out.field("schedule.tokens_per_task", schedule.tokens_per_task);
  out.field("schedule.cycles", schedule.cycles);
  out.field("schedule.reset_optimizer", schedule.reset_optimizer);
  for (const auto& [source, weight] : schedule.weights) out.field("schedule.weight." + source, weight);

  // A disabled probe's settings compute nothing.
  ProbeConfig disabled;
  disabled.enabled = false;
  const ProbeConfig& probe = spec.probe.enabled ? spec.probe : disabled;
  out.field("probe.enabled", probe.enabled);
  out.field("probe.source", probe.source);
  out.field("probe.steps", probe.steps);
  out.field("probe.eval_interval", probe.eval_interval);
  out.field("probe.eval_sequences", probe.eval_sequences);
  out.field("probe.every_tokens", probe.every_tokens);
  out.field("probe.every_tasks", probe.every_tasks);
  out.field("probe.at_start", probe.at_start);
  out.field("probe.scratch_baseline", probe.scratch_baseline);

  const auto& training = spec.training;
  out.field("training.lr", training.lr);
  out.field("training.beta1", training.beta1);
  out.field("training.beta2", training.beta2);
  out.field("training.eps", training.eps);
  out.field("training.weight_decay", training.weight_decay);
  out.field("training.warmup_fraction", training.warmup_fraction);
  out.field("training.schedule", training.schedule == LrSchedule::constant ? "constant" : "cosine");
  out.field("training.min_lr_fraction", training.min_lr_fraction);
  out.field("training.batch_tokens", training.batch_tokens);
  out.field("training.grad_clip", training.grad_clip);
  out.field("training.precision", training.precision == Precision::fp32 ? "fp32" : "bf16");
  out.field("training.backend", training.backend == Backend::cpu ? "cpu" : "cuda");

  const auto& diagnostics = spec.diagnostics;
  out.field("diagnostics.every_tokens", diagnostics.every_tokens);
  out.field("diagnostics.dormant_threshold", diagnostics.dormant_threshold);
  out.field("diagnostics.entropy_query_begin", diagnostics.entropy_query_begin);
  out.field("diagnostics.entropy_query_end", diagnostics.entropy_query_end);
  out.field("diagnostics.lazy_fraction", diagnostics.lazy_fraction);
  out.field("diagnostics.collapsed_fraction", diagnostics.collapsed_fraction);
  out.field("diagnostics.sample_sequences", diagnostics.sample_sequences);

  // Checkpoint cadence is left out: resume is bit-identical, so it never changes the
  // numbers, and changing it on a half-finished sweep must not rename its runs.
  return std::move(out).text();
}

std::string run_id(const RunSpec& spec) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a64(canonical_form(spec))));
  return std::string(hex, 12);
}

}  // namespace plascale
