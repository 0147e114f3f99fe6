#pragma once
// The coordinator <-> worker-rank messages of `plascale run` (docs/orchestrator.md,
// "Protocol"). Each message is one MPI message of bytes whose MPI tag says what it is;
// encode()/decode_*() turn the structs into those bytes and back, so the format is
// tested without MPI.
//
//   worker -> coordinator   request   (a WorkerOffer: what it can take now)
//   coordinator -> worker   assign    (a RunOrder)
//   worker -> coordinator   progress  (a ProgressReport, forwarded from the child)
//   worker -> coordinator   result    (a RunReport: the child ended)
//   coordinator -> worker   stop      (a StopOrder: finish, or checkpoint and stop)

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "orchestrator/scheduler.h"

namespace plascale {

enum class MessageTag : int { request = 1, assign = 2, progress = 3, result = 4, stop = 5 };

// An Assignment plus what the child needs that the scheduler does not decide.
struct RunOrder {
  Assignment assignment;
  int threads = 0;  // --threads of the child; 0 = the worker's share of its node's cores
};

struct ProgressReport {
  std::string run_id;
  int worker = 0;
  int64_t tokens = 0;
  int64_t total_tokens = 0;
  double loss = 0;
};

struct RunReport {
  std::string run_id;
  int worker = 0;
  RunEnd end = RunEnd::failed;
  int exit_code = -1;   // the child's exit status, -1 if a signal ended it
  int signal = 0;       // the signal that ended it, 0 if it exited
  std::string error;    // why it failed, for the study's last_error; empty otherwise
  int64_t tokens = 0;   // tokens of its last progress report
};

struct StopOrder {
  bool preempt = false;  // true: SIGTERM the children (checkpoint, exit 3); false: all done
};

using MessageBytes = std::vector<char>;

MessageBytes encode(const WorkerOffer& offer);
MessageBytes encode(const RunOrder& order);
MessageBytes encode(const ProgressReport& report);
MessageBytes encode(const RunReport& report);
MessageBytes encode(const StopOrder& order);

// Throw std::runtime_error for bytes that are not a whole message of that kind.
WorkerOffer decode_offer(std::span<const char> bytes);
RunOrder decode_run_order(std::span<const char> bytes);
ProgressReport decode_progress(std::span<const char> bytes);
RunReport decode_run_report(std::span<const char> bytes);
StopOrder decode_stop(std::span<const char> bytes);

}  // namespace plascale
