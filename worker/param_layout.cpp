#include "worker/param_layout.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace plascale {

const TensorInfo& ParamLayout::at(const std::string& name) const {
  for (const TensorInfo& tensor : tensors) {
    if (tensor.name == name) return tensor;
  }
  throw std::out_of_range("no parameter tensor named '" + name + "' in the layout");
}

int ParamLayout::tensor_of(int64_t element) const {
  if (element < 0 || element >= total) {
    throw std::out_of_range("element " + std::to_string(element) + " outside the parameter buffer of " +
                            std::to_string(total));
  }
  auto after = std::upper_bound(tensors.begin(), tensors.end(), element,
                                [](int64_t e, const TensorInfo& t) { return e < t.offset; });
  return static_cast<int>(after - tensors.begin()) - 1;
}

void validate_model_config(const ModelConfig& model) {
  auto require_positive = [](int value, const char* field) {
    if (value < 1) {
      throw std::invalid_argument(std::string("model.") + field + " must be at least 1, got " +
                                  std::to_string(value));
    }
  };
  require_positive(model.layers, "layers");
  require_positive(model.d_model, "d_model");
  require_positive(model.heads, "heads");
  require_positive(model.context, "context");
  require_positive(model.vocab, "vocab");
  require_positive(model.mlp_hidden, "mlp_hidden");
  if (model.d_model % model.heads != 0) {
    throw std::invalid_argument("model.heads (" + std::to_string(model.heads) + ") must divide model.d_model (" +
                                std::to_string(model.d_model) + ")");
  }
}

std::string layer_tensor_name(int layer, const std::string& suffix) {
  return "h." + std::to_string(layer) + "." + suffix;
}

ParamLayout gpt_layout(const ModelConfig& model) {
  validate_model_config(model);
  const int64_t d = model.d_model;
  const int64_t hidden = model.mlp_hidden;
  ParamLayout layout;
  auto add = [&](std::string name, TensorKind kind, int layer, std::vector<int64_t> shape) {
    TensorInfo tensor;
    tensor.name = std::move(name);
    tensor.kind = kind;
    tensor.layer = layer;
    tensor.size = 1;
    for (int64_t extent : shape) tensor.size *= extent;
    tensor.shape = std::move(shape);
    tensor.offset = layout.total;
    layout.total += tensor.size;
    layout.tensors.push_back(std::move(tensor));
  };
  add("wte", TensorKind::token_embedding, -1, {model.vocab, d});
  add("wpe", TensorKind::position_embedding, -1, {model.context, d});
  for (int l = 0; l < model.layers; ++l) {
    add(layer_tensor_name(l, "ln1.weight"), TensorKind::norm_gain, l, {d});
    add(layer_tensor_name(l, "ln1.bias"), TensorKind::norm_bias, l, {d});
    add(layer_tensor_name(l, "attn.qkv.weight"), TensorKind::matrix, l, {3 * d, d});
    add(layer_tensor_name(l, "attn.qkv.bias"), TensorKind::bias, l, {3 * d});
    add(layer_tensor_name(l, "attn.proj.weight"), TensorKind::matrix, l, {d, d});
    add(layer_tensor_name(l, "attn.proj.bias"), TensorKind::bias, l, {d});
    add(layer_tensor_name(l, "ln2.weight"), TensorKind::norm_gain, l, {d});
    add(layer_tensor_name(l, "ln2.bias"), TensorKind::norm_bias, l, {d});
    add(layer_tensor_name(l, "mlp.fc.weight"), TensorKind::matrix, l, {hidden, d});
    add(layer_tensor_name(l, "mlp.fc.bias"), TensorKind::bias, l, {hidden});
    add(layer_tensor_name(l, "mlp.proj.weight"), TensorKind::matrix, l, {d, hidden});
    add(layer_tensor_name(l, "mlp.proj.bias"), TensorKind::bias, l, {d});
  }
  add("lnf.weight", TensorKind::norm_gain, -1, {d});
  add("lnf.bias", TensorKind::norm_bias, -1, {d});
  return layout;
}

}  // namespace plascale
