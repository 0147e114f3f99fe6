#pragma once
// One child process started with posix_spawn (never fork: workers have called MPI_Init),
// with a pipe on its file descriptor kProgressFd for progress lines (progress_channel.h).
//
//   ChildProcess child({.argv = {"/bin/sleep", "1"}});
//   while (!child.try_wait()) for (auto& line : child.read_lines()) ...;
//
// The object owns the process: destroying it while the child runs kills and reaps it.

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace plascale {

struct ChildSpec {
  std::vector<std::string> argv;          // argv[0] is the executable's path
  std::vector<std::string> environment;   // "NAME=value": added to this process's, replacing same names
  std::filesystem::path log_file;         // stdout and stderr appended here; empty = inherited
};

struct ChildExit {
  int exit_code = -1;  // -1 when a signal ended it
  int signal = 0;      // 0 when it exited
};

class ChildProcess {
 public:
  static constexpr int kProgressFd = 3;

  // Throws std::runtime_error naming the program when it cannot be started.
  explicit ChildProcess(const ChildSpec& spec);
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // Complete lines written since the last call, without their newline; never blocks.
  std::vector<std::string> read_lines();
  // The exit once the child has ended (reaped then), else nothing; never blocks.
  std::optional<ChildExit> try_wait();
  void send_signal(int signal_number);

 private:
  pid_t pid_ = -1;
  int progress_fd_ = -1;  // read end of the pipe
  std::string partial_;   // a line read in part
  std::optional<ChildExit> exit_;
};

// "killed by signal 9 (SIGKILL)" or "exit code 1".
std::string describe_exit(const ChildExit& exit);

}  // namespace plascale
