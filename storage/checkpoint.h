#pragma once
// Checkpoint files: everything a run needs to continue bit-identically, as named arrays in
// one HDF5 file per checkpoint, DIR/ckpt-<tokens>.h5. The training engine decides what the
// arrays are (parameters, AdamW moments, counters, RNG states, data positions); this module
// only makes writing them atomic and reading them back checked.
//
// Writing: DIR/ckpt-<tokens>.h5.tmp, fsync, rename to the final name, fsync DIR, then delete
// all but the newest `keep` checkpoints. A reader therefore never sees a partial file under
// a final name, and a crash mid-write leaves the previous checkpoint intact.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace plascale {

struct Checkpoint {
  std::string run_id;  // resuming checks it, so a directory cannot continue another run
  int64_t tokens = 0;  // training tokens consumed when written; names the file
  // Array names are plain words ([A-Za-z0-9_.-]), unique per map.
  std::map<std::string, std::vector<float>> floats;      // parameters, optimizer moments
  std::map<std::string, std::vector<int64_t>> integers;  // counters, data positions
  std::map<std::string, std::vector<uint64_t>> words;    // RNG states
};

// Atomically writes `checkpoint` into dir (created if missing) and keeps the newest `keep`
// checkpoints. Returns the final path. Throws std::runtime_error on I/O failure.
std::filesystem::path write_checkpoint(const std::filesystem::path& dir, const Checkpoint& checkpoint,
                                       int keep = 2);

// The newest checkpoint in dir, or nullopt when there is none (or dir does not exist).
// A file that is not a readable checkpoint throws InputError naming the file and dataset.
std::optional<Checkpoint> read_latest_checkpoint(const std::filesystem::path& dir);

// Reads one checkpoint file; same errors as read_latest_checkpoint.
Checkpoint read_checkpoint(const std::filesystem::path& file);

}  // namespace plascale
