// PyTorch cross-check of the CPU backend (run by CI): this test trains a small model for
// 10 AdamW steps with global-norm clipping and writes the initial weights, the batches and
// everything it computed to a file; tests/reference/gpt_reference.py rebuilds the same
// model in PyTorch (float64) from those weights and checks the logits, loss, every
// gradient and the 10 losses. The file format is documented in the script.

#include "worker/cpu_backend.h"
#include "worker/rng.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace plascale {
namespace {

constexpr int kSteps = 10;

class RecordWriter {
 public:
  explicit RecordWriter(const std::filesystem::path& path) : out_(path, std::ios::binary) {}
  template <typename T>
  void write(const T* data, size_t count) {
    out_.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(count * sizeof(T)));
  }
  template <typename T>
  void write(const std::vector<T>& values) { write(values.data(), values.size()); }
  void write(std::span<const float> values) { write(values.data(), values.size()); }
  bool close() {
    out_.close();
    return !out_.fail();
  }

 private:
  std::ofstream out_;
};

TEST(TorchReference, LogitsLossGradientsAndTenAdamWStepsMatchPyTorch) {
  ModelConfig model;
  model.layers = 2;
  model.d_model = 32;
  model.heads = 4;
  model.context = 24;
  model.vocab = 67;
  model.mlp_hidden = 96;  // 3x: the width is configurable
  const int sequences = 3, seq_len = 20;
  const int64_t tokens = sequences * seq_len;
  AdamWStep update{.lr = 3e-3, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};
  const double grad_clip = 1.0;

  CpuBackend backend(model, 2);
  backend.init_parameters(derive_seed(7, "reference-init"));
  // Non-trivial LayerNorm and bias values so that their gradients are tested too.
  Rng noise(derive_seed(7, "reference-noise"));
  for (float& value : backend.buffer(BufferKind::parameters)) value += static_cast<float>(0.05 * noise.normal());

  Rng data(derive_seed(7, "reference-data"));
  std::vector<std::vector<int32_t>> inputs(kSteps), targets(kSteps);
  for (int s = 0; s < kSteps; ++s) {
    for (int64_t i = 0; i < tokens; ++i) {
      inputs[s].push_back(static_cast<int32_t>(data.below(model.vocab)));
      targets[s].push_back(static_cast<int32_t>(data.below(model.vocab)));
    }
  }
  const std::filesystem::path dir = std::filesystem::path(PLASCALE_BINARY_DIR) / "tests" / "reference";
  std::filesystem::create_directories(dir);
  const std::filesystem::path path = dir / "torch_reference.bin";
  RecordWriter out(path);
  const int32_t header[] = {model.layers, model.d_model, model.heads, model.context, model.vocab,
                            model.mlp_hidden, sequences, seq_len, kSteps};
  out.write(header, 9);
  const double hyper[] = {update.lr, update.beta1, update.beta2, update.eps, update.weight_decay, grad_clip};
  out.write(hyper, 6);
  out.write(std::as_const(backend).buffer(BufferKind::parameters));
  for (int s = 0; s < kSteps; ++s) {
    out.write(inputs[s]);
    out.write(targets[s]);
  }

  const TokenBatch first{inputs[0], targets[0], sequences, seq_len};
  std::vector<float> logits(tokens * model.vocab);
  backend.forward_logits(first, logits);
  out.write(logits);
  std::vector<double> losses;
  for (int s = 0; s < kSteps; ++s) {
    backend.zero_gradients();
    losses.push_back(backend.forward_backward({inputs[s], targets[s], sequences, seq_len}));
    if (s == 0) out.write(std::as_const(backend).buffer(BufferKind::gradients));
    const double norm = backend.grad_norm();
    // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is < 1.
    const double factor = grad_clip / (norm + 1e-6);
    if (factor < 1.0) backend.scale_gradients(static_cast<float>(factor));
    update.step = s + 1;
    backend.adamw_step(update);
  }
  out.write(losses);
  ASSERT_TRUE(out.close()) << "could not write " << path;
  const std::string command =
      std::string(PLASCALE_PYTHON) + " " + PLASCALE_SOURCE_DIR + "/tests/reference/gpt_reference.py " + path.string();
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
}

}  // namespace
}  // namespace plascale
