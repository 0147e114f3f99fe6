#include "app/commands.h"

namespace plascale {

// One line per subcommand (defined in app/cmd_<name>.cpp).
void register_validate(CLI::App& app, CommandResult& result);
void register_plan(CLI::App& app, CommandResult& result);
void register_status(CLI::App& app, CommandResult& result);
void register_fit(CLI::App& app, CommandResult& result);
void register_train(CLI::App& app, CommandResult& result);
void register_run(CLI::App& app, CommandResult& result);
void register_report(CLI::App& app, CommandResult& result);
void register_submit(CLI::App& app, CommandResult& result);

void register_commands(CLI::App& app, CommandResult& result) {
  register_validate(app, result);
  register_plan(app, result);
  register_status(app, result);
  register_fit(app, result);
  register_train(app, result);
  register_run(app, result);
  register_report(app, result);
  register_submit(app, result);
}

}  // namespace plascale
