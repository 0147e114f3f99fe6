#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

#include "orchestrator/sim/simulator.h"
#include "sweeps/errors.h"

namespace plascale {

Sweep load_sweep_with(const std::string& path,
                      const std::vector<std::pair<std::string, std::string>>& replaced_keys) {
  std::ifstream file(path);
  if (!file) throw InputError(path + ": cannot read the sweep file");
  std::stringstream text;
  text << file.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(text.str());
    for (const auto& [key, value] : replaced_keys) root[key] = YAML::Load(value);
  } catch (const YAML::Exception& error) {
    throw InputError(path + ": " + error.what());
  }
  YAML::Emitter emitted;
  emitted << root;
  return parse_sweep(emitted.c_str(), path);
}

}  // namespace plascale
