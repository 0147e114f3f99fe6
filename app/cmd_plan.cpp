// `plascale plan SWEEP.yaml | --default [--json]`: the expanded runs with their sizes and
// estimated cost, as a table or as JSON for scripts.

#include <fmt/core.h>

#include <cmath>
#include <memory>
#include <string>

#include "app/commands.h"
#include "sweeps/cost.h"
#include "sweeps/errors.h"
#include "sweeps/expand.h"
#include "sweeps/format.h"
#include "sweeps/sweep.h"

namespace plascale {

namespace {

struct PlanOptions {
  std::string path;
  bool use_default = false;
  bool json = false;
  GpuAssumptions gpu;
};

// 4931840 -> "4.93M": three significant digits for the table.
std::string short_count(double value) {
  static constexpr struct { double scale; const char* suffix; } kUnits[] = {
      {1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "K"}};
  for (auto unit : kUnits)
    if (value >= unit.scale) return fmt::format("{:.3g}{}", value / unit.scale, unit.suffix);
  return fmt::format("{:.3g}", value);
}

void print_json(const std::vector<RunSpec>& runs, const GpuAssumptions& gpu) {
  fmt::print("[");
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunSpec& run = runs[i];
    double flops = estimated_flops(run);
    fmt::print("{}\n  {{\"id\": {}, \"size\": {}, \"layers\": {}, \"d_model\": {}, \"heads\": {}, "
               "\"nonembedding_params\": {}, \"total_params\": {}, \"token_budget\": {}, \"mitigation\": {}, "
               "\"seed\": {}, \"lr\": {}, \"probes\": {}, \"estimated_flops\": {}, \"estimated_gpu_hours\": {}, "
               "\"gpus\": {}, \"time_limit\": {}}}",
               i ? "," : "", double_quoted(run.id), double_quoted(run.model.size_name), run.model.layers,
               run.model.d_model, run.model.heads, nonembedding_params(run.model), total_params(run.model),
               run.token_budget, double_quoted(run.mitigation.name), run.seed, exact_number(run.training.lr),
               probe_count(run), exact_number(flops), exact_number(estimated_gpu_hours(flops, gpu)),
               run.resources.gpus, double_quoted(run.resources.time_limit));
  }
  fmt::print("{}]\n", runs.empty() ? "" : "\n");
}

void print_table(const Sweep& sweep, const std::vector<RunSpec>& runs, const GpuAssumptions& gpu) {
  constexpr const char* kRow = "{:<12}  {:<10}  {:>9}  {:>9}  {:>8}  {:<14}  {:>6}  {:>9}  {:>9}\n";
  fmt::print(kRow, "id", "size", "non-emb", "total", "budget", "mitigation", "seed", "FLOPs", "GPU-h");
  double total_flops = 0;
  for (const RunSpec& run : runs) {
    double flops = estimated_flops(run);
    total_flops += flops;
    double hours = estimated_gpu_hours(flops, gpu);
    fmt::print(kRow, run.id, run.model.size_name, short_count(static_cast<double>(nonembedding_params(run.model))),
               short_count(static_cast<double>(total_params(run.model))), format_token_count(run.token_budget),
               run.mitigation.name, run.seed, fmt::format("{:.2e}", flops), hours < 0.01 ? fmt::format("{:.1e}", hours)
                                                                                 : fmt::format("{:.2f}", hours));
  }
  fmt::print("\n{} runs of sweep '{}': {:.3g} FLOPs, {:.3g} GPU-hours in total\n", runs.size(), sweep.name,
             total_flops, estimated_gpu_hours(total_flops, gpu));
  fmt::print("FLOPs = (budget + probes x probe steps x batch_tokens) x (6 x total params + 6 x layers x context x "
             "d_model)\n(llm.c convention); GPU-hours at {:g}% MFU of {:g} TFLOP/s (--mfu, --peak-tflops).\n",
             gpu.mfu * 100, gpu.peak_tflops);
}

int plan(const PlanOptions& options) {
  if (options.path.empty() == !options.use_default)
    throw InputError("plan: give a sweep file or --default (exactly one)");
  Sweep sweep = options.use_default ? load_default_sweep() : load_sweep(options.path);
  std::vector<RunSpec> runs = expand_sweep(sweep);
  if (options.json) print_json(runs, options.gpu);
  else print_table(sweep, runs, options.gpu);
  return kExitOk;
}

}  // namespace

void register_plan(CLI::App& app, CommandResult& result) {
  auto options = std::make_shared<PlanOptions>();
  CLI::App* command = app.add_subcommand("plan", "List a sweep's runs with sizes and estimated cost");
  command->add_option("sweep", options->path, "Sweep YAML file");
  command->add_flag("--default", options->use_default, "Plan the built-in example sweep instead");
  command->add_flag("--json", options->json, "Print one JSON array of run objects");
  command->add_option("--mfu", options->gpu.mfu, "Assumed model FLOPs utilisation for GPU-hours")
      ->check(CLI::Range(1e-6, 1.0))
      ->capture_default_str();
  command->add_option("--peak-tflops", options->gpu.peak_tflops, "Assumed GPU peak (dense bf16) in TFLOP/s")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->callback([&result, options] { result.run = [options] { return plan(*options); }; });
}

}  // namespace plascale
