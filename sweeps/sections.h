#pragma once
// Internal to sweeps/: readers for the sections a sweep and a RunSpec file share (data,
// probe, training, diagnostics, mitigation, resources), with their validation. The sweep
// and RunSpec parsers call them in dependency order: model, data, probe, training.

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sweeps/run_spec.h"
#include "sweeps/spec_reader.h"

namespace plascale {

// Valid layers/d_model/heads/context/vocab/mlp_hidden; errors at `at`.
void check_model(SpecReader& reader, const YAML::Node& at, const ModelConfig& model);

// `data:`; file patterns are resolved against `base` and expanded; every file must exist.
void read_data(SpecReader& reader, const YAML::Node& data, const std::filesystem::path& base,
               int vocab, std::vector<DataSource>& sources, SyntheticConfig& synthetic,
               Schedule& schedule);

void read_probe(SpecReader& reader, const YAML::Node& probe, const std::vector<DataSource>& sources,
                const Schedule& schedule, ProbeConfig& out);

// `training:` except `lr`, which sweeps and RunSpecs spell differently; the caller reads it.
void read_training(SpecReader& reader, const YAML::Node& training, int context, TrainingConfig& out);

void read_diagnostics(SpecReader& reader, const YAML::Node& diagnostics, int context,
                      DiagnosticsConfig& out);

// `time_limit` of `node` into `out` when present, checked as a Slurm time.
void read_time_limit(SpecReader& reader, const YAML::Node& node, std::string& out);

// gpus, cpus, time_limit; `allowed` may add keys the caller reads itself.
void read_resources(SpecReader& reader, const YAML::Node& resources, Keys allowed, Resources& out);

// One mitigation entry: "none", a strategy kind ("redo", defaults), or
// {name: ..., <kind>: {params}, ...}. Parameters are checked and defaults filled.
std::optional<Mitigation> read_mitigation(SpecReader& reader, const YAML::Node& entry);
// Keys of every strategy kind, for messages.
std::vector<std::string> strategy_kinds();

// Budget fits the schedule and holds at least one optimizer step.
void check_budget(SpecReader& reader, const YAML::Node& at, int64_t budget, const Schedule& schedule,
                  const TrainingConfig& training);
// Total tokens of one pass through a continual schedule's cycles (0 for stationary).
int64_t schedule_tokens(const Schedule& schedule);

}  // namespace plascale
