#include "storage/run_file.h"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <limits>
#include <map>
#include <stdexcept>

#include "storage/hdf5.h"
#include "storage/schema.h"
#include "sweeps/errors.h"

namespace plascale {

RunAttributes run_attributes(const RunSpec& spec, RunStatus status, const std::string& spec_yaml) {
  RunAttributes run;
  run.id = spec.id;
  run.size = spec.model.size_name;
  run.n_params_nonembedding = nonembedding_params(spec.model);
  run.n_params_total = total_params(spec.model);
  run.token_budget = spec.token_budget;
  run.mitigation = spec.mitigation.name.empty() ? "none" : spec.mitigation.name;
  run.seed = spec.seed;
  run.status = status;
  run.spec_yaml = spec_yaml;
  return run;
}

namespace {

constexpr std::array<const char*, 5> kStatusNames = {"pending", "running", "done", "failed", "diverged"};
constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

enum class MetricKind { scalar, vector, matrix };

// One trajectory metric: its dataset and the rows buffered for it since the last write.
struct Column {
  MetricKind kind = MetricKind::scalar;
  h5::Handle dataset;
  std::vector<hsize_t> inner_shape;  // {} scalar, {entries} vector, {rows, cols} matrix
  std::vector<std::string> columns;
  size_t row_size = 1;
  std::vector<double> pending;
};

// Probe datasets exist once the first probe is appended.
struct ProbeDatasets {
  h5::Handle tokens, auc, curves, curve_steps;
  std::vector<int64_t> steps;
  bool exists() const { return tokens.valid(); }
};

void check_metric_name(const std::string& name) {
  if (name.empty() || name == "." || name.find('/') != std::string::npos || name == "step" || name == "tokens")
    throw std::invalid_argument(fmt::format("trajectory metric name '{}' is not allowed: names must be "
                                            "non-empty, without '/', and not 'step' or 'tokens'", name));
}

void check_options(const RunFileOptions& options) {
  if (options.batch_rows < 1 || options.chunk_rows < 1)
    throw std::invalid_argument("RunFileOptions: batch_rows and chunk_rows must be at least 1");
}

size_t product(const std::vector<hsize_t>& shape) {
  size_t size = 1;
  for (hsize_t dim : shape) size *= dim;
  return size;
}

}  // namespace

const char* run_status_name(RunStatus status) { return kStatusNames.at(static_cast<size_t>(status)); }

RunStatus parse_run_status(std::string_view name) {
  for (size_t i = 0; i < kStatusNames.size(); ++i)
    if (name == kStatusNames[i]) return static_cast<RunStatus>(i);
  throw InputError(fmt::format("unknown run status '{}'; allowed: pending, running, done, failed, diverged", name));
}

size_t MetricSeries::row_size() const {
  size_t size = 1;
  for (size_t i = 1; i < shape.size(); ++i) size *= shape[i];
  return size;
}

struct RunFileWriter::State {
  std::filesystem::path path;
  RunFileOptions options;
  h5::Handle file;
  h5::Handle trajectory;
  h5::Handle probe_group;
  h5::Handle step;
  h5::Handle tokens;
  std::map<std::string, Column> metrics;
  std::vector<int64_t> pending_step;
  std::vector<int64_t> pending_tokens;
  int64_t rows_on_disk = 0;
  std::optional<int64_t> last_tokens;
  ProbeDatasets probe;

  // Flushing here covers both the writer's destructor and assigning over a live writer.
  ~State() {
    try {
      flush();
    } catch (const std::exception&) {
      // A destructor must not throw; callers who need to know call flush() themselves.
    }
  }

  std::string where(const std::string& object) const { return fmt::format("{}: {}", path.string(), object); }

  h5::Handle open_dataset(hid_t group, const std::string& name) const {
    return h5::Handle(h5::check_input(H5Dopen2(group, name.c_str(), H5P_DEFAULT), where(name)));
  }

  Column& add_column(const std::string& name, MetricKind kind, std::vector<hsize_t> inner_shape,
                     std::vector<std::string> columns) {
    check_metric_name(name);
    Column column;
    column.kind = kind;
    column.row_size = product(inner_shape);
    column.dataset = h5::create_growing_dataset(trajectory, name, H5T_IEEE_F64LE, inner_shape,
                                                static_cast<hsize_t>(options.chunk_rows),
                                                static_cast<hsize_t>(rows_on_disk), where("trajectory"));
    if (!columns.empty()) h5::write_attribute(column.dataset, "columns", columns);
    column.inner_shape = std::move(inner_shape);
    column.columns = std::move(columns);
    // Rows already buffered predate this metric.
    column.pending.assign(pending_tokens.size() * column.row_size, kMissing);
    return metrics.emplace(name, std::move(column)).first->second;
  }

