#pragma once
// RunSpec: the fully resolved description of one training run. Expanding a sweep
// produces RunSpecs; `plascale train` trains from one alone. Every field that changes
// the run's numbers enters its canonical form and so its id (DESIGN.md "Run identity");
// labels and resources do not.

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace plascale {

struct ModelConfig {
  std::string size_name;  // label from the sweep, e.g. "4.9M"; not part of the run id
  int layers = 0;
  int d_model = 0;
  int heads = 0;        // must divide d_model
  int context = 0;      // sequence length and number of learned positions
  int vocab = 0;
  int mlp_hidden = 0;   // MLP width; the sweep defaults it to 4 * d_model

  friend bool operator==(const ModelConfig&, const ModelConfig&) = default;
};

// Non-embedding parameters: per layer 4d^2+4d (attention) + 2dh+h+d (MLP) + 4d (two
// LayerNorms), plus 2d for the final LayerNorm. With h = 4d this is 12d^2+13d per layer.
int64_t nonembedding_params(const ModelConfig& model);
// Adds the tied token embedding (vocab x d) and the learned positions (context x d).
int64_t total_params(const ModelConfig& model);

enum class SourceKind { synthetic, shards, text };

struct DataSource {
  std::string name;
  SourceKind kind = SourceKind::synthetic;
  std::vector<std::string> train_files;  // shards: llm.c .bin files; text: raw files read as bytes
  std::vector<std::string> val_files;    // held-out files; empty = hold out the tail of train_files
  int language = 0;                      // synthetic: which language of the generator

  friend bool operator==(const DataSource&, const DataSource&) = default;
};

// The seeded synthetic multi-language generator shared by all synthetic sources.
struct SyntheticConfig {
  uint64_t seed = 0;   // defines the languages themselves (not the run's seed)
  int order = 2;       // Markov order of each language
  int branching = 8;   // likely successors per context; lower = easier to learn

  friend bool operator==(const SyntheticConfig&, const SyntheticConfig&) = default;
};

enum class ScheduleKind { continual, stationary };

struct Schedule {
  ScheduleKind kind = ScheduleKind::continual;
  std::vector<std::string> order;  // continual: task order, source names
  int64_t tokens_per_task = 0;     // continual: fresh tokens per task instance
  int cycles = 1;                  // continual: passes through `order` (the budget may stop earlier)
  bool reset_optimizer = true;     // continual: fresh AdamW state and warmup restart per task
  std::vector<std::pair<std::string, double>> weights;  // stationary: mixture weights by source

  friend bool operator==(const Schedule&, const Schedule&) = default;
};

struct ProbeConfig {
  bool enabled = true;
  std::string source;           // held-out source, never in the training schedule
  int steps = 100;              // optimizer steps of the probe copy
  int eval_interval = 10;       // evaluate probe validation loss every this many steps
  int eval_sequences = 32;      // fixed held-out sequences scored at each evaluation
  int64_t every_tokens = 0;     // probe every this many training tokens (0 = off)
  int every_tasks = 0;          // continual: probe after every this many tasks (0 = off)
  bool at_start = true;         // probe the initialisation too (token 0)
  bool scratch_baseline = true; // once per run: the same probe on a fresh initialisation

  friend bool operator==(const ProbeConfig&, const ProbeConfig&) = default;
};

enum class LrSchedule { constant, cosine };
enum class Precision { fp32, bf16 };
enum class Backend { cpu, cuda };

struct TrainingConfig {
  double lr = 1e-3;               // peak LR, already resolved for this run's size
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;      // decoupled (AdamW)
  double warmup_fraction = 0.05;  // of each task's tokens (continual) or of the budget
  LrSchedule schedule = LrSchedule::constant;
  double min_lr_fraction = 0.1;   // cosine: final LR as a fraction of peak
  int64_t batch_tokens = 0;       // tokens per optimizer step; a multiple of model.context
  double grad_clip = 1.0;         // global-norm clip; 0 = off
  Precision precision = Precision::fp32;
  Backend backend = Backend::cpu;

  friend bool operator==(const TrainingConfig&, const TrainingConfig&) = default;
};

struct DiagnosticsConfig {
  int64_t every_tokens = 0;         // 0 = only at probe points
  double dormant_threshold = 0.01;  // ReDo score at or below this = dormant
  int entropy_query_begin = 0;      // attention entropy averaged over query positions
  int entropy_query_end = 0;        //   [begin, end); end 0 = the context length
  double lazy_fraction = 0.9;       // head is lazy if H > lazy_fraction * H_max
  double collapsed_fraction = 0.1;  // head is collapsed if H < collapsed_fraction * H_max
  int sample_sequences = 8;         // probe-source sequences for dormant/entropy/effective rank

  friend bool operator==(const DiagnosticsConfig&, const DiagnosticsConfig&) = default;
};

// A strategy parameter: a number, a switch, a word or a list of words (e.g. tensor groups).
using ParamValue = std::variant<double, bool, std::string, std::vector<std::string>>;

struct Strategy {
  std::string kind;                          // continual_backprop, redo, shrink_perturb, ...
  std::map<std::string, ParamValue> params;  // every parameter, defaults filled in

  friend bool operator==(const Strategy&, const Strategy&) = default;
};

struct Mitigation {
  std::string name;                  // label from the sweep; not part of the run id
  std::vector<Strategy> strategies;  // applied together; empty = none

  friend bool operator==(const Mitigation&, const Mitigation&) = default;
};

// Scheduling resources: where and how long, never what is computed.
struct Resources {
  int gpus = 0;             // GPUs per run; 0 = CPU
  int cpus = 0;             // threads per run; 0 = the worker's share of the cores
  std::string time_limit;   // Slurm-style "HH:MM:SS", empty = none

  friend bool operator==(const Resources&, const Resources&) = default;
};

struct RunSpec {
  std::string id;          // content hash of canonical_form(); see run_id()
  std::string sweep_name;  // label only
  ModelConfig model;
  int64_t token_budget = 0;
  Mitigation mitigation;
  uint64_t seed = 0;
  std::vector<DataSource> sources;  // every source the schedule or the probe names
  SyntheticConfig synthetic;
  Schedule schedule;
  ProbeConfig probe;
  TrainingConfig training;
  DiagnosticsConfig diagnostics;
  int64_t checkpoint_every_tokens = 0;  // 0 = only on signals and at the end
  Resources resources;

  // Every field, labels and id included (canonical_form() is the content comparison).
  friend bool operator==(const RunSpec&, const RunSpec&) = default;
};

// Canonical text of every field that changes the computation, in a fixed order with
// exactly printed numbers. Labels (names), resources and the checkpoint cadence are left
// out, and so are the settings of a disabled probe. docs/sweep-spec.md "Run identity".
std::string canonical_form(const RunSpec& spec);
// First 12 hex digits of a 64-bit hash of canonical_form().
std::string run_id(const RunSpec& spec);

}  // namespace plascale
