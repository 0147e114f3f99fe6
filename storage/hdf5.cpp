#include "storage/hdf5.h"

#include <fmt/core.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "sweeps/errors.h"

namespace plascale::h5 {

void init() {
  static const bool silenced = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)silenced;
}

namespace {

struct StackMessages {
  std::string outermost;
  std::string innermost;
};

herr_t collect_message(unsigned, const H5E_error2_t* error, void* data) {
  auto* messages = static_cast<StackMessages*>(data);
  if (error->desc != nullptr && error->desc[0] != '\0') {
    if (messages->outermost.empty()) messages->outermost = error->desc;
    messages->innermost = error->desc;
  }
  return 0;
}

std::string with_cause(const std::string& context) {
  std::string cause = last_error_message();
  return cause.empty() ? context : fmt::format("{} ({})", context, cause);
}

Handle string_type() {
  Handle type(check(H5Tcopy(H5T_C_S1), "copying the string type"));
  check(H5Tset_size(type, H5T_VARIABLE), "sizing the string type");
  check(H5Tset_cset(type, H5T_CSET_UTF8), "setting UTF-8 on the string type");
  return type;
}

Handle scalar_space() { return Handle(check(H5Screate(H5S_SCALAR), "creating a scalar dataspace")); }

Handle simple_space(const std::vector<hsize_t>& dims) {
  return Handle(check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr),
                      "creating a dataspace"));
}

Handle file_access() {
  init();
  Handle fapl(check(H5Pcreate(H5P_FILE_ACCESS), "creating file access properties"));
  // Superblock v0-v2 carry no "file open for write" flag, so a crashed writer's file
  // opens as is; superblock v3 (1.10 "latest") would demand h5clear.
  check(H5Pset_libver_bounds(fapl, H5F_LIBVER_EARLIEST, H5F_LIBVER_V18), "setting format bounds");
  check(H5Pset_file_locking(fapl, false, true), "disabling file locking");
  // With evictions off, dirty metadata reaches the disk only in H5Fflush, so between two
  // flushes the file on disk is exactly the last flush's state plus unreferenced data.
  H5AC_cache_config_t config{};
  config.version = H5AC__CURR_CACHE_CONFIG_VERSION;
  check(H5Pget_mdc_config(fapl, &config), "reading the metadata cache configuration");
  config.incr_mode = H5C_incr__off;
  config.flash_incr_mode = H5C_flash_incr__off;
  config.decr_mode = H5C_decr__off;
  config.evictions_enabled = false;
  check(H5Pset_mdc_config(fapl, &config), "configuring the metadata cache");
  return fapl;
}

Handle intermediate_links() {
  Handle lcpl(check(H5Pcreate(H5P_LINK_CREATE), "creating link properties"));
  check(H5Pset_create_intermediate_group(lcpl, 1), "allowing intermediate groups");
  check(H5Pset_char_encoding(lcpl, H5T_CSET_UTF8), "setting UTF-8 link names");
  return lcpl;
}

// Creates the attribute, or overwrites it in place when its type and shape are unchanged
// (in place keeps a crash between flushes from ever showing a missing attribute).
void put_attribute(hid_t object, const std::string& name, hid_t file_type, hid_t space,
                   hid_t memory_type, const void* data) {
  const std::string context = fmt::format("writing attribute '{}'", name);
  if (check(H5Aexists(object, name.c_str()), context) > 0) {
    Handle existing(check(H5Aopen(object, name.c_str(), H5P_DEFAULT), context));
    Handle existing_type(check(H5Aget_type(existing), context));
    Handle existing_space(check(H5Aget_space(existing), context));
    if (H5Tequal(existing_type, file_type) > 0 && H5Sextent_equal(existing_space, space) > 0) {
      check(H5Awrite(existing, memory_type, data), context);
      return;
    }
    existing.reset();
    check(H5Adelete(object, name.c_str()), context);
  }
  Handle attribute(check(H5Acreate2(object, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT),
                         context));
  check(H5Awrite(attribute, memory_type, data), context);
}

