#pragma once
// One colour per mitigation and one per size, fixed for the whole report, so a colour
// means the same thing in every figure. Mitigations take the Okabe-Ito colour-blind-safe
// palette in study order (baseline first); sizes a viridis-like ramp, small to large.

#include <map>
#include <string>
#include <vector>

namespace plascale::report {

struct Palette {
  std::map<std::string, std::string> mitigation;  // label -> "#rrggbb"
  std::map<std::string, std::string> size;        // label -> "#rrggbb"
};

Palette make_palette(const std::vector<std::string>& mitigations, const std::vector<std::string>& sizes);

}  // namespace plascale::report
