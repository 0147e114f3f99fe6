#include "app/commands.h"

namespace plascale {

// One line per subcommand (defined in app/cmd_<name>.cpp).

void register_commands(CLI::App& app, CommandResult& result) {
}

}  // namespace plascale
