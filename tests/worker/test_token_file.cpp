#include "worker/data/token_file.h"

#include "sweeps/errors.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace plascale {
namespace {

namespace fs = std::filesystem;

class TokenFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("plascale-token-file-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes raw bytes: a shard header with the given words, then the tokens.
  fs::path write_raw(const std::string& name, int32_t magic, int32_t version, int32_t count,
                     const std::vector<uint16_t>& tokens) {
    int32_t header[256] = {};
    header[0] = magic;
    header[1] = version;
    header[2] = count;
    const fs::path path = dir_ / name;
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(header), sizeof header);
    out.write(reinterpret_cast<const char*>(tokens.data()), static_cast<std::streamsize>(tokens.size() * 2));
    return path;
  }

  // The InputError message of opening `path`, failing the test if it opens.
  static std::string open_error(const fs::path& path, TokenFileFormat format, int vocab) {
    try {
      TokenFile file(path, format, vocab);
    } catch (const InputError& error) {
      return error.what();
    }
    ADD_FAILURE() << path << " opened without error";
    return "";
  }

  fs::path dir_;
};

TEST_F(TokenFileTest, ShardRoundTrip) {
  const std::vector<uint16_t> tokens{0, 1, 2, 65535, 7, 300};
  const fs::path path = dir_ / "good.bin";
  write_llmc_shard(path, tokens);
  EXPECT_EQ(fs::file_size(path), 1024u + 2 * tokens.size());
  TokenFile file(path, TokenFileFormat::llmc_shard, 65536);
  ASSERT_EQ(file.tokens(), 6);
  std::vector<int32_t> read(4);
  file.read(2, read);
  EXPECT_EQ(read, (std::vector<int32_t>{2, 65535, 7, 300}));
  std::vector<int32_t> too_many(5);
  EXPECT_THROW(file.read(2, too_many), std::out_of_range);
}

// Interoperability: a shard written by numpy the way llm.c's data scripts write them
// (int32 header of 256 words, then the tokens as uint16) reads back token for token.
TEST_F(TokenFileTest, ReadsShardWrittenByNumpy) {
  const fs::path path = dir_ / "numpy.bin";
  const std::string script =
      "import numpy as np, sys\n"
      "header = np.zeros(256, dtype=np.int32)\n"
      "header[0], header[1] = 20240520, 1\n"
      "tokens = (np.arange(5000, dtype=np.int64) * 7919 % 50257).astype(np.uint16)\n"
      "header[2] = len(tokens)\n"
      "with open(sys.argv[1], 'wb') as f:\n"
      "    f.write(header.tobytes())\n"
      "    f.write(tokens.tobytes())\n";
  const fs::path script_path = dir_ / "write_shard.py";
  std::ofstream(script_path) << script;
  const std::string command = std::string(PLASCALE_PYTHON) + " " + script_path.string() + " " + path.string();
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  TokenFile file(path, TokenFileFormat::llmc_shard, 50257);
  ASSERT_EQ(file.tokens(), 5000);
  std::vector<int32_t> tokens(5000);
  file.read(0, tokens);
  for (int64_t i = 0; i < 5000; ++i) ASSERT_EQ(tokens[i], i * 7919 % 50257) << i;
}

TEST_F(TokenFileTest, MissingFileIsNamed) {
  const std::string message = open_error(dir_ / "absent.bin", TokenFileFormat::llmc_shard, 100);
  EXPECT_NE(message.find("absent.bin"), std::string::npos) << message;
  EXPECT_NE(message.find("cannot open"), std::string::npos) << message;
}

TEST_F(TokenFileTest, ShortHeader) {
  const fs::path path = dir_ / "short.bin";
  std::ofstream(path) << "tiny";
  const std::string message = open_error(path, TokenFileFormat::llmc_shard, 100);
  EXPECT_NE(message.find("short.bin"), std::string::npos) << message;
  EXPECT_NE(message.find("shorter than the 1024-byte header"), std::string::npos) << message;
}

TEST_F(TokenFileTest, BadMagic) {
  const std::string message =
      open_error(write_raw("magic.bin", 12345, 1, 2, {1, 2}), TokenFileFormat::llmc_shard, 100);
  EXPECT_NE(message.find("magic.bin"), std::string::npos) << message;
  EXPECT_NE(message.find("magic is 12345, expected 20240520"), std::string::npos) << message;
}

TEST_F(TokenFileTest, BadVersion) {
  const std::string message =
      open_error(write_raw("version.bin", kShardMagic, 2, 2, {1, 2}), TokenFileFormat::llmc_shard, 100);
  EXPECT_NE(message.find("version 2"), std::string::npos) << message;
}

TEST_F(TokenFileTest, SizeDisagreesWithCount) {
  const std::string truncated =
      open_error(write_raw("truncated.bin", kShardMagic, 1, 5, {1, 2, 3}), TokenFileFormat::llmc_shard, 100);
  EXPECT_NE(truncated.find("truncated.bin"), std::string::npos) << truncated;
  EXPECT_NE(truncated.find("1030 bytes but its header says 5 tokens"), std::string::npos) << truncated;
  const std::string long_file =
      open_error(write_raw("long.bin", kShardMagic, 1, 1, {1, 2}), TokenFileFormat::llmc_shard, 100);
  EXPECT_NE(long_file.find("1028 bytes but its header says 1 tokens"), std::string::npos) << long_file;
  const std::string zero =
      open_error(write_raw("zero.bin", kShardMagic, 1, 0, {}), TokenFileFormat::llmc_shard, 100);
  EXPECT_NE(zero.find("count is 0"), std::string::npos) << zero;
}

TEST_F(TokenFileTest, TokenOutsideVocabularyGivesItsOffset) {
  const std::string message =
      open_error(write_raw("range.bin", kShardMagic, 1, 4, {5, 99, 100, 7}), TokenFileFormat::llmc_shard, 100);
  EXPECT_NE(message.find("range.bin"), std::string::npos) << message;
  EXPECT_NE(message.find("token 2 (byte offset 1028) is 100, outside the vocabulary [0, 100)"), std::string::npos)
      << message;
  TokenFile fits(dir_ / "range.bin", TokenFileFormat::llmc_shard, 101);
  EXPECT_EQ(fits.tokens(), 4);
}

TEST_F(TokenFileTest, TextIsBytes) {
  const fs::path path = dir_ / "text.txt";
  std::ofstream(path, std::ios::binary) << "ab\xff";
  TokenFile file(path, TokenFileFormat::text_bytes, 256);
  ASSERT_EQ(file.tokens(), 3);
  std::vector<int32_t> read(3);
  file.read(0, read);
  EXPECT_EQ(read, (std::vector<int32_t>{'a', 'b', 255}));

  const std::string small_vocab = open_error(path, TokenFileFormat::text_bytes, 200);
  EXPECT_NE(small_vocab.find("model.vocab must be at least 256, not 200"), std::string::npos) << small_vocab;
  const fs::path empty = dir_ / "empty.txt";
  std::ofstream{empty};
  EXPECT_NE(open_error(empty, TokenFileFormat::text_bytes, 256).find("empty"), std::string::npos);
}

}  // namespace
}  // namespace plascale