Handle open_scalar_attribute(hid_t object, const std::string& name, H5T_class_t expected,
                             const char* expected_words, const std::string& context) {
  if (!has_attribute(object, name))
    throw InputError(fmt::format("{}: attribute '{}' is missing", context, name));
  Handle attribute(check_input(H5Aopen(object, name.c_str(), H5P_DEFAULT),
                               fmt::format("{}: opening attribute '{}'", context, name)));
  Handle type(check_input(H5Aget_type(attribute), context));
  Handle space(check_input(H5Aget_space(attribute), context));
  if (H5Tget_class(type) != expected || H5Sget_simple_extent_npoints(space) != 1)
    throw InputError(fmt::format("{}: attribute '{}' must be a single {}", context, name,
                                 expected_words));
  return attribute;
}

std::string read_string_value(hid_t attribute, const std::string& context) {
  Handle type(check_input(H5Aget_type(attribute), context));
  if (H5Tis_variable_str(type) > 0) {
    Handle memory = string_type();
    char* text = nullptr;
    check_input(H5Aread(attribute, memory, &text), context);
    std::string value = text != nullptr ? text : "";
    H5free_memory(text);
    return value;
  }
  std::string value(H5Tget_size(type), '\0');
  check_input(H5Aread(attribute, type, value.data()), context);
  value.resize(value.find('\0') == std::string::npos ? value.size() : value.find('\0'));
  return value;
}

// Reads every element of a 1-D string attribute or dataset (variable or fixed length).
std::vector<std::string> read_string_list(hid_t object, bool is_attribute, const std::string& context) {
  Handle type(check_input(is_attribute ? H5Aget_type(object) : H5Dget_type(object), context));
  Handle space(check_input(is_attribute ? H5Aget_space(object) : H5Dget_space(object), context));
  if (H5Tget_class(type) != H5T_STRING)
    throw InputError(fmt::format("{}: expected strings", context));
  const hssize_t count = H5Sget_simple_extent_npoints(space);
  std::vector<std::string> values;
  values.reserve(static_cast<size_t>(count));
  if (H5Tis_variable_str(type) > 0) {
    Handle memory = string_type();
    std::vector<char*> texts(static_cast<size_t>(count), nullptr);
    check_input(is_attribute ? H5Aread(object, memory, texts.data())
                             : H5Dread(object, memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, texts.data()),
                context);
    for (char* text : texts) {
      values.emplace_back(text != nullptr ? text : "");
      H5free_memory(text);
    }
    return values;
  }
  const size_t width = H5Tget_size(type);
  std::vector<char> buffer(width * static_cast<size_t>(count));
  check_input(is_attribute ? H5Aread(object, type, buffer.data())
                           : H5Dread(object, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer.data()),
              context);
  for (hssize_t i = 0; i < count; ++i) {
    std::string value(buffer.data() + i * width, width);
    value.resize(value.find('\0') == std::string::npos ? width : value.find('\0'));
    values.push_back(std::move(value));
  }
  return values;
}

template <typename T>
std::vector<T> read_rows(hid_t dataset, hid_t memory_type, std::optional<hsize_t> rows,
                         const std::string& context) {
  std::vector<hsize_t> shape = dataset_shape(dataset, context);
  if (rows && !shape.empty()) {
    if (*rows > shape[0]) throw std::logic_error(context + ": asked for more rows than stored");
    shape[0] = *rows;
  }
  hsize_t count = 1;
  for (hsize_t dim : shape) count *= dim;
  std::vector<T> values(count);
  if (count == 0) return values;
  Handle file_space(check_input(H5Dget_space(dataset), context));
  if (rows && !shape.empty()) {
    std::vector<hsize_t> start(shape.size(), 0);
    check_input(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start.data(), nullptr, shape.data(), nullptr),
                context);
  }
  Handle memory_space = shape.empty() ? scalar_space() : simple_space(shape);
  check_input(H5Dread(dataset, memory_type, memory_space, file_space, H5P_DEFAULT, values.data()), context);
  return values;
}

herr_t collect_link(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

herr_t collect_attribute(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

}  // namespace

std::string last_error_message() {
  StackMessages messages;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_message, &messages);
  if (messages.outermost == messages.innermost) return messages.innermost;
  return fmt::format("{}: {}", messages.outermost, messages.innermost);
}

