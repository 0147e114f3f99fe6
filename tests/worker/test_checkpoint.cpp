#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "storage/checkpoint.h"
#include "sweeps/errors.h"

namespace plascale {
namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::path(PLASCALE_BINARY_DIR) / "test-output" / name;
  fs::remove_all(dir);
  return dir;
}

Checkpoint sample(int64_t tokens) {
  Checkpoint checkpoint;
  checkpoint.run_id = "abc123def456";
  checkpoint.tokens = tokens;
  checkpoint.floats["params"] = {1.0f, -2.5f, 3.25e-7f, static_cast<float>(tokens)};
  checkpoint.floats["empty"] = {};
  checkpoint.integers["counters"] = {7, -1, tokens};
  checkpoint.words["rng.main"] = {0xffffffffffffffffull, 42};
  return checkpoint;
}

TEST(Checkpoint, RoundTripsEveryArrayExactly) {
  auto dir = fresh_dir("checkpoint_roundtrip");
  auto path = write_checkpoint(dir, sample(4096));
  EXPECT_EQ(path.filename(), "ckpt-4096.h5");
  auto back = read_latest_checkpoint(dir);
  ASSERT_TRUE(back.has_value());
  auto expected = sample(4096);
  EXPECT_EQ(back->run_id, expected.run_id);
  EXPECT_EQ(back->tokens, 4096);
  EXPECT_EQ(back->floats, expected.floats);
  EXPECT_EQ(back->integers, expected.integers);
  EXPECT_EQ(back->words, expected.words);
}

TEST(Checkpoint, KeepsTheNewestTwoAndLeavesNoTemporaryFile) {
  auto dir = fresh_dir("checkpoint_keep");
  for (int64_t tokens : {100, 2000, 300, 40000}) write_checkpoint(dir, sample(tokens));
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"ckpt-2000.h5", "ckpt-40000.h5"}));
  EXPECT_EQ(read_latest_checkpoint(dir)->tokens, 40000);
}

TEST(Checkpoint, MissingDirectoryOrStaleTemporaryMeansNoCheckpoint) {
  auto dir = fresh_dir("checkpoint_none");
  EXPECT_FALSE(read_latest_checkpoint(dir).has_value());
  fs::create_directories(dir);
  std::ofstream(dir / "ckpt-500.h5.tmp") << "half-written";
  EXPECT_FALSE(read_latest_checkpoint(dir).has_value());
}

TEST(Checkpoint, CorruptFileIsAnInputErrorNamingIt) {
  auto dir = fresh_dir("checkpoint_corrupt");
  fs::create_directories(dir);
  std::ofstream(dir / "ckpt-64.h5") << "not hdf5 at all";
  try {
    read_latest_checkpoint(dir);
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("ckpt-64.h5"), std::string::npos) << error.what();
  }
}

TEST(Checkpoint, RejectsArrayNamesThatAreNotPlainWords) {
  auto dir = fresh_dir("checkpoint_badname");
  auto checkpoint = sample(1);
  checkpoint.floats["a/b"] = {1.0f};
  EXPECT_THROW(write_checkpoint(dir, checkpoint), std::invalid_argument);
  EXPECT_FALSE(fs::exists(dir / "ckpt-1.h5"));
}

}  // namespace
}  // namespace plascale
