#include "worker/backend.h"

#include "worker/cpu_backend.h"

#include <stdexcept>

namespace plascale {

void ActivitySums::reset(const ModelConfig& model) {
  tokens = 0;
  mlp_abs.assign(model.layers, std::vector<double>(model.mlp_hidden, 0.0));
  mlp.assign(model.layers, std::vector<double>(model.mlp_hidden, 0.0));
  attention_abs.assign(model.layers, std::vector<double>(model.d_model, 0.0));
  attention.assign(model.layers, std::vector<double>(model.d_model, 0.0));
}

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
