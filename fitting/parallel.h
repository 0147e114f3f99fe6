#pragma once
// Runs independent fits (multi-start candidates, bootstrap replicates) on a few threads.
// Callers write result i into slot i and reduce in index order afterwards, so results do
// not depend on the thread count or on scheduling.

#include <functional>

namespace plascale::fitting {

// Calls body(i) once for every i in [0, count) on up to `threads` threads (0 = one per
// hardware thread). The first exception thrown by a body is rethrown after all stop.
void parallel_for(int count, int threads, const std::function<void(int)>& body);

}  // namespace plascale::fitting
