#include "orchestrator/child.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <stdexcept>

extern char** environ;

namespace plascale {

namespace {

std::vector<std::string> merged_environment(const std::vector<std::string>& overrides) {
  std::map<std::string, std::string> by_name;
  auto add = [&](const std::string& entry) { by_name[entry.substr(0, entry.find('='))] = entry; };
  for (char** entry = environ; *entry != nullptr; ++entry) add(*entry);
  for (const std::string& entry : overrides) add(entry);
  std::vector<std::string> merged;
  for (auto& [name, entry] : by_name) merged.push_back(std::move(entry));
  return merged;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> result;
  for (std::string& text : strings) result.push_back(text.data());
  result.push_back(nullptr);
  return result;
}

void check(int error, const char* what, const std::string& program) {
  if (error != 0) throw std::runtime_error(fmt::format("cannot start {}: {}: {}", program, what, std::strerror(error)));
}

}  // namespace

ChildProcess::ChildProcess(const ChildSpec& spec) {
  if (spec.argv.empty()) throw std::invalid_argument("ChildSpec::argv is empty");
  const std::string& program = spec.argv[0];
  int pipe_fds[2];
  // Close-on-exec, so that no other child inherits this pipe: the read end must see EOF and
  // the child SIGPIPE when the other side is gone.
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) check(errno, "pipe", program);
  progress_fd_ = pipe_fds[0];
  ::fcntl(progress_fd_, F_SETFL, O_NONBLOCK);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], kProgressFd);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  std::string log = spec.log_file.string();
  if (!log.empty()) {
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  }
  // The default signal dispositions and mask, whatever this process set up for itself.
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t all_signals;
  sigset_t no_signals;
  sigfillset(&all_signals);
  sigemptyset(&no_signals);
  posix_spawnattr_setsigdefault(&attributes, &all_signals);
  posix_spawnattr_setsigmask(&attributes, &no_signals);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<std::string> argv = spec.argv;
  std::vector<std::string> environment = merged_environment(spec.environment);
  std::vector<char*> argv_pointers = pointers(argv);
  std::vector<char*> environment_pointers = pointers(environment);
  const int error = ::posix_spawn(&pid_, program.c_str(), &actions, &attributes, argv_pointers.data(),
                                  environment_pointers.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  ::close(pipe_fds[1]);
  if (error != 0) {
    ::close(progress_fd_);
    progress_fd_ = -1;
    pid_ = -1;
    check(error, "posix_spawn", program);
  }
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_), progress_fd_(other.progress_fd_), partial_(std::move(other.partial_)), exit_(other.exit_) {
  other.pid_ = -1;
  other.progress_fd_ = -1;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exit_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (progress_fd_ >= 0) ::close(progress_fd_);
}

std::vector<std::string> ChildProcess::read_lines() {
  std::vector<std::string> lines;
  if (progress_fd_ < 0) return lines;
  char buffer[4096];
  while (true) {
    const ssize_t got = ::read(progress_fd_, buffer, sizeof(buffer));
    if (got > 0) {
      partial_.append(buffer, static_cast<size_t>(got));
      continue;
    }
    if (got < 0 && errno == EINTR) continue;
    if (got == 0) {  // every writer is gone
      ::close(progress_fd_);
      progress_fd_ = -1;
    }
    break;
  }
  size_t start = 0;
  for (size_t newline; (newline = partial_.find('\n', start)) != std::string::npos; start = newline + 1) {
    lines.push_back(partial_.substr(start, newline - start));
  }
  partial_.erase(0, start);
  return lines;
}

std::optional<ChildExit> ChildProcess::try_wait() {
  if (exit_ || pid_ <= 0) return exit_;
  int status = 0;
  pid_t done;
  while ((done = ::waitpid(pid_, &status, WNOHANG)) < 0 && errno == EINTR) {
  }
  if (done != pid_) return std::nullopt;
  ChildExit result;
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  exit_ = result;
  return exit_;
}

void ChildProcess::send_signal(int signal_number) {
  if (pid_ > 0 && !exit_) ::kill(pid_, signal_number);
}

std::string describe_exit(const ChildExit& exit) {
  if (exit.signal != 0) {
    const char* name = sigabbrev_np(exit.signal);
    return fmt::format("killed by signal {} (SIG{})", exit.signal, name ? name : "?");
  }
  return fmt::format("exit code {}", exit.exit_code);
}

}  // namespace plascale
