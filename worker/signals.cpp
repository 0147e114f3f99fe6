#include "worker/signals.h"

#include <csignal>
#include <cstring>

namespace plascale {
namespace {

// Async-signal-safe: the handler writes one lock-free atomic and nothing else.
volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void record_stop_signal(int signal_number) { g_stop_signal = signal_number; }

}  // namespace

void install_stop_signal_handlers() {
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = record_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // blocking writes (HDF5, fsync) resume instead of failing
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGUSR1, &action, nullptr);
}

int stop_signal_received() { return g_stop_signal; }

void clear_stop_signal() { g_stop_signal = 0; }

}  // namespace plascale
