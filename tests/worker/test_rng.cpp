#include "worker/rng.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

namespace plascale {
namespace {

// Known-answer vectors of Philox4x32-10 from the Random123 distribution (kat_vectors).
TEST(Philox, MatchesRandom123KnownAnswers) {
  EXPECT_EQ(philox4x32({0, 0, 0, 0}, {0, 0}),
            (std::array<uint32_t, 4>{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  EXPECT_EQ(philox4x32({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu}),
            (std::array<uint32_t, 4>{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  EXPECT_EQ(philox4x32({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u}),
            (std::array<uint32_t, 4>{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

TEST(Rng, StreamIsPhiloxBlocksInCounterOrder) {
  const uint64_t key = 0x0123456789abcdefull;
  Rng rng(key);
  for (uint32_t block = 0; block < 3; ++block) {
    const auto words = philox4x32({block, 0, 0, 0}, {0x89abcdefu, 0x01234567u});
    for (uint32_t word : words) EXPECT_EQ(rng.next_u32(), word);
  }
}

TEST(Rng, DerivedStreamsDifferByPurposeSeedAndIndex) {
  std::set<uint64_t> keys{derive_seed(1, "init"),           derive_seed(2, "init"),
                          derive_seed(1, "train-data"),     derive_seed(1, "init", {0}),
                          derive_seed(1, "init", {1}),      derive_seed(1, "init", {0, 1}),
                          derive_seed(1, "init", {1, 0})};
  EXPECT_EQ(keys.size(), 7u);
  EXPECT_EQ(derive_seed(7, "probe-data", {3, 4}), derive_seed(7, "probe-data", {3, 4}));
}

TEST(Rng, SavedStateContinuesExactlyMidBlock) {
  Rng rng(derive_seed(42, "test"));
  for (int i = 0; i < 7; ++i) rng.next_u32();  // stop inside a block
  const RngState saved = rng.state();
  EXPECT_EQ(saved.words_drawn, 7u);
  std::vector<uint64_t> expected;
  for (int i = 0; i < 20; ++i) expected.push_back(rng.next_u64());
  Rng resumed(saved);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(resumed.next_u64(), expected[i]) << i;
}

TEST(Rng, UniformAndNormalMoments) {
  Rng rng(derive_seed(3, "moments"));
  const int draws = 200000;
  double sum = 0, normal_sum = 0, normal_squares = 0;
  for (int i = 0; i < draws; ++i) {
    const double u = rng.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    const double z = rng.normal();
    normal_sum += z;
    normal_squares += z * z;
  }
  // Standard errors: uniform mean 0.29/sqrt(n) ~ 6.5e-4, normal mean 2.2e-3, variance 3.2e-3.
  EXPECT_NEAR(sum / draws, 0.5, 4e-3);
  EXPECT_NEAR(normal_sum / draws, 0.0, 1.2e-2);
  EXPECT_NEAR(normal_squares / draws, 1.0, 1.6e-2);
}

TEST(Rng, BelowIsUniformOverSmallBounds) {
  Rng rng(derive_seed(5, "below"));
  const int bound = 7, draws = 70000;
  std::vector<int> counts(bound, 0);
  for (int i = 0; i < draws; ++i) {
    const uint64_t value = rng.below(bound);
    ASSERT_LT(value, static_cast<uint64_t>(bound));
    ++counts[value];
  }
  double chi_square = 0;
  for (int count : counts) chi_square += std::pow(count - draws / bound, 2) / (draws / bound);
  EXPECT_LT(chi_square, 22.5);  // 6 degrees of freedom: p = 0.001
  EXPECT_THROW(rng.below(0), std::invalid_argument);
}

TEST(Rng, FillNormalHonoursMeanAndStd) {
  Rng rng(derive_seed(9, "fill"));
  std::vector<float> values(100000);
  rng.fill_normal(values, 3.0, 0.5);
  double sum = 0, squares = 0;
  for (float v : values) {
    sum += v;
    squares += (v - 3.0) * (v - 3.0);
  }
  EXPECT_NEAR(sum / values.size(), 3.0, 0.01);
  EXPECT_NEAR(std::sqrt(squares / values.size()), 0.5, 0.01);
}

}  // namespace
}  // namespace plascale
