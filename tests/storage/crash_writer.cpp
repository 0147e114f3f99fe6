// Helper for crash_test.cpp: writes until killed, printing after each flush what is durable.
//
//   storage_crash_writer run RUN_FILE     appends rows (flush every 5) and a probe every 10
//                                         rows; prints "ROWS PROBES" after each flush
//   storage_crash_writer study STUDY_DIR  cycles status updates over the study's runs;
//                                         prints "UPDATES" after each (each call flushes)
//
// Row i and update k hold values crash_values.h computes, so the test can check them.

#include <cstdio>
#include <cstring>
#include <string>

#include "storage/study.h"
#include "tests/storage/crash_values.h"

using namespace plascale;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s run RUN_FILE | study STUDY_DIR\n", argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  if (mode == "run") {
    RunAttributes run;
    run.id = "crash";
    auto writer = RunFileWriter::create(argv[2], run, {.batch_rows = 3, .chunk_rows = 8});
    int64_t probes = 0;
    for (int64_t i = 0; i < crash::kMaxRows; ++i) {
      writer.append(crash::row(i));
      if (i % 10 == 0) {
        writer.append_probe(crash::row(i).tokens, crash::probe_auc(probes), crash::probe_curve(probes),
                            crash::kCurveSteps);
        ++probes;
      }
      if (i % 5 == 4) {
        writer.flush();
        std::printf("%lld %lld\n", static_cast<long long>(i + 1), static_cast<long long>(probes));
        std::fflush(stdout);
      }
    }
    return 0;
  }
  if (mode == "study") {
    auto study = StudyWriter::open(argv[2]);
    for (int64_t k = 0; k < crash::kMaxRows; ++k) {
      const crash::StatusUpdate update = crash::status_update(k);
      study.set_status(crash::run_id(update.run), update.status, update.attempts, update.last_error);
      std::printf("%lld\n", static_cast<long long>(k + 1));
      std::fflush(stdout);
    }
    return 0;
  }
  std::fprintf(stderr, "unknown mode %s\n", argv[1]);
  return 2;
}
