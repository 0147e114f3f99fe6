#pragma once
// Quoting for the batch scripts plascale writes: every user-controlled string that reaches a
// script goes through shell_quote, so paths with spaces, quotes, $(), backticks or
// semicolons reach the command as the exact bytes given.

#include <string>
#include <string_view>

namespace plascale::slurm {

// One bash word that expands to exactly `text`: 'text', with each ' written as '\'' (words
// of letters, digits and _./=:,+@%- stay as they are).
std::string shell_quote(std::string_view text);

}  // namespace plascale::slurm
