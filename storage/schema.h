#pragma once
// Internal to storage/: how runs, trajectories and probes map onto HDF5 objects. Shared by
// the run file writer and the study writer and reader so both files keep one layout.

#include <hdf5.h>

#include <filesystem>
#include <optional>
#include <string>

#include "storage/run_file.h"
#include "storage/trajectory.h"

namespace plascale::schema {

inline constexpr const char* kTrajectory = "trajectory";
inline constexpr const char* kProbe = "probe";

void write_format_version(hid_t file);
// InputError when the attribute is missing or newer than kStorageFormatVersion.
void check_format_version(hid_t file, const std::filesystem::path& path);

// Identity attributes always; status, attempts and last_error too when with_status.
void write_run_attributes(hid_t object, const RunAttributes& run, bool with_status);
RunAttributes read_run_attributes(hid_t object, const std::string& id, const std::string& context);

// Read the `trajectory` / `probe` group under `parent`; absent groups read as empty. All
// metrics are cut to the shortest one (a crash mid-flush can leave them uneven).
Trajectory read_trajectory(hid_t parent, const std::string& context);
Probe read_probe(hid_t parent, const std::string& context);
// Rows in parent's trajectory (length of its tokens dataset) and its last tokens value.
struct TrajectoryExtent {
  int64_t points = 0;
  std::optional<int64_t> last_tokens;
};
TrajectoryExtent trajectory_extent(hid_t parent, const std::string& context);

}  // namespace plascale::schema
