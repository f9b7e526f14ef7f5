// Private: the body of a worker process, however it was started.
#pragma once

#include <cstddef>
#include <cstdint>

#include "brine/core/codec.h"
#include "brine/ipc/layout.h"

namespace brine::detail {

// Exit codes a worker uses on purpose (anything else, or a signal, is a crash).
inline constexpr int kWorkerExitOk = 0;
inline constexpr int kWorkerExitInitFailed = 70;
inline constexpr int kWorkerExitBadParent = 71;

class WorkerProcess {
 public:
  // Serves tasks from worker `index`'s submission ring of the segment mapped at `base` until
  // told to stop, retired (max tasks, idle timeout) or orphaned. Never returns: exits with
  // _exit, so no atexit handler or static destructor of the parent's image runs in a worker.
  // `reducers` are the pool's own reduce hooks (fork start methods only; nullptr otherwise).
  // `parent` is the process that started it (the pool's owner, or its forkserver).
  [[noreturn]] static void run(std::byte* base, ipc::SegmentHeader* header, uint32_t index,
                               const ReducerTable* reducers, int parent);
};

}  // namespace brine::detail
