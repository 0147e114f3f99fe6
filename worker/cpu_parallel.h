#pragma once
// Thread-team sizing for the CPU backend's OpenMP loops.

#include <cstdint>

namespace plascale {

// Loops over fewer elements than this run on one thread: starting a parallel region and
// meeting at its barrier costs more than such a loop, and far more when the machine is
// oversubscribed and a team member is descheduled. Results do not depend on it: every
// parallel loop computes each output the same way whatever the team size.
inline constexpr int64_t kMinParallelWork = int64_t{1} << 15;

inline int team_size(int64_t work, int threads) { return work < kMinParallelWork ? 1 : threads; }

}  // namespace plascale
