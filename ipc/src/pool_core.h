// Private: the machinery behind brine::Pool. See pool.h for the contract and layout.h for
// what lives in shared memory.
//
// Threads of the parent:
//  - callers of submit(): encode into a thread-local builder, take a free slot, copy the
//    envelope in and push the slot index to the least-loaded worker's submission ring (one
//    mutex per ring serializes its producers: SPSC);
//  - the collector: drains every completion ring, completes futures, answers workers' arena
//    requests and cleans up after dead workers; sleeps on the segment's doorbell when idle.
//    A thread waiting on a future drains too while it spins (DrainHook);
//  - the monitor: starts workers (fork, forkserver or exec) so their parent-death signal is
//    tied to a thread that lives as long as the pool, learns of deaths at once from pidfds in
//    poll(), and enforces task timeouts.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "brine/ipc/arena.h"
#include "brine/ipc/layout.h"
#include "brine/ipc/pool.h"
#include "brine/ipc/segment.h"
#include "start.h"

namespace brine::detail {

inline constexpr uint32_t kNoWorker = UINT32_MAX;

// What the parent keeps about a task in flight, by slot index.
struct Pending {
  std::shared_ptr<TaskStateBase> state;
  std::vector<ipc::BlockHandle> blocks;  // arena blocks the task (and its result) hold
  const FunctionInfo* fn = nullptr;
  uint64_t task_id = 0;
};

struct WorkerEntry {
  ipc::WorkerControl* control = nullptr;
  ipc::SpscRing submit;
  ipc::SpscRing complete;
  std::mutex submit_mu;  // producers of `submit`
  std::atomic<uint32_t> inflight{0};
  std::atomic<bool> alive{false};     // running and eligible for new tasks
  std::atomic<bool> dead{false};      // reaped by the monitor, not yet cleaned up by the collector
  std::atomic<bool> retiring{false};  // told to stop (resize down): no new tasks
  std::atomic<bool> parked{false};    // exited when idle: restarted on demand
  std::atomic<uint32_t> timed_out_slot{kNoWorker};  // killed by the monitor for this slot's timeout
  std::atomic<bool> killed_by_shutdown{false};       // killed by shutdown(wait = false)
  std::atomic<pid_t> pid{0};  // rewritten by the monitor on respawn, read by any thread
  int pidfd = -1;
  int wait_status = 0;  // of the last exit
};


class PoolCore {
 public:
  explicit PoolCore(PoolOptions options);
  ~PoolCore();

  void submit(const std::shared_ptr<TaskStateBase>& state, const FunctionInfo& info,
              const std::function<EncodedCall(Encoder&)>& encode, const SubmitOptions& opts);
  // Returns false if `timeout` passed and workers still running tasks were killed.
  bool shutdown(bool wait, bool cancel_futures,
                std::chrono::milliseconds timeout = std::chrono::milliseconds::max());
  std::chrono::milliseconds destroy_bound() const noexcept;  // options.shutdown_timeout, 0 = none
  void resize(unsigned n);
  bool broken() const noexcept { return broken_.load(std::memory_order_acquire); }
  bool closed() const noexcept { return closing_.load(std::memory_order_acquire); }
  unsigned target_workers() const noexcept { return target_workers_.load(std::memory_order_relaxed); }
  std::vector<pid_t> worker_pids() const;
  PoolStats stats() const;

  PoolOptions options;          // resolved (defaults filled in)
  const PoolOptions requested;  // as the caller gave them (reusable_pool compares these)
  ipc::Segment segment;
  ipc::SegmentHeader* header = nullptr;
  std::unique_ptr<ipc::Arena> arena;

 private:
  ipc::SlotHeader& slot(uint32_t i) const noexcept;
  // Slot i's inline task envelope (read-only to workers) and inline result envelope.
  std::byte* task_data(uint32_t i) const noexcept {
    return segment.base() + header->task_data_offset + std::size_t{i} * header->slot_bytes;
  }
  std::byte* result_data(uint32_t i) const noexcept {
    return segment.base() + header->result_data_offset + std::size_t{i} * header->slot_bytes;
  }
  std::atomic<uint32_t>* slot_links() const noexcept;

  uint32_t acquire_slot();
  void release_slot(uint32_t slot) noexcept;
  void dispatch(uint32_t slot);
  bool cancel(uint32_t slot, uint64_t task_id, TaskStateBase& state);
  void wait_for_room(uint32_t seen);
  [[noreturn]] void refuse_full(const char* what);

  void collector_loop();
  std::size_t drain();  // caller holds drain_hook_->mu
  std::size_t drain_locked();
  void handle_message(uint32_t worker, uint64_t message);
  void finish(uint32_t worker, uint32_t slot);
  void grant(uint32_t slot);
  void handle_death(uint32_t worker);
  void fail_slot(uint32_t worker, uint32_t slot, std::exception_ptr error);
  void completing_done() noexcept;
  void break_pool(const std::string& why);
  BrokenPool broken_error() const;  // the error every use of a broken pool gets

  void monitor_loop();
  void start_worker(uint32_t worker);
  void reap(uint32_t worker);
  void check_timeouts();
  void request_monitor(uint32_t respawn_worker);

  std::vector<std::unique_ptr<WorkerEntry>> workers_;
  std::vector<Pending> pending_;                        // by slot
  std::unique_ptr<std::atomic<uint32_t>[]> slot_owner_;  // worker a slot was pushed to, by slot
  std::atomic<uint64_t> next_task_id_{1};
  std::atomic<uint32_t> slots_released_{0};  // bumped (and notified) whenever room may have freed
  std::atomic<uint64_t> inflight_total_{0};
  std::atomic<uint32_t> timed_inflight_{0};  // tasks in flight that carry a timeout
  // Completions between "future completed" and "pool's reference to it dropped" (stats() waits).
  mutable std::atomic<uint32_t> completing_{0};
  std::atomic<unsigned> target_workers_{0};
  std::atomic<bool> closing_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> deaths_{false};
  std::atomic<bool> broken_{false};
  std::string broken_reason_;  // written once, before broken_ is set
  pid_t parent_pid_ = 0;

  int control_fd_ = -1;  // eventfd: wakes the monitor
  std::mutex monitor_mu_;
  std::deque<uint32_t> respawn_;  // guarded by monitor_mu_
  std::mutex spawned_mu_;
  std::condition_variable spawned_cv_;
  bool initial_spawn_done_ = false;
  std::exception_ptr spawn_error_;
  std::unique_ptr<ForkServer> fork_server_;  // monitor thread only

  std::thread monitor_;
  std::thread collector_;
  std::shared_ptr<DrainHook> drain_hook_ = std::make_shared<DrainHook>();
  std::mutex shutdown_mu_;
  bool shut_down_ = false;
  // Set when a bounded shutdown ran out of time (before it kills; read after the kill is seen).
  std::chrono::milliseconds shutdown_timed_out_after_{0};
};

}  // namespace brine::detail
