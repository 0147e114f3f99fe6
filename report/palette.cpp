#include "report/palette.h"

#include <fmt/core.h>

#include <array>
#include <cmath>

namespace plascale::report {

namespace {

constexpr std::array<const char*, 8> kMitigationColours{"#000000", "#e69f00", "#0072b2", "#009e73",
                                                        "#d55e00", "#cc79a7", "#56b4e9", "#999933"};

// Viridis at 0, 1/4, 1/2, 3/4 and 1, interpolated linearly; ends trimmed so yellow stays readable.
constexpr std::array<std::array<double, 3>, 5> kRamp{{{68, 1, 84}, {59, 82, 139}, {33, 145, 140},
                                                      {94, 201, 98}, {190, 208, 30}}};

std::string ramp(double position) {
  const double scaled = position * (kRamp.size() - 1);
  const size_t low = std::min(kRamp.size() - 2, static_cast<size_t>(scaled));
  const double t = scaled - low;
  auto channel = [&](int c) { return static_cast<int>(std::lround(kRamp[low][c] * (1 - t) + kRamp[low + 1][c] * t)); };
  return fmt::format("#{:02x}{:02x}{:02x}", channel(0), channel(1), channel(2));
}

}  // namespace

Palette make_palette(const std::vector<std::string>& mitigations, const std::vector<std::string>& sizes) {
  Palette palette;
  for (size_t i = 0; i < mitigations.size(); ++i) {
    // Past eight mitigations the colours repeat, mixed with white per round so they stay distinct.
    std::string colour = kMitigationColours[i % kMitigationColours.size()];
    const size_t round = i / kMitigationColours.size();
    if (round > 0) {
      const int rgb = std::stoi(colour.substr(1), nullptr, 16);
      const double white = 1.0 - 1.0 / (1.0 + 0.6 * round);
      auto mixed = [&](int shift) { return static_cast<int>(std::lround(((rgb >> shift) & 0xff) * (1 - white) + 255 * white)); };
      colour = fmt::format("#{:02x}{:02x}{:02x}", mixed(16), mixed(8), mixed(0));
    }
    palette.mitigation[mitigations[i]] = colour;
  }
  for (size_t i = 0; i < sizes.size(); ++i)
    palette.size[sizes[i]] = ramp(sizes.size() == 1 ? 0.0 : static_cast<double>(i) / (sizes.size() - 1));
  return palette;
}

}  // namespace plascale::report
