// Private: the body of a worker process.
#pragma once

#include <cstdint>

namespace brine::detail {

class PoolCore;

class WorkerProcess {
 public:
  // Runs in the child after fork: serves tasks from the worker's submission ring until told
  // to stop or its parent dies. Never returns; exits with _exit (no atexit handlers or static
  // destructors of the parent's image run in a worker).
  [[noreturn]] static void run(PoolCore& core, uint32_t worker);
};

}  // namespace brine::detail
