// Private: the machinery behind brine::Pool. See pool.h for the contract and layout.h for
// what lives in shared memory.
//
// Threads of the parent:
//  - callers of submit(): encode into a thread-local builder, take a free slot, copy the
//    envelope in and hand the slot to the scheduler (below);
//  - the collector: drains every completion ring, completes futures, answers workers' arena
//    requests and cleans up after dead workers; sleeps on the segment's doorbell when idle.
//    A thread waiting on a future drains too while it spins (DrainHook); meanwhile the
//    collector naps on the CollectorBell and is woken only for completions nobody else
//    observes (future.h);
//  - the monitor: starts workers (fork, forkserver or exec) so their parent-death signal is
//    tied to a thread that lives as long as the pool, learns of deaths at once from pidfds in
//    poll(), and enforces task timeouts.
//
// ---- Scheduling: a task waits for the first free worker ----------------------------------------
//
// Algorithm: late binding with a bounded prefetch (the task is bound to a worker only when
// that worker is about to be free, as in Sparrow, Ousterhout et al., SOSP 2013, and in
// ProcessPoolExecutor's call queue of workers + 1), plus work stealing of prefetched tasks
// (Blumofe & Leiserson, JACM 1999) performed by the parent, whose one decision is a CAS on a
// ticketed state word (an ABA tag, as in Treiber's stack, IBM RJ 5118, 1986).
//
//  - The parent holds the backlog: slots of submitted tasks that no worker has been given yet,
//    oldest first, in its own memory. A worker is given (its ring gets a kTask message) at most
//    `depth` tasks at a time, running + prefetched. depth = 1 + ceil(kPrefetchCoverNs / t),
//    t = moving average of measured run times, at least 2 and at most ring_capacity: enough
//    prefetched work to cover the time the parent takes to refill a ring, so short tasks
//    stream at full speed while long ones strand at most one task behind them.
//  - Whenever a worker's load drops (a completion, a death, a start) or a task is submitted,
//    the backlog is pumped to the least-loaded eligible worker below depth.
//  - A worker whose current task has run for 4 average run times (at least 200 µs) is stalled:
//    it is given nothing more until the task ends, and once another worker is idle, what was
//    prefetched behind that task is taken back ("revoked", below) and returns to the backlog
//    in submission order, ahead of later tasks. So a task never waits behind a long one while
//    a later task runs on a worker that freed up. While a worker idles and another one is not
//    stalled yet, the collector thread wakes at the moment it would be, and pumps again.
//  - Every slot carries a state word (ticket << 32 | SlotState). A kTask message carries the
//    ticket it was sent with. A worker claims by CAS (ticket, kQueued) -> (ticket, kRunning);
//    the parent revokes by CAS (ticket, kQueued) -> (ticket + 1, kQueued), and a later pump
//    sends the slot with ticket + 1 to another worker. Exactly one of the two CASes succeeds. A worker whose
//    CAS fails on a different ticket drops its message (stale); on (ticket, kCancelled) it hands
//    the slot back (kDone), as before. Tickets only grow, so a stale message never matches a
//    later dispatch of the same slot (2^32 revocations of one slot would be needed).
//
// Invariants (sched_mu_ guards the backlog, every `assigned` list, assigned_total_ and the
// producer side of every submission ring):
//  1. A submitted, unfinished task is in exactly one place: the backlog, or one worker's
//     `assigned` list (slot_owner_ names that worker). Its slot is free only after retire() or
//     fail_slot() took it out of the place.
//  2. A task in state kQueued may be claimed only by the worker that holds its current ticket
//     in a ring message; a task in kRunning/kDone belongs to the worker that claimed it.
//  3. A worker never takes a lock and writes only its own claimed slots: killed at any
//     instruction, it leaves each of its tasks either kQueued (never claimed: requeued at the
//     front of the backlog, in submission order, by handle_death) or kRunning (failed with
//     WorkerCrashed, exactly once) or kDone (its result is delivered). A kill between its ring
//     pop and its CAS is the first case; nothing is lost, run twice, or left wedged.
//  4. A worker only pops its own ring; a revoked task's message stays there until its owner
//     pops and drops it, so a ring may hold stale messages: a failed push leaves the task in
//     the backlog, retried at the next pump (the collector pumps at least once a second).
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
inline constexpr uint32_t kNoSlot = UINT32_MAX;

// What the parent keeps about a task in flight, by slot index.
struct Pending {
  std::shared_ptr<TaskStateBase> state;
  std::vector<ipc::BlockHandle> blocks;  // arena blocks the task (and its result) hold
  const FunctionInfo* fn = nullptr;
  uint64_t task_id = 0;
};