  // Finds the metric's column, creating it on first sight; checks the shape never changes.
  void prepare_column(const std::string& name, MetricKind kind, std::vector<hsize_t> inner_shape,
                      const std::vector<std::string>& columns) {
    auto found = metrics.find(name);
    if (found == metrics.end()) {
      add_column(name, kind, std::move(inner_shape), columns);
      return;
    }
    const Column& column = found->second;
    if (column.kind != kind || column.inner_shape != inner_shape || column.columns != columns)
      throw std::invalid_argument(fmt::format("trajectory metric '{}' changed its kind, shape or column names "
                                              "after the first row that had it", name));
  }

  void write_pending() {
    const hsize_t rows = pending_tokens.size();
    if (rows == 0) return;
    const std::string context = where("appending trajectory rows");
    h5::append_rows(step, H5T_NATIVE_INT64, pending_step.data(), rows, context);
    h5::append_rows(tokens, H5T_NATIVE_INT64, pending_tokens.data(), rows, context);
    for (auto& [name, column] : metrics) {
      h5::append_rows(column.dataset, H5T_NATIVE_DOUBLE, column.pending.data(), rows, context);
      column.pending.clear();
    }
    pending_step.clear();
    pending_tokens.clear();
    rows_on_disk += static_cast<int64_t>(rows);
  }

  void flush() {
    write_pending();
    h5::flush(file, where("flushing"));
  }

  std::vector<int64_t> stored_tokens() const { return h5::read_ints(tokens, where("trajectory/tokens")); }

