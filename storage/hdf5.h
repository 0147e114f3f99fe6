#pragma once
// Internal to storage/: a thin, checked layer over the HDF5 C API. Every call that can
// fail goes through check() so a failure becomes an exception naming the file and object
// instead of HDF5's default error-stack printout (which init() silences).

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace plascale::h5 {

// Owns one HDF5 identifier of any kind (file, group, dataset, type, space, property list).
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset() {
    if (id_ >= 0) H5Idec_ref(id_);
    id_ = H5I_INVALID_HID;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// Turns off HDF5's automatic error printing, once per process.
void init();

// The innermost message on HDF5's error stack (what actually went wrong), or "".
std::string last_error_message();

// Throw std::runtime_error (write side: disk full, permissions) or plascale::InputError
// (read side: the file's content is wrong) when an HDF5 call returned a negative value.
hid_t check(hid_t result, const std::string& context);
hid_t check_input(hid_t result, const std::string& context);

// Files. The access properties keep the superblock free of the "open for write" flag (no
// h5clear after a crash), disable file locking (readers may open a file being written)
// and keep dirty metadata in memory until an explicit flush.
Handle create_file(const std::filesystem::path& path);
Handle open_file(const std::filesystem::path& path, bool writable);
void flush(hid_t file, const std::string& context);

bool link_exists(hid_t parent, const std::string& name);
Handle open_group(hid_t parent, const std::string& name, const std::string& context);
Handle create_group(hid_t parent, const std::string& name, const std::string& context);
void unlink_if_exists(hid_t parent, const std::string& name, const std::string& context);
// Names of the links directly under a group, in name order.
std::vector<std::string> link_names(hid_t group, const std::string& context);
// Whether `path` (which may contain '/') exists, checking each step so a missing
// intermediate group is an answer, not an error.
bool path_exists(hid_t parent, const std::string& path);
// H5I_GROUP, H5I_DATASET, ... of the object at parent/name.
H5I_type_t object_type(hid_t parent, const std::string& name, const std::string& context);
std::vector<std::string> attribute_names(hid_t object, const std::string& context);

// Attributes: created or overwritten. Strings are variable-length UTF-8.
void write_attribute(hid_t object, const std::string& name, const std::string& value);
void write_attribute(hid_t object, const std::string& name, int64_t value);
void write_attribute(hid_t object, const std::string& name, uint64_t value);
void write_attribute(hid_t object, const std::string& name, double value);
void write_attribute(hid_t object, const std::string& name, const std::vector<std::string>& values);
bool has_attribute(hid_t object, const std::string& name);
// Readers throw InputError naming `context` (file and object) when missing or mistyped.
std::string read_string_attribute(hid_t object, const std::string& name, const std::string& context);
int64_t read_int_attribute(hid_t object, const std::string& name, const std::string& context);
uint64_t read_uint_attribute(hid_t object, const std::string& name, const std::string& context);
double read_double_attribute(hid_t object, const std::string& name, const std::string& context);
std::vector<std::string> read_strings_attribute(hid_t object, const std::string& name,
                                                const std::string& context);
// H5T_INTEGER, H5T_FLOAT or H5T_STRING for an attribute that exists.
H5T_class_t attribute_class(hid_t object, const std::string& name, const std::string& context);

// Datasets whose first axis grows: chunked, unlimited along axis 0, fill value NaN for
// float64 (so points before a metric existed read as NaN) and 0 for int64.
Handle create_growing_dataset(hid_t parent, const std::string& name, hid_t type,
                              const std::vector<hsize_t>& inner_shape, hsize_t chunk_rows,
                              hsize_t initial_rows, const std::string& context);
// Grows the dataset by rows.size() / row_size rows and writes them at the end.
void append_rows(hid_t dataset, hid_t memory_type, const void* rows, hsize_t new_rows,
                 const std::string& context);
void resize_rows(hid_t dataset, hsize_t rows, const std::string& context);

// Fixed-shape datasets.
void write_dataset(hid_t parent, const std::string& name, const std::vector<hsize_t>& shape,
                   std::span<const double> values, const std::string& context);
void write_dataset(hid_t parent, const std::string& name, std::span<const std::string> values,
                   const std::string& context);

std::vector<hsize_t> dataset_shape(hid_t dataset, const std::string& context);
// Whole-dataset reads, converting the stored numbers to the requested type.
std::vector<double> read_doubles(hid_t dataset, const std::string& context);
std::vector<int64_t> read_ints(hid_t dataset, const std::string& context);
// The first `rows` rows only (rows <= the dataset's first dimension).
std::vector<double> read_double_rows(hid_t dataset, hsize_t rows, const std::string& context);
std::vector<int64_t> read_int_rows(hid_t dataset, hsize_t rows, const std::string& context);
std::vector<std::string> read_strings(hid_t dataset, const std::string& context);
// The last element of a 1-D int64 dataset, if it has any.
std::optional<int64_t> read_last_int(hid_t dataset, const std::string& context);

}  // namespace plascale::h5
