#include "slurm/shell.h"

#include <algorithm>
#include <cctype>

namespace plascale::slurm {

std::string shell_quote(std::string_view text) {
  // Words of only these characters mean the same to bash quoted or not; they stay readable.
  const bool plain = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("_./=:,+@%-").find(c) != std::string_view::npos;
  });
  if (plain) return std::string(text);
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'') quoted += "'\\''";
    else quoted += c;
  }
  quoted += '\'';
  return quoted;
}

}  // namespace plascale::slurm