hid_t check(hid_t result, const std::string& context) {
  if (result < 0) throw std::runtime_error(with_cause(context));
  return result;
}

hid_t check_input(hid_t result, const std::string& context) {
  if (result < 0) throw InputError(with_cause(context));
  return result;
}

Handle create_file(const std::filesystem::path& path) {
  Handle fapl = file_access();
  return Handle(check(H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl),
                      fmt::format("cannot create {}", path.string())));
}

Handle open_file(const std::filesystem::path& path, bool writable) {
  Handle fapl = file_access();
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error))
    throw InputError(fmt::format("{}: no such file", path.string()));
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw InputError(fmt::format("{}: not an HDF5 file (no HDF5 signature found)", path.string()));
  return Handle(check_input(H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl),
                            fmt::format("{}: cannot open: the file is truncated or damaged", path.string())));
}

void flush(hid_t file, const std::string& context) { check(H5Fflush(file, H5F_SCOPE_LOCAL), context); }

bool link_exists(hid_t parent, const std::string& name) {
  return H5Lexists(parent, name.c_str(), H5P_DEFAULT) > 0;
}

Handle open_group(hid_t parent, const std::string& name, const std::string& context) {
  if (!link_exists(parent, name))
    throw InputError(fmt::format("{}: group '{}' is missing", context, name));
  return Handle(check_input(H5Gopen2(parent, name.c_str(), H5P_DEFAULT),
                            fmt::format("{}: opening group '{}'", context, name)));
}

Handle create_group(hid_t parent, const std::string& name, const std::string& context) {
  Handle lcpl = intermediate_links();
  return Handle(check(H5Gcreate2(parent, name.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT),
                      fmt::format("{}: creating group '{}'", context, name)));
}

void unlink_if_exists(hid_t parent, const std::string& name, const std::string& context) {
  if (link_exists(parent, name))
    check(H5Ldelete(parent, name.c_str(), H5P_DEFAULT), fmt::format("{}: removing '{}'", context, name));
}

std::vector<std::string> link_names(hid_t group, const std::string& context) {
  std::vector<std::string> names;
  hsize_t index = 0;
  check_input(H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &index, collect_link, &names),
              fmt::format("{}: listing", context));
  return names;
}

bool path_exists(hid_t parent, const std::string& path) {
  size_t end = 0;
  while (end != std::string::npos) {
    end = path.find('/', end + 1);
    if (!link_exists(parent, path.substr(0, end))) return false;
  }
  return true;
}

H5I_type_t object_type(hid_t parent, const std::string& name, const std::string& context) {
  Handle object(check_input(H5Oopen(parent, name.c_str(), H5P_DEFAULT),
                            fmt::format("{}: opening '{}'", context, name)));
  return H5Iget_type(object);
}

std::vector<std::string> attribute_names(hid_t object, const std::string& context) {
  std::vector<std::string> names;
  hsize_t index = 0;
  check_input(H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, &index, collect_attribute, &names),
              fmt::format("{}: listing attributes", context));
  return names;
}

void write_attribute(hid_t object, const std::string& name, const std::string& value) {
  Handle type = string_type();
  Handle space = scalar_space();
  const char* text = value.c_str();
  put_attribute(object, name, type, space, type, &text);
}

void write_attribute(hid_t object, const std::string& name, int64_t value) {
  Handle space = scalar_space();
  put_attribute(object, name, H5T_STD_I64LE, space, H5T_NATIVE_INT64, &value);
}

void write_attribute(hid_t object, const std::string& name, uint64_t value) {
  Handle space = scalar_space();
  put_attribute(object, name, H5T_STD_U64LE, space, H5T_NATIVE_UINT64, &value);
}

void write_attribute(hid_t object, const std::string& name, double value) {
  Handle space = scalar_space();
  put_attribute(object, name, H5T_IEEE_F64LE, space, H5T_NATIVE_DOUBLE, &value);
}

