#pragma once
// A sweep as written by a researcher, parsed and validated: the axes of the grid (sizes,
// budgets, mitigations, seeds, include/exclude) and the sections every run shares.
// docs/sweep-spec.md documents every key; expand.h turns a Sweep into RunSpecs.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sweeps/run_spec.h"

namespace plascale {

struct SweepSize {
  ModelConfig model;          // complete: shared model keys filled in
  std::optional<double> lr;   // overrides the sweep's LR rule for this size
  Resources resources;        // the sweep's resources, overridden per size
};

// Peak LR as a function of non-embedding parameters P: a fixed value, or a power law
// through anchor points (P, lr), log-linear between anchors and extended beyond them.
struct LrRule {
  double fixed = 1e-3;
  std::vector<std::pair<double, double>> anchors;  // sorted by P; empty = use `fixed`
  double at(int64_t nonembedding) const;
};

// One include/exclude entry; an absent field matches every value.
struct GridPoint {
  std::optional<std::string> size;
  std::optional<int64_t> budget;
  std::optional<std::string> mitigation;
  std::optional<uint64_t> seed;
};

// The Slurm allocation `plascale submit` asks for (docs/slurm.md); its flags override each
// field. Like resources, never part of a run id. 0 or empty = not requested (the site's default).
struct SlurmConfig {
  std::string qos;
  int nodes = 1;
  int workers_per_node = 1;    // worker ranks per node; the job runs one coordinator rank besides
  int gpus_per_node = 0;
  int cpus_per_gpu = 0;
  int cpus_per_task = 0;       // CPUs per MPI rank
  std::string mem;             // per node, Slurm syntax: "64G", "500M"
  std::string time_limit;      // of each job (the sweep resubmits itself): "HH:MM:SS", "D-HH:MM:SS"
  std::string constraint;      // node features, Slurm syntax: "h100&ib"
  std::vector<std::string> sbatch_options;  // further options, each "--name=value" or "--flag"
  std::string launcher = "srun";  // srun (--mpi=pmix) or mpirun
  int warning_seconds = 300;   // preemption/time-limit warning (--signal=B:USR1@warning_seconds)
  int max_resubmits = 10;      // resubmissions after a warning, per submit
};

struct Sweep {
  std::string name;
  std::string file;  // where it was read from, for messages
  std::string text;  // the YAML exactly as given (stored in the study)

  std::vector<SweepSize> sizes;
  std::vector<int64_t> budgets;  // total training tokens per run ("full" already resolved)
  std::vector<Mitigation> mitigations;
  std::vector<uint64_t> seeds;
  std::vector<GridPoint> exclude;  // removed from sizes x budgets x mitigations x seeds
  std::vector<GridPoint> include;  // added afterwards (every field given)

  // Shared by every run.
  std::vector<DataSource> sources;  // all defined sources; runs keep the ones they use
  SyntheticConfig synthetic;
  Schedule schedule;
  ProbeConfig probe;
  TrainingConfig training;  // training.lr is unused here: see lr
  LrRule lr;
  DiagnosticsConfig diagnostics;
  int64_t checkpoint_every_tokens = 0;

  std::string output_study;  // absolute path of the study folder
  std::string partition;     // Slurm defaults; empty = the site's
  std::string account;
  SlurmConfig slurm;
};

// Slurm time syntax: "MM", "MM:SS", "HH:MM:SS", "D-HH", "D-HH:MM", "D-HH:MM:SS".
bool valid_time_limit(const std::string& text);

// Parses and validates a sweep. `file_name` is used in messages and relative paths
// (data files, output) are resolved against its folder. Throws SpecError (an InputError)
// listing every problem as "file:line:column: message".
Sweep parse_sweep(const std::string& yaml_text, const std::string& file_name);
// Reads the file (InputError if it cannot), then parse_sweep().
Sweep load_sweep(const std::string& path);

// The commented example sweep compiled into the binary (sweeps/examples/example.yaml).
const char* default_sweep_yaml();
inline constexpr const char* kDefaultSweepName = "example.yaml (built in)";
// parse_sweep(default_sweep_yaml(), kDefaultSweepName); relative paths resolve against
// the working folder.
Sweep load_default_sweep();

// 16 hex digits of a 64-bit FNV-1a hash of the text: identifies a sweep file's content.
std::string sweep_hash(const std::string& yaml_text);

}  // namespace plascale
