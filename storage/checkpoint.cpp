#include "storage/checkpoint.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "storage/hdf5.h"
#include "sweeps/errors.h"

namespace plascale {
namespace {

constexpr int64_t kCheckpointFormatVersion = 1;
constexpr std::string_view kPrefix = "ckpt-";
constexpr std::string_view kSuffix = ".h5";

bool plain_word(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

template <typename T>
void check_names(const std::map<std::string, std::vector<T>>& arrays) {
  for (const auto& entry : arrays) {
    if (!plain_word(entry.first)) {
      throw std::invalid_argument("checkpoint: array name '" + entry.first + "' is not a plain word");
    }
  }
}

template <typename T>
void write_arrays(hid_t file, const std::string& group_name, hid_t type,
                  const std::map<std::string, std::vector<T>>& arrays, const std::string& context) {
  h5::Handle group = h5::create_group(file, group_name, context);
  for (const auto& [name, values] : arrays) {
    const std::string where = fmt::format("{}: {}/{}", context, group_name, name);
    hsize_t size = values.size();
    h5::Handle space(h5::check(H5Screate_simple(1, &size, nullptr), where));
    h5::Handle dataset(
        h5::check(H5Dcreate2(group, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), where));
    if (size > 0) h5::check(H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), where);
  }
}

template <typename T>
void read_arrays(hid_t file, const std::string& group_name, hid_t type, std::map<std::string, std::vector<T>>& arrays,
                 const std::string& context) {
  h5::Handle group = h5::open_group(file, group_name, context);
  for (const std::string& name : h5::link_names(group, context)) {
    const std::string where = fmt::format("{}: {}/{}", context, group_name, name);
    h5::Handle dataset(h5::check_input(H5Dopen2(group, name.c_str(), H5P_DEFAULT), where));
    std::vector<hsize_t> shape = h5::dataset_shape(dataset, where);
    if (shape.size() != 1) throw InputError(where + ": expected a 1-D array");
    std::vector<T> values(shape[0]);
    if (!values.empty()) {
      h5::check_input(H5Dread(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), where);
    }
    arrays.emplace(name, std::move(values));
  }
}

void fsync_path(const std::filesystem::path& path, int flags) {
  int fd = ::open(path.c_str(), flags);
  if (fd < 0) throw std::runtime_error(fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  int status = ::fsync(fd);
  ::close(fd);
  if (status != 0) throw std::runtime_error(fmt::format("fsync {}: {}", path.string(), std::strerror(errno)));
}

// Tokens encoded in a final checkpoint name, or nullopt for any other file.
std::optional<int64_t> checkpoint_tokens(const std::filesystem::path& file) {
  std::string name = file.filename().string();
  if (name.size() <= kPrefix.size() + kSuffix.size() || !name.starts_with(kPrefix) || !name.ends_with(kSuffix)) {
    return std::nullopt;
  }
  std::string digits = name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
  if (digits.size() > 18 || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::stoll(digits);
}

// Final checkpoint files in dir, oldest first.
std::vector<std::pair<int64_t, std::filesystem::path>> list_checkpoints(const std::filesystem::path& dir) {
  std::vector<std::pair<int64_t, std::filesystem::path>> found;
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) return found;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (auto tokens = checkpoint_tokens(entry.path())) found.emplace_back(*tokens, entry.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace

std::filesystem::path write_checkpoint(const std::filesystem::path& dir, const Checkpoint& checkpoint, int keep) {
  if (checkpoint.tokens < 0) throw std::invalid_argument("checkpoint: negative token count");
  check_names(checkpoint.floats);
  check_names(checkpoint.integers);
  check_names(checkpoint.words);
  h5::init();
  std::filesystem::create_directories(dir);
  const auto final_path = dir / fmt::format("{}{}{}", kPrefix, checkpoint.tokens, kSuffix);
  const auto temp_path = std::filesystem::path(final_path.string() + ".tmp");
  const std::string context = temp_path.string();
  std::filesystem::remove(temp_path);
  {
    h5::Handle file = h5::create_file(temp_path);
    h5::write_attribute(file, "format_version", kCheckpointFormatVersion);
    h5::write_attribute(file, "tokens", checkpoint.tokens);
    h5::write_attribute(file, "run_id", checkpoint.run_id);
    write_arrays(file, "floats", H5T_NATIVE_FLOAT, checkpoint.floats, context);
    write_arrays(file, "integers", H5T_NATIVE_INT64, checkpoint.integers, context);
    write_arrays(file, "words", H5T_NATIVE_UINT64, checkpoint.words, context);
    h5::flush(file, context);
  }
  fsync_path(temp_path, O_RDONLY);
  std::filesystem::rename(temp_path, final_path);
  fsync_path(dir, O_RDONLY | O_DIRECTORY);

  auto existing = list_checkpoints(dir);
  const auto surplus = static_cast<int64_t>(existing.size()) - std::max(keep, 1);
  for (int64_t index = 0; index < surplus; ++index) std::filesystem::remove(existing[index].second);
  return final_path;
}

Checkpoint read_checkpoint(const std::filesystem::path& path) {
  h5::init();
  const std::string context = path.string();
  try {
    h5::Handle file = h5::open_file(path, false);
    const int64_t version = h5::read_int_attribute(file, "format_version", context);
    if (version != kCheckpointFormatVersion) {
      throw InputError(fmt::format("{}: checkpoint format version {}, this plascale reads version {}", context,
                                   version, kCheckpointFormatVersion));
    }
    Checkpoint checkpoint;
    checkpoint.run_id = h5::read_string_attribute(file, "run_id", context);
    checkpoint.tokens = h5::read_int_attribute(file, "tokens", context);
    read_arrays(file, "floats", H5T_NATIVE_FLOAT, checkpoint.floats, context);
    read_arrays(file, "integers", H5T_NATIVE_INT64, checkpoint.integers, context);
    read_arrays(file, "words", H5T_NATIVE_UINT64, checkpoint.words, context);
    return checkpoint;
  } catch (const InputError& error) {
    throw InputError(fmt::format("{}; delete this checkpoint to resume from the previous one or to start over",
                                 error.what()));
  }
}

std::optional<Checkpoint> read_latest_checkpoint(const std::filesystem::path& dir) {
  auto existing = list_checkpoints(dir);
  if (existing.empty()) return std::nullopt;
  return read_checkpoint(existing.back().second);
}

}  // namespace plascale
