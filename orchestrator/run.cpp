#include "orchestrator/run.h"

#include <fmt/core.h>
#include <mpi.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <list>
#include <optional>
#include <set>
#include <thread>

#include "orchestrator/coordinator.h"
#include "orchestrator/display.h"
#include "orchestrator/study_book.h"
#include "sweeps/errors.h"
#include "sweeps/expand.h"

namespace plascale {

namespace {

constexpr int kCoordinator = 0;

// SIGTERM and SIGUSR1 (Slurm's preemption warning) and SIGINT (Ctrl-C) only set a flag; the
// loops poll it.
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void record_stop(int signal_number) { g_stop_signal = signal_number; }

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = record_stop;
  sigemptyset(&action.sa_mask);
  for (int signal_number : {SIGTERM, SIGUSR1, SIGINT}) sigaction(signal_number, &action, nullptr);
}

double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

class Clock {
 public:
  double now() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// Sleeps longer the longer nothing happens, so that idle ranks leave the cores to the
// children, and not at all while messages flow.
class Idler {
 public:
  explicit Idler(double max_seconds) : max_(max_seconds) {}
  void busy() { sleep_ = kMin; }
  void idle() {
    std::this_thread::sleep_for(std::chrono::duration<double>(sleep_));
    sleep_ = std::min(max_, sleep_ * 2);
  }

 private:
  static constexpr double kMin = 20e-6;
  double max_;
  double sleep_ = kMin;
};

class MpiSession {
 public:
  MpiSession() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) MPI_Init(nullptr, nullptr);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiSession() { MPI_Finalize(); }
  int rank() const { return rank_; }
  int size() const { return size_; }

 private:
  int rank_ = 0;
  int size_ = 1;
};

// Where this rank runs: its node and the worker ranks sharing that node.
struct Placement {
  int node = 0;              // world rank of the node's first rank: the same number on every rank of a node
  int workers_on_node = 1;   // worker ranks on this node
  int index_on_node = 0;     // this worker's place among them
};

Placement place_rank(int rank) {
  MPI_Comm node_comm;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node_comm);
  int node_size = 0;
  MPI_Comm_size(node_comm, &node_size);
  std::vector<int> ranks(static_cast<size_t>(node_size));
  MPI_Allgather(&rank, 1, MPI_INT, ranks.data(), 1, MPI_INT, node_comm);
  MPI_Comm_free(&node_comm);
  std::sort(ranks.begin(), ranks.end());
  Placement placement;
  placement.node = ranks.front();
  std::vector<int> workers;
  for (int other : ranks)
    if (other != kCoordinator) workers.push_back(other);
  placement.workers_on_node = std::max<int>(1, static_cast<int>(workers.size()));
  placement.index_on_node = static_cast<int>(std::find(workers.begin(), workers.end(), rank) - workers.begin());
  return placement;
}

// The node's GPUs as CUDA_VISIBLE_DEVICES names them for the children.
std::vector<std::string> node_devices(int gpus_per_node) {
  std::vector<std::string> devices;
  if (gpus_per_node < 0) {
    const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
    std::string list = visible ? visible : "";
    for (size_t start = 0; start < list.size();) {
      size_t comma = list.find(',', start);
      if (comma == std::string::npos) comma = list.size();
      if (comma > start) devices.push_back(list.substr(start, comma - start));
      start = comma + 1;
    }
    return devices;
  }
  for (int gpu = 0; gpu < gpus_per_node; ++gpu) devices.push_back(std::to_string(gpu));
  return devices;
}

SupervisorOptions supervisor_options(const RunSweepOptions& options, const std::filesystem::path& study_dir,
                                     int worker, const Placement& placement) {
  SupervisorOptions supervisor;
  supervisor.study_dir = study_dir;
  supervisor.plascale = options.plascale;
  supervisor.worker = worker;
  supervisor.node = placement.node;
  supervisor.stall_timeout_seconds = options.stall_timeout_seconds;
  supervisor.stop_deadline_seconds = options.stop_deadline_seconds;
  supervisor.dry_train = options.dry_train;
  // The node's GPUs in contiguous blocks, one per worker rank (gang runs need several of one worker).
  const std::vector<std::string> devices = node_devices(options.gpus_per_node);
  const size_t count = devices.size();
  const auto workers = static_cast<size_t>(placement.workers_on_node);
  const auto index = static_cast<size_t>(placement.index_on_node);
  for (size_t gpu = index * count / workers; gpu < (index + 1) * count / workers; ++gpu) {
    supervisor.devices.push_back(devices[gpu]);
    supervisor.gpus.push_back(static_cast<int>(gpu));
  }
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  supervisor.threads = std::max(1, static_cast<int>(cores) / placement.workers_on_node);
  return supervisor;
}

