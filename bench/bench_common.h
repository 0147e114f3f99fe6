#pragma once
// What every benchmark needs to time itself and name its machine. Header-only: the
// benchmarks are separate executables with no library of their own.

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

namespace plascale::bench {

inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Medians, because the machines these run on are shared and noisy.
inline double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
}

// The processor's name from /proc/cpuinfo, printed with every result.
inline std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown CPU";
}

}  // namespace plascale::bench
