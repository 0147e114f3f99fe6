#pragma once
// A token source: one DataSource of the RunSpec (synthetic language, llm.c shards or raw
// text) as two pure functions from a sequence number to tokens. Positions in a source are
// plain counters, so a checkpoint stores integers and a resumed run reads the same tokens.
//
// Training sequences are numbered 0, 1, 2, ... across every task instance of the source;
// the schedule hands instance k the numbers after those of instance k-1, so instances get
// fresh tokens. Validation sequences are a fixed held-out set, never used for training.
//
//   synthetic  train sequence i = the language's chain from the stream
//              derive_seed(run seed, "train-data", {hash(source name), i});
//              validation sequence i uses purpose "validation" instead.
//   shards     the training files are cut into windows of sequence_tokens tokens at stride
//   text         sequence_tokens - 1 (each window's last token is the next one's first, as
//              in llm.c); windows never straddle files. Epoch e reads all windows in order,
//              starting at a window drawn from derive_seed(run seed, "data-offset",
//              {hash(source name), e}) and wrapping. Validation: windows of val_files if
//              given, else the last `validation_sequences` windows of the training files,
//              which training then never reads.
// Every function is const and thread-safe.

#include "sweeps/run_spec.h"

#include <cstdint>
#include <memory>
#include <span>

namespace plascale {

struct SourceOptions {
  uint64_t run_seed = 0;
  int sequence_tokens = 0;       // tokens per sequence: model context + 1
  int vocab = 0;                 // every token must lie in [0, vocab)
  int validation_sequences = 0;  // size of the fixed held-out set
  SyntheticConfig synthetic;     // the generator's configuration (synthetic sources)
};

class TokenSource {
 public:
  virtual ~TokenSource() = default;
  // Writes training sequence `index` (>= 0) into tokens (size sequence_tokens).
  virtual void train_sequence(int64_t index, std::span<int32_t> tokens) const = 0;
  // Writes held-out sequence `index` in [0, validation_sequences) into tokens.
  virtual void validation_sequence(int64_t index, std::span<int32_t> tokens) const = 0;
  // Distinct training sequences before a file source repeats (an epoch); -1 = unbounded.
  virtual int64_t train_sequences_per_epoch() const = 0;
};

// Opens (and for files, fully validates) one source. Throws InputError naming the file, the
// source and what is wrong for bad files, too little data, or tokens outside the vocabulary.
std::unique_ptr<TokenSource> open_token_source(const DataSource& source, const SourceOptions& options);

// 64-bit FNV-1a of the source name: the name, not the list position, keys a source's
// streams, so reordering sources in a spec does not change their tokens.
uint64_t source_key(const DataSource& source);

}  // namespace plascale
