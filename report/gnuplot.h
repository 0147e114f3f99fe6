#pragma once
// gnuplot as a child process: every figure is a script file in DIR/figures run from DIR.

#include <filesystem>
#include <string>
#include <string_view>

namespace plascale::report {

// A gnuplot single-quoted string literal: ' doubled, control characters (newlines) as spaces.
// Scripts set the terminal `noenhanced`, so no other character is markup.
std::string gnuplot_quote(std::string_view text);

// Runs `program script` with working folder `dir`, stdout and stderr to `log`. Throws
// std::runtime_error naming the Debian package when the program is missing, and with the
// log's end when gnuplot fails.
void run_gnuplot(const std::string& program, const std::filesystem::path& dir, const std::filesystem::path& script,
                 const std::filesystem::path& log);

}  // namespace plascale::report