// Non-blocking sends: each message's bytes live until MPI has taken them.
class Outbox {
 public:
  void send(int destination, MessageTag tag, MessageBytes bytes) {
    pending_.push_back({std::move(bytes), MPI_REQUEST_NULL});
    Pending& message = pending_.back();
    MPI_Isend(message.bytes.data(), static_cast<int>(message.bytes.size()), MPI_BYTE, destination,
              static_cast<int>(tag), MPI_COMM_WORLD, &message.request);
  }
  void progress() {
    for (auto message = pending_.begin(); message != pending_.end();) {
      int done = 0;
      MPI_Test(&message->request, &done, MPI_STATUS_IGNORE);
      message = done ? pending_.erase(message) : std::next(message);
    }
  }
  void drain() {
    for (Pending& message : pending_) MPI_Wait(&message.request, MPI_STATUS_IGNORE);
    pending_.clear();
  }

 private:
  struct Pending {
    MessageBytes bytes;
    MPI_Request request;
  };
  std::list<Pending> pending_;
};

struct Received {
  MessageTag tag;
  int source;
  MessageBytes bytes;
};

std::optional<Received> receive_any(int source) {
  int arrived = 0;
  MPI_Status status;
  MPI_Iprobe(source, MPI_ANY_TAG, MPI_COMM_WORLD, &arrived, &status);
  if (!arrived) return std::nullopt;
  int size = 0;
  MPI_Get_count(&status, MPI_BYTE, &size);
  Received message{static_cast<MessageTag>(status.MPI_TAG), status.MPI_SOURCE, MessageBytes(static_cast<size_t>(size))};
  MPI_Recv(message.bytes.data(), size, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  return message;
}

// What rank 0 sets up before any run starts.
struct Plan {
  std::filesystem::path study_dir;
  std::vector<RunToDo> runs;
  int64_t already_done = 0;
  std::optional<StudyBook> book;
};

Plan make_plan(const RunSweepOptions& options) {
  const Sweep sweep = options.use_default ? load_default_sweep() : load_sweep(options.sweep_path);
  Plan plan;
  // Absolute: worker ranks on other nodes (same shared filesystem) may start elsewhere.
  plan.study_dir = std::filesystem::absolute(options.study_dir.empty() ? std::filesystem::path(sweep.output_study)
                                                                       : options.study_dir);
  if (options.dry_train != DryTrain::off) {
    for (RunSpec& spec : expand_sweep(sweep)) plan.runs.push_back({std::move(spec), 0, false});
    return plan;
  }
  PreparedStudy prepared;
  plan.book.emplace(StudyBook::open(sweep, plan.study_dir, options.force, prepared));
  plan.runs = std::move(prepared.runs);
  plan.already_done = prepared.already_done;
  return plan;
}

std::map<std::string, int64_t> budgets_of(const std::vector<RunToDo>& runs) {
  std::map<std::string, int64_t> budgets;
  for (const RunToDo& run : runs) budgets[run.spec.id] = run.spec.token_budget;
  return budgets;
}

void announce_stop(SweepDisplay& display, double now) {
  display.message(fmt::format("signal {} received: stopping every run at its next checkpoint, then exiting 3 "
                              "(run the same command again to continue)",
                              static_cast<int>(g_stop_signal)),
                  now);
}

// One rank: the coordinator supervises the children itself.
int run_alone(const RunSweepOptions& options, Plan& plan, Coordinator& coordinator, SweepDisplay& display,
              const Clock& clock) {
  Supervisor local(supervisor_options(options, plan.study_dir, 0, Placement{}));
  Idler idler(0.01);
  bool stopping = false;
  while (true) {
    const double now = clock.now();
    if (!stopping && g_stop_signal != 0) {
      stopping = true;
      announce_stop(display, now);
      local.stop_all(now);
    }
    std::vector<ProgressReport> progress;
    std::vector<RunReport> ended;
    local.poll(now, progress, ended);
    for (const ProgressReport& report : progress) coordinator.progress(report, now);
    for (const RunReport& report : ended) coordinator.result(report, now);
    bool started = false;
    while (!stopping && local.has_capacity()) {
      std::optional<RunOrder> order = coordinator.request(local.offer(), now);
      if (!order) break;
      local.start(*order, now);
      started = true;
    }
    if (!local.busy() && (stopping || coordinator.settled())) break;
    if (const std::string why = coordinator.unschedulable(1); !why.empty() && !local.busy()) {
      display.message(why, now);
      return kExitFailure;
    }
    display.tick(coordinator.counts(), now);
    if (progress.empty() && ended.empty() && !started) {
      idler.idle();
    } else {
      idler.busy();
    }
  }
  return stopping ? kExitResubmit : coordinator.exit_code();
}

int coordinate(const MpiSession& mpi, Coordinator& coordinator, SweepDisplay& display, const Clock& clock) {
  Outbox outbox;
  Idler idler(0.001);
  std::set<int> workers;
  for (int rank = 1; rank < mpi.size(); ++rank) workers.insert(rank);
  bool stopping = false;
  bool stop_sent = false;
  bool stuck = false;     // runs fit no worker: the job ends with exit 1
  bool serve_due = false;  // kept offers are served again when a run ends or a backoff expires
  auto send_stop = [&](bool preempt) {
    for (int worker : workers) outbox.send(worker, MessageTag::stop, encode(StopOrder{preempt}));
    stop_sent = true;
  };
  while (!workers.empty()) {
    const double now = clock.now();
    if (!stopping && g_stop_signal != 0 && !(stop_sent && coordinator.settled())) {
      stopping = true;
      announce_stop(display, now);
      send_stop(true);
    }
    bool active = false;
    while (std::optional<Received> message = receive_any(MPI_ANY_SOURCE)) {
      active = true;
      switch (message->tag) {
        case MessageTag::request:
          if (!stopping && !stop_sent) {
            if (std::optional<RunOrder> order = coordinator.request(decode_offer(message->bytes), now)) {
              outbox.send(message->source, MessageTag::assign, encode(*order));
            }
          }
          break;
        case MessageTag::progress:
          coordinator.progress(decode_progress(message->bytes), now);
          break;
        case MessageTag::result:
          coordinator.result(decode_run_report(message->bytes), now);
          serve_due = true;
          break;
        case MessageTag::stop:  // the worker has no child left and leaves
          workers.erase(message->source);
          coordinator.forget_worker(message->source);
          break;
        case MessageTag::assign:
          throw std::runtime_error(fmt::format("rank {} sent an assign message to the coordinator", message->source));
      }
    }
    if (!stopping && !stop_sent) {
      const std::optional<double> retry = coordinator.next_retry_time();
      if (serve_due || (retry && now >= *retry)) {
        for (RunOrder& order : coordinator.serve_waiting(now)) {
          outbox.send(order.assignment.worker, MessageTag::assign, encode(order));
          active = true;
        }
        serve_due = false;
      }
      if (coordinator.settled()) send_stop(false);
      if (const std::string why = coordinator.unschedulable(workers.size()); !why.empty()) {
        display.message(why, now);
        stuck = true;
        send_stop(false);
      }
    }
    outbox.progress();
    display.tick(coordinator.counts(), now);
    if (active) {
      idler.busy();
    } else {
      idler.idle();
    }
  }
  outbox.drain();
  if (stopping) return kExitResubmit;
  return stuck ? kExitFailure : coordinator.exit_code();
}

void work(const MpiSession& mpi, const RunSweepOptions& options, const std::filesystem::path& study_dir,
          const Placement& placement, const Clock& clock) {
  Supervisor supervisor(supervisor_options(options, study_dir, mpi.rank(), placement));
  Outbox outbox;
  Idler idler(0.002);
  bool request_outstanding = false;
  bool stopping = false;   // stop children, take nothing new
  bool leaving = false;    // the coordinator said stop: leave once no child is left
  while (true) {
    const double now = clock.now();
    bool active = false;
    if (!stopping && g_stop_signal != 0) {  // the batch system signalled every task of the job
      stopping = true;
      supervisor.stop_all(now);
    }
    std::vector<RunReport> refused;
    while (std::optional<Received> message = receive_any(kCoordinator)) {
      active = true;
      if (message->tag == MessageTag::assign) {
        request_outstanding = false;
        RunOrder order = decode_run_order(message->bytes);
        if (stopping) {
          RunReport report;
          report.run_id = order.assignment.run_id;
          report.worker = mpi.rank();
          report.end = RunEnd::stopped;
          refused.push_back(std::move(report));
        } else {
          supervisor.start(order, now);
        }
      } else if (message->tag == MessageTag::stop) {
        leaving = true;
        if (decode_stop(message->bytes).preempt && !stopping) {
          stopping = true;
          supervisor.stop_all(now);
        }
      }
    }
    std::vector<ProgressReport> progress;
    std::vector<RunReport> ended;
    supervisor.poll(now, progress, ended);
    for (const ProgressReport& report : progress) outbox.send(kCoordinator, MessageTag::progress, encode(report));
    for (const RunReport& report : ended) outbox.send(kCoordinator, MessageTag::result, encode(report));
    for (const RunReport& report : refused) outbox.send(kCoordinator, MessageTag::result, encode(report));
    active = active || !progress.empty() || !ended.empty();
    if (leaving && !supervisor.busy()) {
      outbox.send(kCoordinator, MessageTag::stop, encode(StopOrder{}));
      break;
    }
    if (!stopping && !leaving && !request_outstanding && supervisor.has_capacity()) {
      outbox.send(kCoordinator, MessageTag::request, encode(supervisor.offer()));
      request_outstanding = true;
      active = true;
    }
    outbox.progress();
    if (active) {
      idler.busy();
    } else {
      idler.idle();
    }
  }
  outbox.drain();
}

// Rank 0's whole part: the display, the coordinator loop, the closing lines.
int lead(const MpiSession& mpi, const RunSweepOptions& options, Plan& plan, const Clock& clock) {
  const bool live = options.display == DisplayMode::live ||
                    (options.display == DisplayMode::automatic && mpi.size() == 1 && ::isatty(STDOUT_FILENO) != 0);
  SweepDisplay display(stdout, live, options.summary_every_seconds, budgets_of(plan.runs));
  StudyBook* book = plan.book ? &*plan.book : nullptr;
  Coordinator coordinator(plan.runs, options.scheduling, options.threads, book, display);
  const auto resumed = std::count_if(plan.runs.begin(), plan.runs.end(), [](const RunToDo& run) { return run.resumed; });
  display.message(fmt::format("study {}: {} runs to train ({} resumed), {} already done or diverged; {} rank(s)",
                              plan.study_dir.string(), plan.runs.size(), resumed, plan.already_done, mpi.size()),
                  clock.now());
  if (book) {
    book->note("sweep_start",
               fmt::format("\"pid\": {}, \"ranks\": {}, \"runs\": {}, \"resumed\": {}, \"already_done\": {}",
                           ::getpid(), mpi.size(), plan.runs.size(), resumed, plan.already_done));
  }
  const double loop_start = clock.now();
  const double cpu_start = process_cpu_seconds();
  const int code = mpi.size() == 1 ? run_alone(options, plan, coordinator, display, clock)
                                   : coordinate(mpi, coordinator, display, clock);
  const double loop_seconds = clock.now() - loop_start;
  const double cpu_seconds = process_cpu_seconds() - cpu_start;
  display.finish(coordinator.counts(), clock.now());
  // The dispatch benchmark reads this line (bench/orchestrator/bench_dispatch.cpp).
  const auto runs = static_cast<double>(plan.runs.size());
  display.message(fmt::format("dispatch: {} runs in {:.3f} s ({:.4g} runs/s); coordinator CPU {:.3f} s "
                              "({:.1f} us per run)",
                              plan.runs.size(), loop_seconds, runs / std::max(loop_seconds, 1e-9), cpu_seconds,
                              1e6 * cpu_seconds / std::max(runs, 1.0)),
                  clock.now());
  if (book) book->note("sweep_end", fmt::format("\"exit_code\": {}", code));
  return code;
}

}  // namespace

