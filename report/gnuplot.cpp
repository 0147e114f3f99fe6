#include "report/gnuplot.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

extern char** environ;

namespace plascale::report {

std::string gnuplot_quote(std::string_view text) {
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') quoted += "''";
    else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) quoted += ' ';
    else quoted += c;
  }
  return quoted + "'";
}

void run_gnuplot(const std::string& program, const std::filesystem::path& dir, const std::filesystem::path& script,
                 const std::filesystem::path& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // The log opens before the chdir, so a relative log path means what the caller meant.
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
  std::vector<std::string> arguments{program, script.string()};
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned == ENOENT)
    throw std::runtime_error(fmt::format(
        "cannot run '{}': not found on PATH; the report draws its figures with gnuplot: install the Debian "
        "package gnuplot-nox (scripts/install-deps does)", program));
  if (spawned != 0) throw std::runtime_error(fmt::format("cannot run '{}': {}", program, std::strerror(spawned)));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw std::runtime_error(fmt::format("waiting for {}: {}", program, std::strerror(errno)));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  std::string output = text.str();
  if (output.size() > 2000) output = "..." + output.substr(output.size() - 2000);
  throw std::runtime_error(fmt::format("gnuplot failed on {} (run from {}; log {}):\n{}", script.string(),
                                       dir.string(), log.string(), output));
}

}  // namespace plascale::report
