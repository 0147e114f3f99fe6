#include "slurm/command.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <system_error>

extern char** environ;

namespace plascale::slurm {

namespace {

// Closes both ends of a pipe that are still open when it goes out of scope.
struct Pipe {
  int ends[2] = {-1, -1};
  Pipe() {
    // Close-on-exec: only the dup2'ed copies reach the program, so a daemon it starts
    // cannot hold the pipe open after the program has exited.
    if (pipe2(ends, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
  }
  ~Pipe() { close_end(0), close_end(1); }
  void close_end(int which) {
    if (ends[which] >= 0) close(ends[which]);
    ends[which] = -1;
  }
};

// Reads both pipes until both are closed, so a program filling one cannot block on it.
void drain(Pipe& out, Pipe& err, std::string& output, std::string& errors) {
  char buffer[4096];
  while (out.ends[0] >= 0 || err.ends[0] >= 0) {
    pollfd fds[2] = {{out.ends[0], POLLIN, 0}, {err.ends[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      throw std::system_error(errno, std::generic_category(), "poll");
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      Pipe& pipe = i == 0 ? out : err;
      ssize_t got = read(pipe.ends[0], buffer, sizeof buffer);
      if (got > 0) (i == 0 ? output : errors).append(buffer, static_cast<size_t>(got));
      else if (got == 0 || errno != EINTR) pipe.close_end(0);
    }
  }
}

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv) {
  if (argv.empty()) throw std::invalid_argument("run_command: empty argv");
  Pipe out, err;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out.ends[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err.ends[1], 2);
  posix_spawn_file_actions_addclose(&actions, out.ends[0]);
  posix_spawn_file_actions_addclose(&actions, err.ends[0]);
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int spawn_error = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  out.close_end(1);
  err.close_end(1);
  CommandResult result;
  if (spawn_error != 0) {
    result.exit_code = 127;
    result.errors = argv[0] + ": " + std::generic_category().message(spawn_error);
    return result;
  }
  drain(out, err, result.output, result.errors);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "waitpid");
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

bool in_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::string_view rest = path;
  while (true) {
    size_t colon = rest.find(':');
    std::filesystem::path candidate = std::filesystem::path(std::string(rest.substr(0, colon))) / program;
    if (access(candidate.c_str(), X_OK) == 0) return true;
    if (colon == std::string_view::npos) return false;
    rest.remove_prefix(colon + 1);
  }
}

}  // namespace plascale::slurm
