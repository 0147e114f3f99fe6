#pragma once
// RunSpec <-> YAML: the file `plascale train RUNSPEC.yaml` reads and the text each run
// stores as spec_yaml. Same sections as a sweep, with every axis resolved to one value
// (docs/sweep-spec.md, "RunSpec files"). parse(runspec_to_yaml(x)) == x, id included.

#include <string>

#include "sweeps/run_spec.h"

namespace plascale {

std::string runspec_to_yaml(const RunSpec& spec);

// Validates like parse_sweep (SpecError listing every problem, file:line:column) and
// recomputes the id; an `id:` in the file that disagrees with the content is an error.
RunSpec parse_runspec(const std::string& yaml_text, const std::string& file_name);
RunSpec load_runspec(const std::string& path);

}  // namespace plascale