int run_sweep(const RunSweepOptions& options) {
  install_stop_handlers();
  MpiSession mpi;
  const Clock clock;
  const Placement placement = place_rank(mpi.rank());  // collective: every rank takes part

  // Rank 0 reads the sweep and prepares the study; the others learn whether to go on.
  std::optional<Plan> plan;
  std::exception_ptr failure;
  int go = kExitOk;
  std::string study_dir;
  if (mpi.rank() == kCoordinator) {
    try {
      plan.emplace(make_plan(options));
      study_dir = plan->study_dir.string();
    } catch (const InputError&) {
      failure = std::current_exception();
      go = kExitBadInput;
    } catch (const std::exception&) {
      failure = std::current_exception();
      go = kExitFailure;
    }
  }
  MPI_Bcast(&go, 1, MPI_INT, kCoordinator, MPI_COMM_WORLD);
  int length = static_cast<int>(study_dir.size());
  MPI_Bcast(&length, 1, MPI_INT, kCoordinator, MPI_COMM_WORLD);
  study_dir.resize(static_cast<size_t>(length));
  MPI_Bcast(study_dir.data(), length, MPI_CHAR, kCoordinator, MPI_COMM_WORLD);
  if (go != kExitOk) {
    if (failure) std::rethrow_exception(failure);  // main() reports it (after MpiSession finalizes)
    return go;
  }

  int code = kExitOk;
  try {
    if (mpi.rank() == kCoordinator) {
      code = lead(mpi, options, *plan, clock);
    } else {
      work(mpi, options, study_dir, placement, clock);
    }
  } catch (const std::exception& error) {
    // The other ranks cannot be told in order (they may wait for messages that never come),
    // and MPI_Finalize would wait for them: end the whole job.
    if (mpi.size() == 1) throw;
    fmt::print(stderr, "plascale: error: rank {}: {}\n", mpi.rank(), error.what());
    MPI_Abort(MPI_COMM_WORLD, kExitFailure);
  }
  MPI_Bcast(&code, 1, MPI_INT, kCoordinator, MPI_COMM_WORLD);
  return code;
}

}  // namespace plascale
