#include "worker/param_layout.h"

#include <gtest/gtest.h>

namespace plascale {
namespace {

TEST(ParamLayout, CountsMatchTheZyphraFormulaAndTilesTheBuffer) {
  ModelConfig model{.size_name = "4.9M", .layers = 4, .d_model = 320, .heads = 5, .context = 256,
                    .vocab = 50304, .mlp_hidden = 1280};
  const ParamLayout layout = gpt_layout(model);
  int64_t nonembedding = 0, next = 0;
  for (const TensorInfo& tensor : layout.tensors) {
    EXPECT_EQ(tensor.offset, next) << tensor.name;
    next += tensor.size;
    if (tensor.nonembedding()) nonembedding += tensor.size;
  }
  EXPECT_EQ(next, layout.total);
  const int64_t d = 320;
  EXPECT_EQ(nonembedding, 4 * (12 * d * d + 13 * d) + 2 * d);  // REFERENCES.md 1: 4.9M
  EXPECT_EQ(layout.total, nonembedding + 50304 * d + 256 * d);
  EXPECT_EQ(layout.tensors.size(), 2u + 4 * 12 + 2);
}

TEST(ParamLayout, FindsTensorsByNameAndElement) {
  ModelConfig model{.size_name = "tiny", .layers = 2, .d_model = 8, .heads = 2, .context = 4, .vocab = 10, .mlp_hidden = 20};
  const ParamLayout layout = gpt_layout(model);
  const TensorInfo& fc = layout.at("h.1.mlp.fc.weight");
  EXPECT_EQ(fc.layer, 1);
  EXPECT_EQ(fc.shape, (std::vector<int64_t>{20, 8}));
  EXPECT_EQ(fc.kind, TensorKind::matrix);
  EXPECT_EQ(layout.tensors[layout.tensor_of(fc.offset)].name, fc.name);
  EXPECT_EQ(layout.tensors[layout.tensor_of(fc.offset + fc.size - 1)].name, fc.name);
  EXPECT_EQ(layout.tensors[layout.tensor_of(fc.offset + fc.size)].name, "h.1.mlp.fc.bias");
  EXPECT_THROW(layout.at("h.2.mlp.fc.weight"), std::out_of_range);
  EXPECT_THROW(layout.tensor_of(layout.total), std::out_of_range);
}

TEST(ParamLayout, RejectsUnbuildableModels) {
  ModelConfig model{.size_name = "tiny", .layers = 2, .d_model = 10, .heads = 3, .context = 4, .vocab = 10, .mlp_hidden = 40};
  EXPECT_THROW(gpt_layout(model), std::invalid_argument);  // 3 does not divide 10
  model.heads = 2;
  model.mlp_hidden = 0;
  EXPECT_THROW(gpt_layout(model), std::invalid_argument);
}

}  // namespace
}  // namespace plascale
