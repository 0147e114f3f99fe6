// Cost of each mitigation strategy per optimizer step, as a percentage of a plain
// training step of the same model measured in the same process (the peer is the engine's
// own step; no external library does these edits). Each strategy runs exactly as the
// trainer runs it: Mitigations::before_step, train_step, Mitigations::after_step.
// Strategies with a period are timed with period 1, so the number is the cost of one
// application; divide by the period for the per-step average.
//
// The model and batch are those of bench/worker/cost-model.yaml (the example sweep's "tiny"
// run as first measured: 2 layers, d_model 64, context 64, vocab 256, 1024 tokens per step). Medians over every step of
// every repeat; strategies are interleaved within each repeat so machine load drifts
// affect them alike. The step (train_step: the training pass with noise and activity sums,
// the L2-Init gradient, AdamW) and the after-step edits (resets, shrink-perturb, limits)
// are timed separately: the edits' time is measured directly, the step's extra time is a
// difference of medians and so carries the machine's noise.

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "sweeps/expand.h"
#include "sweeps/sections.h"
#include "sweeps/spec_reader.h"
#include "sweeps/sweep.h"
#include "worker/backend.h"
#include "worker/data/schedule.h"
#include "worker/mitigations/mitigations.h"
#include "worker/rng.h"
#include "worker/train_step.h"

namespace plascale {
namespace {

using bench::cpu_model;
using bench::median;
using bench::seconds_since;

// A mitigation entry as a sweep would write it, defaults filled by the sweep parser.
Mitigation parse_mitigation(const std::string& yaml) {
  SpecReader reader("bench_mitigations");
  std::optional<Mitigation> mitigation = read_mitigation(reader, YAML::Load(yaml));
  reader.throw_if_errors();
  return *mitigation;
}

int run(int repeats, int steps, int threads) {
  const std::vector<std::pair<std::string, std::string>> entries = {
      {"none", "none"},
      {"attention_noise", "{attention_noise: {std: 0.1}}"},
      {"l2_init", "{l2_init: {strength: 1e-4}}"},
      {"weight_decay (LayerNorm gains too)", "{weight_decay: {value: 0.2, exclude_layernorm: false}}"},
      {"shrink_perturb (all tensors)", "{shrink_perturb: {period_steps: 1}}"},
      {"norm_limit (gains + per-tensor)", "{norm_limit: {max_layernorm_gain: 2, max_weight_norm: 10}}"},
      {"norm_limit (gains + per-row)", "{norm_limit: {max_layernorm_gain: 2, max_weight_norm: 1, per_tensor: false}}"},
      {"redo (one reset pass)", "{redo: {period_steps: 1}}"},
      {"continual_backprop (mlp)", "{continual_backprop: {replacement_rate: 1e-2, maturity: 0}}"},
      {"continual_backprop (mlp + heads)",
       "{continual_backprop: {replacement_rate: 1e-2, maturity: 0, units: [mlp, heads]}}"},
  };
  const RunSpec base = expand_sweep(load_sweep(PLASCALE_SOURCE_DIR "/bench/worker/cost-model.yaml")).front();
  BackendOptions backend_options;
  backend_options.threads = threads;
  auto model = make_backend(base.model, backend_options);
  DataSchedule data(base);
  std::vector<Batch> batches(steps);
  for (Batch& batch : batches) data.next_batch(batch);

  std::map<std::string, std::vector<double>> step_seconds, edit_seconds;
  for (int repeat = 0; repeat < repeats; ++repeat) {
    for (const auto& [label, yaml] : entries) {
      RunSpec spec = base;
      spec.mitigation = parse_mitigation(yaml);
      Mitigations mitigations(spec);
      const TrainingConfig training = mitigations.training(spec.training);
      model->init_parameters(derive_seed(spec.seed, "init"));
      mitigations.on_initialised(*model);
      for (int step = 0; step < steps; ++step) {
        const auto start = std::chrono::steady_clock::now();
        const StepExtras extras = mitigations.before_step(step, step * training.batch_tokens);
        const StepResult stepped = train_step(*model, batches[step], training, training.lr, step + 1, extras);
        step_seconds[label].push_back(seconds_since(start));
        const auto edits = std::chrono::steady_clock::now();
        mitigations.after_step(*model, stepped, step + 1);
        edit_seconds[label].push_back(seconds_since(edits));
      }
    }
  }
  const double plain = median(step_seconds.at("none"));
  fmt::print("Mitigation cost per optimizer step; model {} ({} layers, d_model {}, {} tokens per step), "
             "threads: {}, {} repeats x {} steps, medians\n",
             base.model.size_name, base.model.layers, base.model.d_model, base.training.batch_tokens, threads, repeats,
             steps);
  fmt::print("machine: {}\n", cpu_model());
  fmt::print("{:<38} {:>10} {:>12} {:>10} {:>12}\n", "strategy", "step ms", "step extra", "edits ms",
             "total extra");
  for (const auto& [label, yaml] : entries) {
    const double step = median(step_seconds.at(label)), edits = median(edit_seconds.at(label));
    fmt::print("{:<38} {:>10.2f} {:>+11.1f}% {:>10.3f} {:>+11.1f}%\n", label, 1e3 * step, 100.0 * (step / plain - 1.0),
               1e3 * edits, 100.0 * ((step + edits) / plain - 1.0));
  }
  return 0;
}

}  // namespace
}  // namespace plascale

int main(int argc, char** argv) {
  CLI::App app("Cost of each mitigation strategy per training step");
  int repeats = 5, steps = 20, threads = 2;
  app.add_option("--repeats", repeats, "Repeats of every strategy")->capture_default_str();
  app.add_option("--steps", steps, "Optimizer steps per repeat")->capture_default_str();
  app.add_option("--threads", threads, "CPU threads")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return plascale::run(repeats, steps, threads);
}
