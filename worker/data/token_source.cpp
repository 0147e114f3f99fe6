#include "worker/data/token_source.h"

#include "sweeps/errors.h"
#include "worker/data/synthetic.h"
#include "worker/data/token_file.h"
#include "worker/rng.h"

#include <algorithm>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace plascale {
namespace {

class SyntheticSource final : public TokenSource {
 public:
  SyntheticSource(const DataSource& source, const SourceOptions& options)
      : language_(options.synthetic, options.vocab, source.language),
        run_seed_(options.run_seed),
        key_(source_key(source)) {}

  void train_sequence(int64_t index, std::span<int32_t> tokens) const override {
    Rng rng(derive_seed(run_seed_, "train-data", {key_, static_cast<uint64_t>(index)}));
    language_.generate(rng, tokens);
  }
  void validation_sequence(int64_t index, std::span<int32_t> tokens) const override {
    Rng rng(derive_seed(run_seed_, "validation", {key_, static_cast<uint64_t>(index)}));
    language_.generate(rng, tokens);
  }
  int64_t train_sequences_per_epoch() const override { return -1; }

 private:
  SyntheticLanguage language_;
  uint64_t run_seed_;
  uint64_t key_;
};

// Windows of `sequence_tokens` tokens at stride sequence_tokens - 1 over a list of files,
// numbered file by file; a window never straddles two files.
class WindowedFiles {
 public:
  WindowedFiles(const std::vector<std::string>& paths, TokenFileFormat format, int vocab, int sequence_tokens)
      : stride_(sequence_tokens - 1) {
    first_window_.push_back(0);
    for (const std::string& path : paths) {
      files_.emplace_back(path, format, vocab);
      const int64_t windows = (files_.back().tokens() - 1) / stride_;
      first_window_.push_back(first_window_.back() + windows);
    }
  }
  int64_t windows() const { return first_window_.back(); }
  void read(int64_t window, std::span<int32_t> tokens) const {
    const auto next = std::upper_bound(first_window_.begin(), first_window_.end(), window);
    const size_t file = static_cast<size_t>(next - first_window_.begin()) - 1;
    files_[file].read((window - first_window_[file]) * stride_, tokens);
  }
  std::string describe() const {
    std::string names;
    for (const TokenFile& file : files_) names += (names.empty() ? "" : ", ") + file.path().string();
    return names;
  }

 private:
  int64_t stride_;
  std::vector<TokenFile> files_;
  std::vector<int64_t> first_window_;  // [files + 1] prefix sums of windows per file
};

class FileSource final : public TokenSource {
 public:
  FileSource(const DataSource& source, const SourceOptions& options)
      : train_(source.train_files,
               source.kind == SourceKind::text ? TokenFileFormat::text_bytes : TokenFileFormat::llmc_shard,
               options.vocab, options.sequence_tokens),
        run_seed_(options.run_seed),
        key_(source_key(source)),
        validation_count_(options.validation_sequences) {
    const TokenFileFormat format =
        source.kind == SourceKind::text ? TokenFileFormat::text_bytes : TokenFileFormat::llmc_shard;
    const std::string window = std::to_string(options.sequence_tokens) + "-token windows (model.context + 1)";
    if (source.val_files.empty()) {
      train_windows_ = train_.windows() - validation_count_;
      if (train_windows_ < 1) {
        throw InputError("source '" + source.name + "': training files (" + train_.describe() + ") hold " +
                         std::to_string(train_.windows()) + " " + window + ", but " +
                         std::to_string(validation_count_) +
                         " are held out for validation (no val_files given) and at least one must remain for "
                         "training: add data or val_files");
      }
    } else {
      train_windows_ = train_.windows();
      validation_.emplace(source.val_files, format, options.vocab, options.sequence_tokens);
      if (train_windows_ < 1) {
        throw InputError("source '" + source.name + "': training files (" + train_.describe() +
                         ") hold no " + window);
      }
      if (validation_->windows() < validation_count_) {
        throw InputError("source '" + source.name + "': val_files (" + validation_->describe() + ") hold " +
                         std::to_string(validation_->windows()) + " " + window + ", fewer than the " +
                         std::to_string(validation_count_) + " validation sequences needed");
      }
    }
  }

  void train_sequence(int64_t index, std::span<int32_t> tokens) const override {
    const int64_t epoch = index / train_windows_;
    Rng rng(derive_seed(run_seed_, "data-offset", {key_, static_cast<uint64_t>(epoch)}));
    const int64_t offset = static_cast<int64_t>(rng.below(static_cast<uint64_t>(train_windows_)));
    train_.read((index % train_windows_ + offset) % train_windows_, tokens);
  }

  void validation_sequence(int64_t index, std::span<int32_t> tokens) const override {
    if (index < 0 || index >= validation_count_) {
      throw std::out_of_range("validation sequence " + std::to_string(index) + " outside [0, " +
                              std::to_string(validation_count_) + ")");
    }
    if (validation_) {
      // Spread evenly over the held-out files rather than only their beginning.
      validation_->read(index * validation_->windows() / validation_count_, tokens);
    } else {
      train_.read(train_windows_ + index, tokens);
    }
  }

  int64_t train_sequences_per_epoch() const override { return train_windows_; }

 private:
  WindowedFiles train_;
  std::optional<WindowedFiles> validation_;
  uint64_t run_seed_;
  uint64_t key_;
  int64_t validation_count_;
  int64_t train_windows_ = 0;
};

}  // namespace

uint64_t source_key(const DataSource& source) {
  uint64_t hash = 0xCBF29CE484222325ull;
  for (unsigned char c : source.name) {
    hash ^= c;
    hash *= 0x100000001B3ull;
  }
  return hash;
}

std::unique_ptr<TokenSource> open_token_source(const DataSource& source, const SourceOptions& options) {
  if (options.sequence_tokens < 2) {
    throw InputError("source '" + source.name + "': sequences need at least 2 tokens (model.context >= 1)");
  }
  if (source.kind == SourceKind::synthetic) return std::make_unique<SyntheticSource>(source, options);
  if (source.train_files.empty()) {
    throw InputError("source '" + source.name + "': a " +
                     std::string(source.kind == SourceKind::text ? "text" : "shards") +
                     " source needs at least one file in train_files");
  }
  return std::make_unique<FileSource>(source, options);
}

}  // namespace plascale
