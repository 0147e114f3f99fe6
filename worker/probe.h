#pragma once
// The plasticity probe (REFERENCES.md 1): copy the model, train the copy on the held-out
// probe source with a fresh AdamW and the run's hyperparameters (warmup over the probe's
// own steps included), evaluate its validation loss on the fixed probe evaluation set at
// curve_steps(), score the curve by its trapezoid area, discard the copy. The main model
// is only read, and the probe reads data through DataSchedule's const probe calls, so a
// run's trajectory is the same with or without probing.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "sweeps/run_spec.h"
#include "worker/backend.h"
#include "worker/data/schedule.h"

namespace plascale {

// Probe optimizer steps at which the validation loss is evaluated: 0, eval_interval,
// 2 * eval_interval, ..., and always the last step `steps`.
std::vector<int64_t> probe_curve_steps(const ProbeConfig& probe);

// Trapezoid area under losses[i] at steps[i] (steps increasing).
double trapezoid_auc(std::span<const int64_t> steps, std::span<const double> losses);

struct ProbeResult {
  std::vector<double> curve;  // validation loss at each of probe_curve_steps()
  double auc = 0;
  bool diverged = false;      // a probe step had a non-finite loss; the curve ends there (NaN)
};

class Prober {
 public:
  // The copy is a second backend of the same kind and threads, made once and reused.
  Prober(const RunSpec& spec, const DataSchedule& data, const BackendOptions& backend);

  // Probes `model` (unchanged by this call).
  ProbeResult probe(const ModelBackend& model);
  // The same probe from a fresh initialisation seeded by derive_seed(run seed, "scratch").
  ProbeResult scratch_baseline();

 private:
  ProbeResult train_copy();

  RunSpec spec_;
  const DataSchedule& data_;
  std::unique_ptr<ModelBackend> copy_;
  std::vector<int64_t> curve_steps_;
  Batch train_batch_;
  Batch eval_batch_;
};

}  // namespace plascale