  // Cuts the trajectory to `rows` rows and the probes to those with tokens <= probe_bound
  // (all probes when there is no bound).
  void truncate(int64_t rows, std::optional<int64_t> probe_bound) {
    write_pending();
    const std::string context = where("truncating");
    const std::vector<int64_t> kept_tokens = h5::read_int_rows(tokens, static_cast<hsize_t>(rows), context);
    h5::resize_rows(step, static_cast<hsize_t>(rows), context);
    h5::resize_rows(tokens, static_cast<hsize_t>(rows), context);
    for (auto& [name, column] : metrics) h5::resize_rows(column.dataset, static_cast<hsize_t>(rows), context);
    rows_on_disk = rows;
    last_tokens = kept_tokens.empty() ? std::nullopt : std::optional<int64_t>(kept_tokens.back());
    if (probe.exists()) {
      const std::vector<int64_t> probe_tokens = h5::read_ints(probe.tokens, where("probe/tokens"));
      size_t kept = 0;
      while (probe_bound && kept < probe_tokens.size() && probe_tokens[kept] <= *probe_bound) ++kept;
      for (hid_t dataset : {probe.tokens.get(), probe.auc.get(), probe.curves.get()})
        h5::resize_rows(dataset, kept, context);
    }
    flush();
  }
};

RunFileWriter::RunFileWriter(std::unique_ptr<State> state) : state_(std::move(state)) {}
RunFileWriter::RunFileWriter(RunFileWriter&&) noexcept = default;
RunFileWriter& RunFileWriter::operator=(RunFileWriter&&) noexcept = default;
RunFileWriter::~RunFileWriter() = default;

RunFileWriter RunFileWriter::create(const std::filesystem::path& path, const RunAttributes& attributes,
                                    const RunFileOptions& options) {
  check_options(options);
  if (std::filesystem::exists(path))
    throw std::runtime_error(fmt::format("{} already exists; use RunFileWriter::open to continue it", path.string()));
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  auto state = std::make_unique<State>();
  state->path = path;
  state->options = options;
  state->file = h5::create_file(path);
  schema::write_format_version(state->file);
  h5::write_attribute(state->file, "run_id", attributes.id);
  schema::write_run_attributes(state->file, attributes, false);
  state->trajectory = h5::create_group(state->file, schema::kTrajectory, path.string());
  state->probe_group = h5::create_group(state->file, schema::kProbe, path.string());
  const auto chunk = static_cast<hsize_t>(options.chunk_rows);
  state->step = h5::create_growing_dataset(state->trajectory, "step", H5T_STD_I64LE, {}, chunk, 0, path.string());
  state->tokens = h5::create_growing_dataset(state->trajectory, "tokens", H5T_STD_I64LE, {}, chunk, 0, path.string());
  state->flush();
  return RunFileWriter(std::move(state));
}

RunFileWriter RunFileWriter::open(const std::filesystem::path& path, const RunFileOptions& options) {
  check_options(options);
  auto state = std::make_unique<State>();
  State& s = *state;
  s.path = path;
  s.options = options;
  // Check the version before opening for writing: a newer file must stay untouched.
  schema::check_format_version(h5::open_file(path, false), path);
  s.file = h5::open_file(path, true);
  s.trajectory = h5::open_group(s.file, schema::kTrajectory, path.string());
  s.probe_group = h5::open_group(s.file, schema::kProbe, path.string());
  for (const char* required : {"step", "tokens"})
    if (!h5::link_exists(s.trajectory, required))
      throw InputError(s.where(fmt::format("trajectory/{} is missing", required)));
  s.step = s.open_dataset(s.trajectory, "step");
  s.tokens = s.open_dataset(s.trajectory, "tokens");

  std::vector<hid_t> row_datasets{s.step, s.tokens};
  for (const std::string& name : h5::link_names(s.trajectory, s.where("trajectory"))) {
    if (name == "step" || name == "tokens") continue;
    Column column;
    column.dataset = s.open_dataset(s.trajectory, name);
    const std::vector<hsize_t> shape = h5::dataset_shape(column.dataset, s.where(name));
    if (shape.empty() || shape.size() > 3)
      throw InputError(s.where(fmt::format("trajectory/{} has {} axes; allowed: 1 to 3", name, shape.size())));
    column.kind = shape.size() == 1 ? MetricKind::scalar : shape.size() == 2 ? MetricKind::vector : MetricKind::matrix;
    column.inner_shape.assign(shape.begin() + 1, shape.end());
    column.row_size = product(column.inner_shape);
    if (h5::has_attribute(column.dataset, "columns"))
      column.columns = h5::read_strings_attribute(column.dataset, "columns", s.where("trajectory/" + name));
    row_datasets.push_back(column.dataset);
    s.metrics.emplace(name, std::move(column));
  }
  // A crash in the middle of a flush may have left some metrics one batch longer.
  hsize_t rows = std::numeric_limits<hsize_t>::max();
  for (hid_t dataset : row_datasets) rows = std::min(rows, h5::dataset_shape(dataset, s.where("trajectory"))[0]);
  for (hid_t dataset : row_datasets) h5::resize_rows(dataset, rows, s.where("trajectory"));
  s.rows_on_disk = static_cast<int64_t>(rows);
  if (rows > 0) s.last_tokens = h5::read_last_int(s.tokens, s.where("trajectory/tokens"));

  if (h5::link_exists(s.probe_group, "tokens")) {
    s.probe.tokens = s.open_dataset(s.probe_group, "tokens");
    s.probe.auc = s.open_dataset(s.probe_group, "auc");
    s.probe.curves = s.open_dataset(s.probe_group, "curves");
    s.probe.curve_steps = s.open_dataset(s.probe_group, "curve_steps");
    s.probe.steps = h5::read_ints(s.probe.curve_steps, s.where("probe/curve_steps"));
    hsize_t probes = std::numeric_limits<hsize_t>::max();
    for (hid_t dataset : {s.probe.tokens.get(), s.probe.auc.get(), s.probe.curves.get()})
      probes = std::min(probes, h5::dataset_shape(dataset, s.where("probe"))[0]);
    for (hid_t dataset : {s.probe.tokens.get(), s.probe.auc.get(), s.probe.curves.get()})
      h5::resize_rows(dataset, probes, s.where("probe"));
  }
  return RunFileWriter(std::move(state));
}

void RunFileWriter::append(const TrajectoryRow& row) {
  State& s = *state_;
  if (s.last_tokens && row.tokens < *s.last_tokens)
    throw std::invalid_argument(fmt::format("trajectory row at {} tokens comes after a row at {} tokens; "
                                            "tokens must not decrease", row.tokens, *s.last_tokens));
  for (const auto& [name, value] : row.scalars) s.prepare_column(name, MetricKind::scalar, {}, {});
  for (const auto& [name, metric] : row.vectors) {
    if (!metric.columns.empty() && metric.columns.size() != metric.values.size())
      throw std::invalid_argument(fmt::format("trajectory metric '{}' has {} values but {} column names", name,
                                              metric.values.size(), metric.columns.size()));
    s.prepare_column(name, MetricKind::vector, {metric.values.size()}, metric.columns);
  }
  for (const auto& [name, metric] : row.matrices) {
    if (metric.rows < 0 || metric.cols < 0 || static_cast<size_t>(metric.rows * metric.cols) != metric.values.size())
      throw std::invalid_argument(fmt::format("trajectory metric '{}' is {} x {} but has {} values", name,
                                              metric.rows, metric.cols, metric.values.size()));
    s.prepare_column(name, MetricKind::matrix,
                     {static_cast<hsize_t>(metric.rows), static_cast<hsize_t>(metric.cols)}, {});
  }
  for (auto& [name, column] : s.metrics) {
    const std::vector<double>* values = nullptr;
    double scalar = kMissing;
    if (column.kind == MetricKind::scalar) {
      if (auto found = row.scalars.find(name); found != row.scalars.end()) scalar = found->second;
      column.pending.push_back(scalar);
      continue;
    }
    if (column.kind == MetricKind::vector) {
      if (auto found = row.vectors.find(name); found != row.vectors.end()) values = &found->second.values;
    } else if (auto found = row.matrices.find(name); found != row.matrices.end()) {
      values = &found->second.values;
    }
    if (values != nullptr) {
      column.pending.insert(column.pending.end(), values->begin(), values->end());
    } else {
      column.pending.insert(column.pending.end(), column.row_size, kMissing);
    }
  }
  s.pending_step.push_back(row.step);
  s.pending_tokens.push_back(row.tokens);
  s.last_tokens = row.tokens;
  if (static_cast<int64_t>(s.pending_tokens.size()) >= s.options.batch_rows) s.write_pending();
}

void RunFileWriter::append_probe(int64_t tokens, double auc, std::span<const double> curve,
                                 std::span<const int64_t> curve_steps) {
  State& s = *state_;
  if (curve.empty()) throw std::invalid_argument("probe curve is empty");
  if (curve.size() != curve_steps.size())
    throw std::invalid_argument(fmt::format("probe curve has {} values but {} curve steps", curve.size(),
                                            curve_steps.size()));
  const std::string context = s.where("probe");
  if (!s.probe.exists()) {
    const auto chunk = static_cast<hsize_t>(std::min<int64_t>(s.options.chunk_rows, 64));
    s.probe.tokens = h5::create_growing_dataset(s.probe_group, "tokens", H5T_STD_I64LE, {}, chunk, 0, context);
    s.probe.auc = h5::create_growing_dataset(s.probe_group, "auc", H5T_IEEE_F64LE, {}, chunk, 0, context);
    s.probe.curves = h5::create_growing_dataset(s.probe_group, "curves", H5T_IEEE_F64LE, {curve.size()}, chunk, 0,
                                                context);
    s.probe.curve_steps = h5::create_growing_dataset(s.probe_group, "curve_steps", H5T_STD_I64LE, {},
                                                     std::max<hsize_t>(curve_steps.size(), 1), 0, context);
    h5::append_rows(s.probe.curve_steps, H5T_NATIVE_INT64, curve_steps.data(), curve_steps.size(), context);
    s.probe.steps.assign(curve_steps.begin(), curve_steps.end());
  } else if (!std::equal(curve_steps.begin(), curve_steps.end(), s.probe.steps.begin(), s.probe.steps.end())) {
    throw std::invalid_argument("probe curve_steps differ from those of the first probe in this run");
  }
  h5::append_rows(s.probe.tokens, H5T_NATIVE_INT64, &tokens, 1, context);
  h5::append_rows(s.probe.auc, H5T_NATIVE_DOUBLE, &auc, 1, context);
  h5::append_rows(s.probe.curves, H5T_NATIVE_DOUBLE, curve.data(), 1, context);
}

void RunFileWriter::set_scratch_baseline(double auc, std::span<const double> curve) {
  State& s = *state_;
  const std::string context = s.where("probe");
  h5::unlink_if_exists(s.probe_group, "scratch_auc", context);
  h5::unlink_if_exists(s.probe_group, "scratch_curve", context);
  h5::write_dataset(s.probe_group, "scratch_auc", {}, std::span<const double>(&auc, 1), context);
  h5::write_dataset(s.probe_group, "scratch_curve", {curve.size()}, curve, context);
}

void RunFileWriter::flush() { state_->flush(); }

void RunFileWriter::truncate_to(int64_t points) {
  State& s = *state_;
  if (points < 0 || points > this->points())
    throw std::invalid_argument(fmt::format("truncate_to({}): the run has {} points", points, this->points()));
  s.write_pending();
  std::optional<int64_t> bound;
  if (points > 0) bound = h5::read_int_rows(s.tokens, static_cast<hsize_t>(points), s.where("trajectory/tokens")).back();
  s.truncate(points, bound);
}

void RunFileWriter::truncate_after_tokens(int64_t max_tokens) {
  State& s = *state_;
  s.write_pending();
  const std::vector<int64_t> tokens = s.stored_tokens();
  const auto kept = std::upper_bound(tokens.begin(), tokens.end(), max_tokens) - tokens.begin();
  s.truncate(kept, max_tokens);
}

int64_t RunFileWriter::points() const {
  return state_->rows_on_disk + static_cast<int64_t>(state_->pending_tokens.size());
}

std::optional<int64_t> RunFileWriter::last_tokens() const { return state_->last_tokens; }

const std::filesystem::path& RunFileWriter::path() const { return state_->path; }

}  // namespace plascale
