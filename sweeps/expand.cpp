#include "sweeps/expand.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace plascale {

double LrRule::at(int64_t nonembedding) const {
  if (anchors.empty()) return fixed;
  if (anchors.size() == 1) return anchors.front().second;
  // Segment whose log-linear line covers P; the end segments extend beyond the anchors.
  size_t i = 0;
  while (i + 2 < anchors.size() && static_cast<double>(nonembedding) > anchors[i + 1].first) ++i;
  auto [p0, lr0] = anchors[i];
  auto [p1, lr1] = anchors[i + 1];
  double t = (std::log(static_cast<double>(nonembedding)) - std::log(p0)) / (std::log(p1) - std::log(p0));
  return std::exp(std::log(lr0) + t * (std::log(lr1) - std::log(lr0)));
}

namespace {

// The one run of `sweep` at this grid point, complete, with its LR resolved and its id set.
RunSpec make_run(const Sweep& sweep, const SweepSize& size, int64_t budget, const Mitigation& mitigation,
                 uint64_t seed) {
  RunSpec run;
  run.sweep_name = sweep.name;
  run.model = size.model;
  run.token_budget = budget;
  run.mitigation = mitigation;
  run.seed = seed;
  // Only the sources this run reads, so defining another source leaves its id alone.
  for (const auto& source : sweep.sources) {
    const auto& order = sweep.schedule.order;
    bool used = source.name == sweep.probe.source && sweep.probe.enabled;
    used |= std::find(order.begin(), order.end(), source.name) != order.end();
    for (const auto& weight : sweep.schedule.weights) used |= weight.first == source.name;
    if (used) run.sources.push_back(source);
  }
  bool any_synthetic = std::any_of(run.sources.begin(), run.sources.end(),
                                   [](const DataSource& s) { return s.kind == SourceKind::synthetic; });
  if (any_synthetic) run.synthetic = sweep.synthetic;
  run.schedule = sweep.schedule;
  run.probe = sweep.probe;
  run.training = sweep.training;
  run.training.lr = size.lr ? *size.lr : sweep.lr.at(nonembedding_params(size.model));
  run.diagnostics = sweep.diagnostics;
  run.checkpoint_every_tokens = sweep.checkpoint_every_tokens;
  run.resources = size.resources;
  run.id = run_id(run);
  return run;
}

bool matches(const GridPoint& point, const SweepSize& size, int64_t budget, const Mitigation& mitigation,
             uint64_t seed) {
  return (!point.size || *point.size == size.model.size_name) && (!point.budget || *point.budget == budget) &&
         (!point.mitigation || *point.mitigation == mitigation.name) && (!point.seed || *point.seed == seed);
}

}  // namespace

std::vector<RunSpec> expand_sweep(const Sweep& sweep) {
  std::vector<RunSpec> runs;
  std::set<std::string> ids;
  auto add = [&](RunSpec run) {
    if (ids.insert(run.id).second) runs.push_back(std::move(run));
  };
  for (const auto& size : sweep.sizes)
    for (int64_t budget : sweep.budgets)
      for (const auto& mitigation : sweep.mitigations)
        for (uint64_t seed : sweep.seeds) {
          bool excluded = std::any_of(sweep.exclude.begin(), sweep.exclude.end(), [&](const GridPoint& point) {
            return matches(point, size, budget, mitigation, seed);
          });
          if (!excluded) add(make_run(sweep, size, budget, mitigation, seed));
        }
  for (const auto& point : sweep.include) {
    auto size = std::find_if(sweep.sizes.begin(), sweep.sizes.end(),
                             [&](const SweepSize& s) { return s.model.size_name == point.size; });
    auto mitigation = std::find_if(sweep.mitigations.begin(), sweep.mitigations.end(),
                                   [&](const Mitigation& m) { return m.name == point.mitigation; });
    if (size == sweep.sizes.end() || mitigation == sweep.mitigations.end() || !point.budget || !point.seed)
      continue;  // parse_sweep rejects such entries; a hand-built Sweep gets no run for them
    add(make_run(sweep, *size, *point.budget, *mitigation, *point.seed));
  }
  return runs;
}

}  // namespace plascale
