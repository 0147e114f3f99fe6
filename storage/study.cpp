#include "storage/study.h"

#include <fmt/core.h>

#include <stdexcept>

#include "storage/hdf5.h"
#include "storage/schema.h"
#include "sweeps/errors.h"
#include "sweeps/format.h"

namespace plascale {

namespace {

void check_run_id(const std::string& run_id) {
  if (run_id.empty() || run_id == "." || run_id == ".." || run_id.find('/') != std::string::npos)
    throw std::invalid_argument(fmt::format("run id '{}' is not allowed: it must be non-empty and without '/'", run_id));
}

void check_fit_path(const std::string& path) {
  bool bad = path.empty() || path.front() == '/' || path.back() == '/' || path.find("//") != std::string::npos;
  for (size_t begin = 0; !bad && begin <= path.size();) {
    const size_t end = std::min(path.find('/', begin), path.size());
    const std::string part = path.substr(begin, end - begin);
    bad = part == "." || part == "..";
    begin = end + 1;
  }
  if (bad)
    throw std::invalid_argument(fmt::format("fit group path '{}' is not allowed: use names separated by single '/', "
                                            "e.g. 'laws/none'", path));
}

std::string run_context(const std::filesystem::path& file, const std::string& run_id) {
  return fmt::format("{}:/runs/{}", file.string(), run_id);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// StudyWriter

struct StudyWriter::State {
  std::filesystem::path dir;
  std::filesystem::path file_path;
  h5::Handle file;
  h5::Handle runs;
  h5::Handle fits;

  h5::Handle open_run(const std::string& run_id) const {
    if (!h5::link_exists(runs, run_id))
      throw InputError(fmt::format("{}: no run '{}' is registered", file_path.string(), run_id));
    return h5::open_group(runs, run_id, file_path.string() + ":/runs");
  }
  void flush() const { h5::flush(file, fmt::format("{}: flushing", file_path.string())); }
};

StudyWriter::StudyWriter(std::unique_ptr<State> state) : state_(std::move(state)) {}
StudyWriter::StudyWriter(StudyWriter&&) noexcept = default;
StudyWriter& StudyWriter::operator=(StudyWriter&&) noexcept = default;
StudyWriter::~StudyWriter() = default;

StudyWriter StudyWriter::create(const std::filesystem::path& study_dir, const std::string& sweep_yaml,
                                const std::string& sweep_hash) {
  auto state = std::make_unique<State>();
  state->dir = study_dir;
  state->file_path = study_file_path(study_dir);
  if (std::filesystem::exists(state->file_path))
    throw InputError(fmt::format("{} already exists; open the study to continue it", state->file_path.string()));
  std::filesystem::create_directories(study_dir / "runs");
  state->file = h5::create_file(state->file_path);
  schema::write_format_version(state->file);
  h5::write_attribute(state->file, "plascale_version", std::string(PLASCALE_VERSION));
  h5::write_attribute(state->file, "created_utc", utc_now());
  h5::write_attribute(state->file, "sweep_yaml", sweep_yaml);
  h5::write_attribute(state->file, "sweep_hash", sweep_hash);
  state->runs = h5::create_group(state->file, "runs", state->file_path.string());
  state->fits = h5::create_group(state->file, "fits", state->file_path.string());
  state->flush();
  return StudyWriter(std::move(state));
}

StudyWriter StudyWriter::open(const std::filesystem::path& study_dir) {
  auto state = std::make_unique<State>();
  state->dir = study_dir;
  state->file_path = study_file_path(study_dir);
  // Check the version before opening for writing: a newer file must stay untouched.
  schema::check_format_version(h5::open_file(state->file_path, false), state->file_path);
  state->file = h5::open_file(state->file_path, true);
  state->runs = h5::open_group(state->file, "runs", state->file_path.string());
  state->fits = h5::open_group(state->file, "fits", state->file_path.string());
  return StudyWriter(std::move(state));
}

bool StudyWriter::register_run(const RunAttributes& run, bool replace) {
  State& s = *state_;
  check_run_id(run.id);
  if (h5::link_exists(s.runs, run.id)) {
    h5::Handle existing = s.open_run(run.id);
    const std::string spec = h5::read_string_attribute(existing, "spec_yaml", run_context(s.file_path, run.id));
    if (spec == run.spec_yaml) return false;
    if (!replace)
      throw InputError(fmt::format("{}: run '{}' is already registered with a different spec_yaml; a run id "
                                   "names one spec (replace the run to start it afresh)",
                                   s.file_path.string(), run.id));
    existing.reset();
    h5::unlink_if_exists(s.runs, run.id, s.file_path.string());
  }
  h5::Handle group = h5::create_group(s.runs, run.id, s.file_path.string());
  schema::write_run_attributes(group, run, true);
  s.flush();
  return true;
}

void StudyWriter::set_status(const std::string& run_id, RunStatus status, int64_t attempts,
                             const std::string& last_error) {
  State& s = *state_;
  h5::Handle group = s.open_run(run_id);
  h5::write_attribute(group, "status", std::string(run_status_name(status)));
  h5::write_attribute(group, "attempts", attempts);
  h5::write_attribute(group, "last_error", last_error);
  s.flush();
}

void StudyWriter::merge_run(const std::string& run_id) {
  State& s = *state_;
  h5::Handle group = s.open_run(run_id);
  const std::filesystem::path source_path = run_file_path(s.dir, run_id);
  h5::Handle source = h5::open_file(source_path, false);
  schema::check_format_version(source, source_path);
  for (const char* name : {schema::kTrajectory, schema::kProbe}) {
    if (!h5::link_exists(source, name))
      throw InputError(fmt::format("{}: group '{}' is missing", source_path.string(), name));
    h5::unlink_if_exists(group, name, run_context(s.file_path, run_id));
    h5::check(H5Ocopy(source, name, group, name, H5P_DEFAULT, H5P_DEFAULT),
              fmt::format("copying {}:/{} into {}", source_path.string(), name, run_context(s.file_path, run_id)));
  }
  s.flush();
}

void StudyWriter::write_fit_group(const std::string& path, const DataGroup& data) {
  State& s = *state_;
  check_fit_path(path);
  const std::string context = fmt::format("{}:/fits/{}", s.file_path.string(), path);
  if (h5::path_exists(s.fits, path)) h5::check(H5Ldelete(s.fits, path.c_str(), H5P_DEFAULT), context);
  h5::Handle group = h5::create_group(s.fits, path, context);
  for (const auto& [name, array] : data.arrays) {
    const std::vector<hsize_t> shape(array.shape.begin(), array.shape.end());
    h5::write_dataset(group, name, shape, array.values, context);
  }
  for (const auto& [name, strings] : data.string_lists) h5::write_dataset(group, name, strings, context);
  for (const auto& [name, value] : data.attributes)
    std::visit([&, &name = name](const auto& v) { h5::write_attribute(group, name, v); }, value);
  s.flush();
}

const std::filesystem::path& StudyWriter::dir() const { return state_->dir; }

// ---------------------------------------------------------------------------------------
// StudyReader

struct StudyReader::State {
  std::filesystem::path dir;
  std::filesystem::path file_path;
  h5::Handle file;
  h5::Handle runs;
  StudyInfo info;

  bool has_run(const std::string& run_id) const {
    return !run_id.empty() && run_id.find('/') == std::string::npos && h5::link_exists(runs, run_id);
  }

  h5::Handle open_run(const std::string& run_id) const {
    if (!has_run(run_id))
      throw InputError(fmt::format("{}: the study has no run '{}'", file_path.string(), run_id));
    return h5::open_group(runs, run_id, file_path.string() + ":/runs");
  }

  // The unmerged run's own file, opened read-only; nullopt when it does not exist yet.
  std::optional<h5::Handle> open_run_file(const std::string& run_id) const {
    const std::filesystem::path path = run_file_path(dir, run_id);
    if (!std::filesystem::exists(path)) return std::nullopt;
    h5::Handle file = h5::open_file(path, false);
    schema::check_format_version(file, path);
    return file;
  }

  RunInfo run_info(const std::string& run_id) const {
    h5::Handle group = open_run(run_id);
    RunInfo info;
    info.attributes = schema::read_run_attributes(group, run_id, run_context(file_path, run_id));
    info.merged = h5::link_exists(group, schema::kTrajectory);
    schema::TrajectoryExtent extent;
    if (info.merged) {
      extent = schema::trajectory_extent(group, run_context(file_path, run_id));
    } else {
      // A run file being created or damaged by a crash must not stop the listing.
      try {
        if (std::optional<h5::Handle> run_file = open_run_file(run_id))
          extent = schema::trajectory_extent(*run_file, run_file_path(dir, run_id).string());
      } catch (const InputError& error) {
        info.run_file_error = error.what();
      }
    }
    info.points = extent.points;
    info.last_tokens = extent.last_tokens;
    return info;
  }
};

StudyReader::StudyReader(const std::filesystem::path& study_dir) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.dir = study_dir;
  s.file_path = study_file_path(study_dir);
  if (!std::filesystem::is_directory(study_dir))
    throw InputError(fmt::format("{}: no such study folder", study_dir.string()));
  s.file = h5::open_file(s.file_path, false);
  schema::check_format_version(s.file, s.file_path);
  const std::string context = s.file_path.string();
  s.info.format_version = h5::read_int_attribute(s.file, "format_version", context);
  s.info.plascale_version = h5::read_string_attribute(s.file, "plascale_version", context);
  s.info.created_utc = h5::read_string_attribute(s.file, "created_utc", context);
  s.info.sweep_yaml = h5::read_string_attribute(s.file, "sweep_yaml", context);
  s.info.sweep_hash = h5::read_string_attribute(s.file, "sweep_hash", context);
  s.runs = h5::open_group(s.file, "runs", context);
  if (!h5::link_exists(s.file, "fits")) throw InputError(fmt::format("{}: group 'fits' is missing", context));
}

StudyReader::StudyReader(StudyReader&&) noexcept = default;
StudyReader& StudyReader::operator=(StudyReader&&) noexcept = default;
StudyReader::~StudyReader() = default;

const StudyInfo& StudyReader::info() const { return state_->info; }

std::vector<RunInfo> StudyReader::runs() const {
  std::vector<RunInfo> runs;
  for (const std::string& run_id : h5::link_names(state_->runs, state_->file_path.string() + ":/runs"))
    runs.push_back(state_->run_info(run_id));
  return runs;
}

bool StudyReader::has_run(const std::string& run_id) const { return state_->has_run(run_id); }

RunInfo StudyReader::run(const std::string& run_id) const { return state_->run_info(run_id); }

Trajectory StudyReader::read_trajectory(const std::string& run_id) const {
  h5::Handle group = state_->open_run(run_id);
  if (h5::link_exists(group, schema::kTrajectory))
    return schema::read_trajectory(group, run_context(state_->file_path, run_id));
  if (std::optional<h5::Handle> run_file = state_->open_run_file(run_id))
    return schema::read_trajectory(*run_file, run_file_path(state_->dir, run_id).string());
  return {};
}

Probe StudyReader::read_probe(const std::string& run_id) const {
  h5::Handle group = state_->open_run(run_id);
  if (h5::link_exists(group, schema::kProbe))
    return schema::read_probe(group, run_context(state_->file_path, run_id));
  if (std::optional<h5::Handle> run_file = state_->open_run_file(run_id))
    return schema::read_probe(*run_file, run_file_path(state_->dir, run_id).string());
  return {};
}

namespace {

// Adds `prefix` if its group holds datasets or attributes, then recurses into subgroups.
void collect_fit_groups(hid_t group, const std::string& prefix, const std::string& context,
                        std::vector<std::string>& paths) {
  bool has_datasets = false;
  std::vector<std::string> subgroups;
  for (const std::string& name : h5::link_names(group, context)) {
    if (h5::object_type(group, name, context) == H5I_GROUP) {
      subgroups.push_back(name);
    } else {
      has_datasets = true;
    }
  }
  if (!prefix.empty() && (has_datasets || !h5::attribute_names(group, context).empty())) paths.push_back(prefix);
  for (const std::string& name : subgroups) {
    const std::string path = prefix.empty() ? name : prefix + "/" + name;
    h5::Handle child = h5::open_group(group, name, context);
    collect_fit_groups(child, path, context + "/" + name, paths);
  }
}

}  // namespace

std::vector<std::string> StudyReader::fit_groups() const {
  const std::string context = state_->file_path.string() + ":/fits";
  h5::Handle fits = h5::open_group(state_->file, "fits", state_->file_path.string());
  std::vector<std::string> paths;
  collect_fit_groups(fits, "", context, paths);
  return paths;
}

DataGroup StudyReader::read_fit_group(const std::string& path) const {
  const std::string context = fmt::format("{}:/fits/{}", state_->file_path.string(), path);
  h5::Handle fits = h5::open_group(state_->file, "fits", state_->file_path.string());
  if (path.empty() || path.front() == '/' || !h5::path_exists(fits, path))
    throw InputError(fmt::format("{}: no such fit group", context));
  h5::Handle group(h5::check_input(H5Gopen2(fits, path.c_str(), H5P_DEFAULT), context));
  DataGroup data;
  for (const std::string& name : h5::link_names(group, context)) {
    if (h5::object_type(group, name, context) != H5I_DATASET) continue;
    const std::string where = context + "/" + name;
    h5::Handle dataset(h5::check_input(H5Dopen2(group, name.c_str(), H5P_DEFAULT), where));
    h5::Handle type(h5::check_input(H5Dget_type(dataset), where));
    if (H5Tget_class(type) == H5T_STRING) {
      data.string_lists.emplace(name, h5::read_strings(dataset, where));
    } else {
      const std::vector<hsize_t> shape = h5::dataset_shape(dataset, where);
      data.arrays.emplace(name, NumericArray{{shape.begin(), shape.end()}, h5::read_doubles(dataset, where)});
    }
  }
  for (const std::string& name : h5::attribute_names(group, context)) {
    switch (h5::attribute_class(group, name, context)) {
      case H5T_INTEGER: data.attributes.emplace(name, h5::read_int_attribute(group, name, context)); break;
      case H5T_FLOAT: data.attributes.emplace(name, h5::read_double_attribute(group, name, context)); break;
      case H5T_STRING: data.attributes.emplace(name, h5::read_string_attribute(group, name, context)); break;
      default: throw InputError(fmt::format("{}: attribute '{}' is not a number or string", context, name));
    }
  }
  return data;
}

}  // namespace plascale
