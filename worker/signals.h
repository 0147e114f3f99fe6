#pragma once
// Preemption signals. SIGTERM (Slurm's warning before a kill) and SIGUSR1 (a site's
// --signal=USR1@T) only set a flag; the training loop polls it between optimizer steps,
// writes a checkpoint, flushes the run file and exits with kExitResubmit.

namespace plascale {

// Installs the handlers for SIGTERM and SIGUSR1 (idempotent).
void install_stop_signal_handlers();

// The signal number received since the handlers were installed, 0 if none.
int stop_signal_received();

// Clears the flag (tests that raise the signal in-process use it).
void clear_stop_signal();

}  // namespace plascale