struct WorkerEntry {
  ipc::WorkerControl* control = nullptr;
  ipc::SpscRing submit;  // producer side guarded by PoolCore::sched_mu_
  ipc::SpscRing complete;
  std::deque<uint32_t> assigned;  // slots given to this worker, oldest first (sched_mu_)
  uint64_t head_since_ns = 0;     // when assigned.front() became its head (sched_mu_)
  uint64_t stall_check_at_ns = 0;  // it cannot be stalled before this (sched_mu_)
  uint32_t stalled_slot = kNoSlot;  // its long-running task, while it gets no prefetch (sched_mu_)
  std::atomic<bool> needs_wake{false};  // pushed to under sched_mu_, not notified yet
  std::atomic<bool> alive{false};     // running and eligible for new tasks
  std::atomic<bool> dead{false};      // reaped by the monitor, not yet cleaned up by the collector
  std::atomic<bool> retiring{false};  // told to stop (resize down): no new tasks
  std::atomic<bool> parked{false};    // exited when idle: restarted on demand
  std::atomic<uint32_t> timed_out_slot{kNoWorker};  // killed by the monitor for this slot's timeout
  std::atomic<bool> killed_by_shutdown{false};       // killed by shutdown(wait = false)
  std::atomic<pid_t> pid{0};  // rewritten by the monitor on respawn, read by any thread
  int pidfd = -1;
  int wait_status = 0;  // of the last exit
  uint64_t started_ns = 0;      // when the monitor started it (monitor only)
  bool killed_at_start = false;  // the monitor killed it for not starting (monitor only)
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
  void free_slot(uint32_t slot) noexcept;  // back on the free list, nobody told yet
  void announce_room() noexcept;           // wakes whoever waits for a slot or for room
  void release_slot(uint32_t slot) noexcept;  // free_slot + announce_room
  // Scheduling (see the top of this file). schedule() takes sched_mu_; the others need it held.
  void schedule(uint32_t slot);
  void pump();
  bool push_to(uint32_t worker, uint32_t slot);
  void wake_pushed() noexcept;  // notifies the workers push_to() pushed to; call without sched_mu_
  void reclaim_stalled();
  void unassign(uint32_t worker, uint32_t slot);
  uint32_t prefetch_depth() const noexcept;
  bool eligible(const WorkerEntry& e) const noexcept;
  void record_run_time(uint64_t ns) noexcept;
  std::chrono::nanoseconds next_pump_in(std::chrono::nanoseconds longest) const noexcept;
  void pump_if_due();
  bool cancel(uint32_t slot, uint64_t task_id, TaskStateBase& state);
  void wait_for_room(uint32_t seen);
  [[noreturn]] void refuse_full(const char* what);

  void collector_loop();
  std::size_t drain();  // caller holds drain_hook_->mu
  std::size_t drain_locked();
  // A completed task, decoded into its future (settle) but still on its worker's list and
  // holding its slot until retire() takes a whole batch out with one lock and one pump.
  struct Settled {
    uint32_t worker;
    uint32_t slot;
    std::shared_ptr<TaskStateBase> state;  // finished by retire(); null if cancelled or failed
  };
  void handle_message(uint32_t worker, uint64_t message, std::vector<Settled>& batch);
  void settle(uint32_t worker, uint32_t slot, std::vector<Settled>& batch);
  void retire(std::vector<Settled>& batch);
  void finish(uint32_t worker, uint32_t slot);  // settle + retire of one task
  void grant(uint32_t slot);
  void handle_death(uint32_t worker);
  void fail_slot(uint32_t worker, uint32_t slot, std::exception_ptr error);
  void completing_done() noexcept;
  void break_pool(const std::string& why);
  BrokenPool broken_error() const;  // the error every use of a broken pool gets
  std::string broken_message() const;  // its message

  void monitor_loop();
  void start_worker(uint32_t worker);
  void reap(uint32_t worker);
  void check_timeouts();
  // Kills a worker still not in its serving code PoolOptions::start_timeout after it was
  // started: a child forked while another thread of the parent held a lock (a sanitizer's
  // allocator, a user's mutex) can wait on it forever. It is replaced like any worker that
  // died idle. True while a worker is still starting.
  bool check_starts();
  void request_monitor(uint32_t respawn_worker);

  std::vector<std::unique_ptr<WorkerEntry>> workers_;
  std::mutex sched_mu_;
  std::deque<uint32_t> backlog_;      // slots no worker was given yet, oldest first (sched_mu_)
  std::size_t assigned_total_ = 0;    // sum of every worker's assigned.size() (sched_mu_)
  std::vector<uint8_t> push_failed_;  // per worker, during one pump (sched_mu_)
  std::atomic<uint64_t> run_ewma_ns_{0};  // moving average of task run times; 0: none yet
  std::atomic<uint64_t> tasks_stolen_{0};
  std::atomic<uint64_t> steal_retry_at_ns_{0};  // when a worker would be stalled, for an idle one; 0: none
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
