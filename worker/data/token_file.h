#pragma once
// Token files on disk, memory-mapped read-only and validated once when opened:
//   llm.c shards: 256 int32 header words (magic 20240520, version 1, token count), then
//                 `count` uint16 tokens; the file is exactly 1024 + 2 * count bytes.
//   raw text:     every byte is one token (0..255), so the vocabulary must be >= 256.
// Every token is checked against the vocabulary at open, so training never sees a bad id.

#include <cstdint>
#include <filesystem>
#include <span>

namespace plascale {

enum class TokenFileFormat { llmc_shard, text_bytes };

inline constexpr int32_t kShardMagic = 20240520;
inline constexpr int32_t kShardVersion = 1;
inline constexpr int kShardHeaderWords = 256;

class TokenFile {
 public:
  // Throws InputError naming the file and what is wrong (missing, short header, bad magic
  // or version, size not matching the count, empty, first token >= vocab and its offset).
  TokenFile(const std::filesystem::path& path, TokenFileFormat format, int vocab);
  ~TokenFile();
  TokenFile(TokenFile&& other) noexcept;
  TokenFile& operator=(TokenFile&&) = delete;
  TokenFile(const TokenFile&) = delete;
  TokenFile& operator=(const TokenFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  int64_t tokens() const { return tokens_; }
  // Copies tokens [first, first + out.size()) as int32.
  void read(int64_t first, std::span<int32_t> out) const;

 private:
  std::filesystem::path path_;
  TokenFileFormat format_;
  const unsigned char* mapping_ = nullptr;  // whole file, owned (munmap in the destructor)
  int64_t mapped_bytes_ = 0;
  const unsigned char* token_bytes_ = nullptr;  // first token inside the mapping
  int64_t tokens_ = 0;
};

// Writes an llm.c shard (header + uint16 tokens), e.g. for tests and data preparation.
// Throws std::runtime_error on I/O failure.
void write_llmc_shard(const std::filesystem::path& path, std::span<const uint16_t> tokens);

}  // namespace plascale
