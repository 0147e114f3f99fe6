// bench_storage: the study store against h5py (Debian python3-h5py), in the same run.
//
//  1. Append ROWS trajectory rows (step, tokens as int64 + 10 float64 scalar metrics) to a
//     run file: RunFileWriter vs storage_peer.py's h5py loop. Both write batches of 1024
//     rows into 1024-row chunks with the same format bounds, from file creation to close.
//  2. List a study of RUNS runs (90% merged, 5% running with only run.h5, 5% pending):
//     StudyReader::runs() vs h5py reading the same attributes, points and last tokens.
//
// Repeats alternate between the two so both see the same machine load; medians reported.
//
//   bench_storage [--rows 1000000] [--runs 1000] [--repeats 5] [--dir /tmp]

#include <fmt/core.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "storage/study.h"

namespace {

using plascale::bench::median;
using plascale::bench::seconds_since;

using plascale::RunAttributes;
using plascale::RunFileWriter;
using plascale::TrajectoryRow;
using Clock = std::chrono::steady_clock;

constexpr int64_t kBatchRows = 1024;
constexpr int64_t kChunkRows = 1024;

// Runs the h5py peer and returns the seconds it reports.
double run_peer(const std::string& arguments) {
  const std::string command = fmt::format("{} {} {}", PLASCALE_PYTHON, PLASCALE_STORAGE_PEER, arguments);
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + command);
  double seconds = -1;
  const int parsed = std::fscanf(pipe, "%lf", &seconds);
  if (pclose(pipe) != 0 || parsed != 1) throw std::runtime_error("peer failed: " + command);
  return seconds;
}

RunAttributes bench_run(int index) {
  RunAttributes run;
  run.id = fmt::format("run{:04d}", index);
  run.size = "4.9M";
  run.n_params_nonembedding = 4'900'000;
  run.n_params_total = 6'000'000;
  run.token_budget = 100'000'000;
  run.mitigation = index % 2 == 0 ? "none" : "redo";
  run.seed = static_cast<uint64_t>(index);
  run.spec_yaml = fmt::format("model: {{layers: 4, d_model: 256}}\nseed: {}\n", index);
  return run;
}

// The row values match storage_peer.py's: metric k at row i is i * 0.001 + k.
double append_with_plascale(const std::filesystem::path& path, int64_t rows) {
  const Clock::time_point start = Clock::now();
  {
    auto writer = RunFileWriter::create(path, bench_run(0), {.batch_rows = kBatchRows, .chunk_rows = kChunkRows});
    TrajectoryRow row;
    for (int k = 0; k < 10; ++k) row.scalars[fmt::format("metric{}", k)] = 0;
    for (int64_t i = 0; i < rows; ++i) {
      row.step = i;
      row.tokens = 512 * i;
      int k = 0;
      for (auto& [name, value] : row.scalars) value = static_cast<double>(i) * 0.001 + k++;
      writer.append(row);
    }
  }
  return seconds_since(start);
}

void write_run_file(const std::filesystem::path& path, const RunAttributes& run, int64_t rows) {
  auto writer = RunFileWriter::create(path, run);
  TrajectoryRow row;
  for (int64_t i = 0; i < rows; ++i) {
    row.step = i;
    row.tokens = 1000 * i;
    row.scalars["train_loss"] = 5.0 / static_cast<double>(i + 1);
    row.vectors["dormant_fraction"] = {{0.1, 0.2, 0.3, 0.4}, {}};
    writer.append(row);
  }
  writer.append_probe(0, 1.0, std::vector<double>{3.0, 2.0}, std::vector<int64_t>{0, 10});
}

void build_study(const std::filesystem::path& dir, int runs) {
  auto study = plascale::StudyWriter::create(dir, "bench: listing\n", "0");
  for (int i = 0; i < runs; ++i) {
    const RunAttributes run = bench_run(i);
    study.register_run(run);
    const int kind = i % 20;  // 18 of 20 merged, 1 running, 1 pending
    if (kind == 19) continue;
    write_run_file(plascale::run_file_path(dir, run.id), run, 100);
    if (kind == 18) {
      study.set_status(run.id, plascale::RunStatus::running, 1);
    } else {
      study.merge_run(run.id);
      study.set_status(run.id, plascale::RunStatus::done, 1);
    }
  }
}

double list_with_plascale(const std::filesystem::path& dir, size_t expected_runs) {
  const Clock::time_point start = Clock::now();
  const plascale::StudyReader reader(dir);
  const std::vector<plascale::RunInfo> runs = reader.runs();
  const double seconds = seconds_since(start);
  if (runs.size() != expected_runs) throw std::runtime_error("listing returned the wrong number of runs");
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 1'000'000;
  int runs = 1000;
  int repeats = 5;
  std::filesystem::path base = std::filesystem::temp_directory_path();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--rows") rows = std::stoll(argv[i + 1]);
    else if (flag == "--runs") runs = std::stoi(argv[i + 1]);
    else if (flag == "--repeats") repeats = std::stoi(argv[i + 1]);
    else if (flag == "--dir") base = argv[i + 1];
    else {
      fmt::print(stderr, "unknown flag {}; allowed: --rows, --runs, --repeats, --dir\n", flag);
      return 2;
    }
  }
  std::string pattern = (base / "plascale-bench-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    fmt::print(stderr, "cannot create a folder under {}\n", base.string());
    return 1;
  }
  const std::filesystem::path scratch = pattern;

  std::vector<double> ours, peer;
  for (int repeat = 0; repeat < repeats; ++repeat) {
    const auto our_file = scratch / "plascale.h5";
    const auto peer_file = scratch / "h5py.h5";
    ours.push_back(append_with_plascale(our_file, rows));
    peer.push_back(run_peer(fmt::format("append {} {} {} {}", peer_file.string(), rows, kBatchRows, kChunkRows)));
    std::filesystem::remove(our_file);
    std::filesystem::remove(peer_file);
  }
  const double our_rate = static_cast<double>(rows) / median(ours);
  const double peer_rate = static_cast<double>(rows) / median(peer);
  fmt::print("append {} rows (step, tokens int64 + 10 float64 metrics), batch {} rows, chunk {} rows, "
             "median of {}:\n", rows, kBatchRows, kChunkRows, repeats);
  fmt::print("  plascale RunFileWriter  {:>12.0f} rows/s  ({:.3f} s)\n", our_rate, median(ours));
  fmt::print("  h5py                    {:>12.0f} rows/s  ({:.3f} s)\n", peer_rate, median(peer));
  fmt::print("  ratio plascale / h5py   {:>12.2f}x\n", our_rate / peer_rate);

  const auto study_dir = scratch / "study";
  build_study(study_dir, runs);
  ours.clear();
  peer.clear();
  for (int repeat = 0; repeat < repeats; ++repeat) {
    ours.push_back(list_with_plascale(study_dir, static_cast<size_t>(runs)));
    peer.push_back(run_peer("list " + study_dir.string()));
  }
  fmt::print("list a study of {} runs (90% merged, 5% running, 5% pending), median of {}:\n", runs, repeats);
  fmt::print("  plascale StudyReader    {:>9.1f} ms\n", 1000 * median(ours));
  fmt::print("  h5py                    {:>9.1f} ms\n", 1000 * median(peer));
  fmt::print("  ratio h5py / plascale   {:>9.2f}x (higher = plascale faster)\n", median(peer) / median(ours));
  std::filesystem::remove_all(scratch);
  return 0;
}
