#include "worker/backend.h"

#include "worker/cpu_backend.h"

#include <stdexcept>

namespace plascale {

std::unique_ptr<ModelBackend> make_backend(const ModelConfig& model, const BackendOptions& options) {
  switch (options.kind) {
    case Backend::cpu:
      return std::make_unique<CpuBackend>(model, options.threads);
    case Backend::cuda:
      throw std::runtime_error("this build has no CUDA backend; use backend: cpu");
  }
  throw std::runtime_error("unknown backend kind");
}

}  // namespace plascale
