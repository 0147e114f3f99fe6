#pragma once
// Grid expansion: sizes x budgets x mitigations x seeds (nested in that order), minus
// grid.exclude, plus grid.include; each RunSpec complete, with its LR resolved and its id set.

#include <vector>

#include "sweeps/run_spec.h"
#include "sweeps/sweep.h"

namespace plascale {

// Runs in grid order, included runs last; a run reached twice appears once.
std::vector<RunSpec> expand_sweep(const Sweep& sweep);

}  // namespace plascale
