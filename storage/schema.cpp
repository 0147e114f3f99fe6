#include "storage/schema.h"

#include <fmt/core.h>

#include <algorithm>

#include "storage/hdf5.h"
#include "storage/layout.h"
#include "sweeps/errors.h"

namespace plascale::schema {

void write_format_version(hid_t file) {
  h5::write_attribute(file, "format_version", static_cast<int64_t>(kStorageFormatVersion));
}

void check_format_version(hid_t file, const std::filesystem::path& path) {
  if (!h5::has_attribute(file, "format_version"))
    throw InputError(fmt::format("{} has no format_version attribute: not a plascale file", path.string()));
  const int64_t version = h5::read_int_attribute(file, "format_version", path.string());
  if (version > kStorageFormatVersion)
    throw InputError(fmt::format("{} has format_version {}; this plascale reads format_version {}; "
                                 "upgrade plascale",
                                 path.string(), version, kStorageFormatVersion));
  if (version < 1)
    throw InputError(fmt::format("{} has format_version {}; valid versions are 1 to {}", path.string(),
                                 version, kStorageFormatVersion));
}

void write_run_attributes(hid_t object, const RunAttributes& run, bool with_status) {
  h5::write_attribute(object, "size", run.size);
  h5::write_attribute(object, "n_params_nonembedding", run.n_params_nonembedding);
  h5::write_attribute(object, "n_params_total", run.n_params_total);
  h5::write_attribute(object, "token_budget", run.token_budget);
  h5::write_attribute(object, "mitigation", run.mitigation);
  h5::write_attribute(object, "seed", run.seed);
  h5::write_attribute(object, "spec_yaml", run.spec_yaml);
  if (with_status) {
    h5::write_attribute(object, "status", std::string(run_status_name(run.status)));
    h5::write_attribute(object, "attempts", run.attempts);
    h5::write_attribute(object, "last_error", run.last_error);
  }
}

RunAttributes read_run_attributes(hid_t object, const std::string& id, const std::string& context) {
  RunAttributes run;
  run.id = id;
  run.size = h5::read_string_attribute(object, "size", context);
  run.n_params_nonembedding = h5::read_int_attribute(object, "n_params_nonembedding", context);
  run.n_params_total = h5::read_int_attribute(object, "n_params_total", context);
  run.token_budget = h5::read_int_attribute(object, "token_budget", context);
  run.mitigation = h5::read_string_attribute(object, "mitigation", context);
  run.seed = h5::read_uint_attribute(object, "seed", context);
  run.spec_yaml = h5::read_string_attribute(object, "spec_yaml", context);
  const std::string status = h5::read_string_attribute(object, "status", context);
  try {
    run.status = parse_run_status(status);
  } catch (const InputError& error) {
    throw InputError(fmt::format("{}: attribute 'status': {}", context, error.what()));
  }
  run.attempts = h5::read_int_attribute(object, "attempts", context);
  run.last_error = h5::read_string_attribute(object, "last_error", context);
  return run;
}

namespace {

struct OpenedDataset {
  std::string name;
  h5::Handle dataset;
  std::vector<hsize_t> shape;
};

// Opens every dataset in parent/group_name; empty if the group does not exist.
std::vector<OpenedDataset> open_datasets(hid_t parent, const char* group_name, const std::string& context) {
  std::vector<OpenedDataset> datasets;
  if (!h5::link_exists(parent, group_name)) return datasets;
  h5::Handle group = h5::open_group(parent, group_name, context);
  const std::string group_context = fmt::format("{}/{}", context, group_name);
  for (const std::string& name : h5::link_names(group, group_context)) {
    const std::string where = fmt::format("{}/{}", group_context, name);
    h5::Handle dataset(h5::check_input(H5Dopen2(group, name.c_str(), H5P_DEFAULT), where + ": opening"));
    std::vector<hsize_t> shape = h5::dataset_shape(dataset, where);
    datasets.push_back({name, std::move(dataset), std::move(shape)});
  }
  return datasets;
}

hsize_t shortest_rows(const std::vector<OpenedDataset>& datasets, std::initializer_list<std::string> names,
                      const std::string& context) {
  std::optional<hsize_t> rows;
  for (const OpenedDataset& entry : datasets) {
    if (names.size() != 0 && std::find(names.begin(), names.end(), entry.name) == names.end()) continue;
    if (entry.shape.empty())
      throw InputError(fmt::format("{}/{}: expected an array with one row per point", context, entry.name));
    rows = std::min(rows.value_or(entry.shape[0]), entry.shape[0]);
  }
  return rows.value_or(0);
}

}  // namespace

Trajectory read_trajectory(hid_t parent, const std::string& context) {
  Trajectory trajectory;
  std::vector<OpenedDataset> datasets = open_datasets(parent, kTrajectory, context);
  const std::string group_context = fmt::format("{}/{}", context, kTrajectory);
  const hsize_t points = shortest_rows(datasets, {}, group_context);
  for (const OpenedDataset& entry : datasets) {
    const std::string where = fmt::format("{}/{}", group_context, entry.name);
    if (entry.name == "step" || entry.name == "tokens") {
      (entry.name == "step" ? trajectory.step : trajectory.tokens) = h5::read_int_rows(entry.dataset, points, where);
      continue;
    }
    MetricSeries series;
    series.shape.assign(entry.shape.begin(), entry.shape.end());
    series.shape[0] = points;
    series.values = h5::read_double_rows(entry.dataset, points, where);
    if (h5::has_attribute(entry.dataset, "columns"))
      series.columns = h5::read_strings_attribute(entry.dataset, "columns", where);
    trajectory.metrics.emplace(entry.name, std::move(series));
  }
  if (!datasets.empty() && (trajectory.tokens.size() != points || trajectory.step.size() != points))
    throw InputError(fmt::format("{}: datasets 'step' and 'tokens' are required", group_context));
  return trajectory;
}

Probe read_probe(hid_t parent, const std::string& context) {
  Probe probe;
  std::vector<OpenedDataset> datasets = open_datasets(parent, kProbe, context);
  const std::string group_context = fmt::format("{}/{}", context, kProbe);
  const hsize_t probes = shortest_rows(datasets, {"tokens", "auc", "curves"}, group_context);
  for (const OpenedDataset& entry : datasets) {
    const std::string where = fmt::format("{}/{}", group_context, entry.name);
    if (entry.name == "tokens") {
      probe.tokens = h5::read_int_rows(entry.dataset, probes, where);
    } else if (entry.name == "auc") {
      probe.auc = h5::read_double_rows(entry.dataset, probes, where);
    } else if (entry.name == "curves") {
      probe.curves = h5::read_double_rows(entry.dataset, probes, where);
    } else if (entry.name == "curve_steps") {
      probe.curve_steps = h5::read_ints(entry.dataset, where);
    } else if (entry.name == "scratch_auc") {
      probe.scratch_auc = h5::read_doubles(entry.dataset, where).at(0);
      probe.has_scratch_baseline = true;
    } else if (entry.name == "scratch_curve") {
      probe.scratch_curve = h5::read_doubles(entry.dataset, where);
    }
  }
  if (probe.tokens.size() != probe.auc.size() || probe.curves.size() != probes * probe.curve_steps.size())
    throw InputError(fmt::format("{}: datasets tokens, auc, curves and curve_steps do not fit together",
                                 group_context));
  return probe;
}

TrajectoryExtent trajectory_extent(hid_t parent, const std::string& context) {
  const std::string path = fmt::format("{}/tokens", kTrajectory);
  if (!h5::link_exists(parent, kTrajectory) || !h5::link_exists(parent, path)) return {};
  const std::string where = fmt::format("{}/{}", context, path);
  h5::Handle tokens(h5::check_input(H5Dopen2(parent, path.c_str(), H5P_DEFAULT), where + ": opening"));
  const std::vector<hsize_t> shape = h5::dataset_shape(tokens, where);
  if (shape.size() != 1) throw InputError(where + ": expected a 1-D array");
  return {static_cast<int64_t>(shape[0]), h5::read_last_int(tokens, where)};
}

}  // namespace plascale::schema