void write_attribute(hid_t object, const std::string& name, const std::vector<std::string>& values) {
  Handle type = string_type();
  Handle space = simple_space({values.size()});
  std::vector<const char*> texts;
  for (const std::string& value : values) texts.push_back(value.c_str());
  put_attribute(object, name, type, space, type, texts.data());
}

bool has_attribute(hid_t object, const std::string& name) { return H5Aexists(object, name.c_str()) > 0; }

std::string read_string_attribute(hid_t object, const std::string& name, const std::string& context) {
  Handle attribute = open_scalar_attribute(object, name, H5T_STRING, "string", context);
  return read_string_value(attribute, fmt::format("{}: attribute '{}'", context, name));
}

int64_t read_int_attribute(hid_t object, const std::string& name, const std::string& context) {
  Handle attribute = open_scalar_attribute(object, name, H5T_INTEGER, "integer", context);
  int64_t value = 0;
  check_input(H5Aread(attribute, H5T_NATIVE_INT64, &value), fmt::format("{}: attribute '{}'", context, name));
  return value;
}

uint64_t read_uint_attribute(hid_t object, const std::string& name, const std::string& context) {
  Handle attribute = open_scalar_attribute(object, name, H5T_INTEGER, "integer", context);
  uint64_t value = 0;
  check_input(H5Aread(attribute, H5T_NATIVE_UINT64, &value), fmt::format("{}: attribute '{}'", context, name));
  return value;
}

double read_double_attribute(hid_t object, const std::string& name, const std::string& context) {
  Handle attribute = open_scalar_attribute(object, name, H5T_FLOAT, "number", context);
  double value = 0;
  check_input(H5Aread(attribute, H5T_NATIVE_DOUBLE, &value), fmt::format("{}: attribute '{}'", context, name));
  return value;
}

std::vector<std::string> read_strings_attribute(hid_t object, const std::string& name,
                                                const std::string& context) {
  const std::string where = fmt::format("{}: attribute '{}'", context, name);
  if (!has_attribute(object, name)) throw InputError(where + " is missing");
  Handle attribute(check_input(H5Aopen(object, name.c_str(), H5P_DEFAULT), where));
  return read_string_list(attribute, true, where);
}

H5T_class_t attribute_class(hid_t object, const std::string& name, const std::string& context) {
  Handle attribute(check_input(H5Aopen(object, name.c_str(), H5P_DEFAULT),
                               fmt::format("{}: attribute '{}'", context, name)));
  Handle type(check_input(H5Aget_type(attribute), context));
  return H5Tget_class(type);
}

Handle create_growing_dataset(hid_t parent, const std::string& name, hid_t type,
                              const std::vector<hsize_t>& inner_shape, hsize_t chunk_rows,
                              hsize_t initial_rows, const std::string& context) {
  const std::string where = fmt::format("{}: creating dataset '{}'", context, name);
  std::vector<hsize_t> dims{initial_rows};
  std::vector<hsize_t> max_dims{H5S_UNLIMITED};
  std::vector<hsize_t> chunk{chunk_rows};
  for (hsize_t dim : inner_shape) {
    dims.push_back(dim);
    max_dims.push_back(dim);
    chunk.push_back(dim);
  }
  Handle space(check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), max_dims.data()), where));
  Handle dcpl(check(H5Pcreate(H5P_DATASET_CREATE), where));
  check(H5Pset_chunk(dcpl, static_cast<int>(chunk.size()), chunk.data()), where);
  if (H5Tget_class(type) == H5T_FLOAT) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    check(H5Pset_fill_value(dcpl, H5T_NATIVE_DOUBLE, &nan), where);
  } else {
    const int64_t zero = 0;
    check(H5Pset_fill_value(dcpl, H5T_NATIVE_INT64, &zero), where);
  }
  Handle lcpl = intermediate_links();
  return Handle(check(H5Dcreate2(parent, name.c_str(), type, space, lcpl, dcpl, H5P_DEFAULT), where));
}

