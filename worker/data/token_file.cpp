#include "worker/data/token_file.h"

#include "sweeps/errors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>

namespace plascale {
namespace {

constexpr int64_t kShardHeaderBytes = kShardHeaderWords * 4;

[[noreturn]] void bad_file(const std::filesystem::path& path, const std::string& what) {
  throw InputError(path.string() + ": " + what);
}

int32_t header_word(const unsigned char* bytes, int index) {
  int32_t word;
  std::memcpy(&word, bytes + 4 * index, 4);
  return word;
}

}  // namespace

TokenFile::TokenFile(const std::filesystem::path& path, TokenFileFormat format, int vocab)
    : path_(path), format_(format) {
  const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) bad_file(path, std::string("cannot open token file: ") + std::strerror(errno));
  struct stat status {};
  if (::fstat(descriptor, &status) != 0 || !S_ISREG(status.st_mode)) {
    ::close(descriptor);
    bad_file(path, "not a regular file");
  }
  mapped_bytes_ = status.st_size;
  if (mapped_bytes_ > 0) {
    // Validation reads every byte anyway: MAP_POPULATE faults the whole file in at once.
    void* mapping =
        ::mmap(nullptr, static_cast<size_t>(mapped_bytes_), PROT_READ, MAP_PRIVATE | MAP_POPULATE, descriptor, 0);
    if (mapping == MAP_FAILED) {
      const int error = errno;
      ::close(descriptor);
      bad_file(path, std::string("cannot map token file: ") + std::strerror(error));
    }
    mapping_ = static_cast<const unsigned char*>(mapping);
  }
  ::close(descriptor);
  try {
    if (format == TokenFileFormat::text_bytes) {
      if (vocab < 256) {
        bad_file(path, "raw text is read as bytes (tokens 0..255), so model.vocab must be at least 256, not " +
                           std::to_string(vocab));
      }
      if (mapped_bytes_ == 0) bad_file(path, "text file is empty");
      token_bytes_ = mapping_;
      tokens_ = mapped_bytes_;
      return;
    }
    if (mapped_bytes_ < kShardHeaderBytes) {
      bad_file(path, "not an llm.c token shard: " + std::to_string(mapped_bytes_) +
                         " bytes, shorter than the 1024-byte header");
    }
    const int32_t magic = header_word(mapping_, 0);
    if (magic != kShardMagic) {
      bad_file(path, "not an llm.c token shard: header magic is " + std::to_string(magic) + ", expected " +
                         std::to_string(kShardMagic));
    }
    const int32_t version = header_word(mapping_, 1);
    if (version != kShardVersion) {
      bad_file(path, "unsupported llm.c shard version " + std::to_string(version) + " (only version " +
                         std::to_string(kShardVersion) + ", uint16 tokens, is supported)");
    }
    const int32_t count = header_word(mapping_, 2);
    if (count <= 0) bad_file(path, "shard header token count is " + std::to_string(count) + ", must be positive");
    const int64_t expected_bytes = kShardHeaderBytes + 2 * int64_t{count};
    if (mapped_bytes_ != expected_bytes) {
      bad_file(path, "file is " + std::to_string(mapped_bytes_) + " bytes but its header says " +
                         std::to_string(count) + " tokens, which needs 1024 + 2 * " + std::to_string(count) +
                         " = " + std::to_string(expected_bytes) + " bytes (truncated or corrupt?)");
    }
    token_bytes_ = mapping_ + kShardHeaderBytes;
    tokens_ = count;
    // Every token is checked: a max per chunk (vectorised by the compiler), and only a chunk
    // holding a bad token is scanned again for the first one. The data starts 1024 bytes
    // into a page-aligned mapping, so it is aligned for uint16.
    const uint16_t* tokens = reinterpret_cast<const uint16_t*>(token_bytes_);
    constexpr int64_t kChunk = 1 << 14;
    for (int64_t first = 0; first < tokens_; first += kChunk) {
      const int64_t end = std::min(tokens_, first + kChunk);
      uint16_t largest = 0;
      for (int64_t i = first; i < end; ++i) largest = std::max(largest, tokens[i]);
      if (largest < vocab) continue;
      const int64_t bad = std::find_if(tokens + first, tokens + end, [&](uint16_t t) { return t >= vocab; }) - tokens;
      bad_file(path, "token " + std::to_string(bad) + " (byte offset " + std::to_string(kShardHeaderBytes + 2 * bad) +
                         ") is " + std::to_string(tokens[bad]) + ", outside the vocabulary [0, " +
                         std::to_string(vocab) + ") of model.vocab");
    }
  } catch (...) {
    if (mapping_ != nullptr) ::munmap(const_cast<unsigned char*>(mapping_), static_cast<size_t>(mapped_bytes_));
    throw;
  }
}

TokenFile::~TokenFile() {
  if (mapping_ != nullptr) ::munmap(const_cast<unsigned char*>(mapping_), static_cast<size_t>(mapped_bytes_));
}

TokenFile::TokenFile(TokenFile&& other) noexcept
    : path_(std::move(other.path_)),
      format_(other.format_),
      mapping_(other.mapping_),
      mapped_bytes_(other.mapped_bytes_),
      token_bytes_(other.token_bytes_),
      tokens_(other.tokens_) {
  other.mapping_ = nullptr;
  other.token_bytes_ = nullptr;
  other.mapped_bytes_ = 0;
  other.tokens_ = 0;
}

void TokenFile::read(int64_t first, std::span<int32_t> out) const {
  const int64_t count = static_cast<int64_t>(out.size());
  if (first < 0 || first + count > tokens_) {
    throw std::out_of_range(path_.string() + ": tokens [" + std::to_string(first) + ", " +
                            std::to_string(first + count) + ") outside the file's " + std::to_string(tokens_));
  }
  if (format_ == TokenFileFormat::text_bytes) {
    for (int64_t i = 0; i < count; ++i) out[i] = token_bytes_[first + i];
    return;
  }
  const uint16_t* tokens = reinterpret_cast<const uint16_t*>(token_bytes_) + first;
  for (int64_t i = 0; i < count; ++i) out[i] = tokens[i];
}

void write_llmc_shard(const std::filesystem::path& path, std::span<const uint16_t> tokens) {
  int32_t header[kShardHeaderWords] = {};
  header[0] = kShardMagic;
  header[1] = kShardVersion;
  header[2] = static_cast<int32_t>(tokens.size());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(header), sizeof header);
  out.write(reinterpret_cast<const char*>(tokens.data()), static_cast<std::streamsize>(tokens.size() * 2));
  out.close();
  if (!out) throw std::runtime_error("cannot write token shard " + path.string());
}

}  // namespace plascale