void append_rows(hid_t dataset, hid_t memory_type, const void* rows, hsize_t new_rows,
                 const std::string& context) {
  if (new_rows == 0) return;
  std::vector<hsize_t> shape = dataset_shape(dataset, context);
  const hsize_t old_rows = shape[0];
  shape[0] = old_rows + new_rows;
  check(H5Dset_extent(dataset, shape.data()), context);
  Handle file_space(check(H5Dget_space(dataset), context));
  std::vector<hsize_t> start(shape.size(), 0);
  start[0] = old_rows;
  std::vector<hsize_t> count = shape;
  count[0] = new_rows;
  check(H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr), context);
  Handle memory_space = simple_space(count);
  check(H5Dwrite(dataset, memory_type, memory_space, file_space, H5P_DEFAULT, rows), context);
}

void resize_rows(hid_t dataset, hsize_t rows, const std::string& context) {
  std::vector<hsize_t> shape = dataset_shape(dataset, context);
  shape[0] = rows;
  check(H5Dset_extent(dataset, shape.data()), context);
}

void write_dataset(hid_t parent, const std::string& name, const std::vector<hsize_t>& shape,
                   std::span<const double> values, const std::string& context) {
  const std::string where = fmt::format("{}: writing dataset '{}'", context, name);
  Handle space = shape.empty() ? scalar_space() : simple_space(shape);
  if (static_cast<size_t>(H5Sget_simple_extent_npoints(space)) != values.size())
    throw std::invalid_argument(where + ": shape and number of values differ");
  Handle lcpl = intermediate_links();
  Handle dataset(check(H5Dcreate2(parent, name.c_str(), H5T_IEEE_F64LE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT),
                       where));
  if (!values.empty())
    check(H5Dwrite(dataset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), where);
}

void write_dataset(hid_t parent, const std::string& name, std::span<const std::string> values,
                   const std::string& context) {
  const std::string where = fmt::format("{}: writing dataset '{}'", context, name);
  Handle type = string_type();
  Handle space = simple_space({values.size()});
  Handle lcpl = intermediate_links();
  Handle dataset(check(H5Dcreate2(parent, name.c_str(), type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT), where));
  std::vector<const char*> texts;
  for (const std::string& value : values) texts.push_back(value.c_str());
  if (!texts.empty()) check(H5Dwrite(dataset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, texts.data()), where);
}

std::vector<hsize_t> dataset_shape(hid_t dataset, const std::string& context) {
  Handle space(check_input(H5Dget_space(dataset), context));
  const int rank = H5Sget_simple_extent_ndims(space);
  check_input(rank, context);
  std::vector<hsize_t> shape(static_cast<size_t>(rank));
  check_input(H5Sget_simple_extent_dims(space, shape.data(), nullptr), context);
  return shape;
}

std::vector<double> read_doubles(hid_t dataset, const std::string& context) {
  return read_rows<double>(dataset, H5T_NATIVE_DOUBLE, std::nullopt, context);
}

std::vector<int64_t> read_ints(hid_t dataset, const std::string& context) {
  return read_rows<int64_t>(dataset, H5T_NATIVE_INT64, std::nullopt, context);
}

std::vector<double> read_double_rows(hid_t dataset, hsize_t rows, const std::string& context) {
  return read_rows<double>(dataset, H5T_NATIVE_DOUBLE, rows, context);
}

std::vector<int64_t> read_int_rows(hid_t dataset, hsize_t rows, const std::string& context) {
  return read_rows<int64_t>(dataset, H5T_NATIVE_INT64, rows, context);
}

std::vector<std::string> read_strings(hid_t dataset, const std::string& context) {
  return read_string_list(dataset, false, context);
}

std::optional<int64_t> read_last_int(hid_t dataset, const std::string& context) {
  const std::vector<hsize_t> shape = dataset_shape(dataset, context);
  if (shape.size() != 1 || shape[0] == 0) return std::nullopt;
  Handle file_space(check_input(H5Dget_space(dataset), context));
  const hsize_t last = shape[0] - 1;
  check_input(H5Sselect_elements(file_space, H5S_SELECT_SET, 1, &last), context);
  Handle memory_space = scalar_space();
  int64_t value = 0;
  check_input(H5Dread(dataset, H5T_NATIVE_INT64, memory_space, file_space, H5P_DEFAULT, &value), context);
  return value;
}

}  // namespace plascale::h5
