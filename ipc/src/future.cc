#include "brine/ipc/future.h"

#include <algorithm>
#include <thread>

namespace brine::detail {

void TaskStateBase::complete(TaskStatus status) noexcept {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(callbacks_mu_);
    status_.store(uint32_t(status), std::memory_order_release);
    callbacks.swap(callbacks_);
  }
  ready_.notify();
  // Waiters of other futures may sleep on the pool's doorbell while this one was drained for
  // them (only while the pool lives: completions come from its drain, fail() or shutdown).
  // (A process-local count first: the doorbell's own line belongs to the workers' hot path.)
  if (drain_hook && drain_hook->doorbell_sleepers.load(std::memory_order_seq_cst) != 0 &&
      drain_hook->open.load(std::memory_order_acquire)) {
    drain_hook->doorbell->wake_if_sleepers();
  }
  for (auto& cb : callbacks) {
    try {
      cb();
    } catch (...) {
      // A callback's exception has nowhere to go; like concurrent.futures, it is dropped.
    }
  }
}

void TaskStateBase::fail(std::exception_ptr error) noexcept {
  if (claimed_.exchange(true, std::memory_order_acq_rel)) return;  // already completed
  error_ = std::move(error);
  complete(TaskStatus::kFailed);
}

void TaskStateBase::finish() noexcept {
  if (claimed_.exchange(true, std::memory_order_acq_rel)) return;
  complete(error_ ? TaskStatus::kFailed : TaskStatus::kDone);
}

namespace {
thread_local uint32_t tls_collecting = 0;

// Collects until done() or the pool closes, or until `deadline` (CLOCK_MONOTONIC ns) passes.
void collect(DrainHook& hook, const ipc::WaitPolicy& policy, const std::function<bool()>& done,
             uint64_t deadline) noexcept {
  if (!policy.sleep) {
    // Pure spinning (pinned processes): this thread is the collector until it is done.
    for (uint32_t i = 0; !done() && hook.open.load(std::memory_order_relaxed); ++i) {
      hook.try_drain();
      if ((i & 63) == 0 && deadline != UINT64_MAX && ipc::monotonic_ns() >= deadline) return;
      ipc::cpu_relax();
    }
    return;
  }
  // Spin phase: collect completions ourselves, so the result does not wait for a wake-up.
  const uint64_t start = ipc::monotonic_ns();
  const uint64_t budget = hook.learner.budget(*hook.doorbell, policy);
  for (uint32_t i = 0;; ++i) {
    hook.try_drain();
    if (done()) {
      hook.learner.record(ipc::monotonic_ns() - start, 0);
      return;
    }
    if ((i & 15) == 0) {
      const uint64_t now = ipc::monotonic_ns();
      if (now >= deadline) return;
      if (now - start >= budget) break;
    }
    ipc::cpu_relax();
  }
  // Sleep phase: on the doorbell, woken by the worker's completion itself; drain, repeat.
  const ipc::WaitPolicy sleep_now{.spin_ns = 0, .sleep = true};
  bool first = true;
  hook.doorbell_sleepers.fetch_add(1, std::memory_order_seq_cst);
  while (!done() && hook.open.load(std::memory_order_seq_cst)) {
    std::chrono::nanoseconds left = std::chrono::nanoseconds::max();
    if (deadline != UINT64_MAX) {
      const uint64_t now = ipc::monotonic_ns();
      if (now >= deadline) break;
      left = std::chrono::nanoseconds(deadline - now);
    }
    hook.doorbell->wait(
        [&] { return done() || !hook.open.load(std::memory_order_seq_cst) || hook.work_waiting(); }, sleep_now, left,
        first ? &hook.learner : nullptr);
    first = false;
    if (!hook.try_drain() && !done()) std::this_thread::yield();  // another thread drains: let it
  }
  hook.doorbell_sleepers.fetch_sub(1, std::memory_order_seq_cst);
}
}  // namespace

uint32_t collecting_on_this_thread() noexcept { return tls_collecting; }

void DrainHook::collect_until(const ipc::WaitPolicy& policy, const std::function<bool()>& done,
                              uint64_t deadline) noexcept {
  collectors.fetch_add(1, std::memory_order_seq_cst);
  bell->unwant();  // this thread drains every completion now, until it leaves (below)
  ++tls_collecting;
  if (open.load(std::memory_order_seq_cst)) collect(*this, policy, done, deadline);
  --tls_collecting;
  if (collectors.fetch_sub(1, std::memory_order_seq_cst) == 1 && collector_napping.load(std::memory_order_seq_cst) != 0 &&
      open.load() && outstanding()) {
    bell->wake();  // others' tasks are in flight: the collector takes over
  }
}

void TaskStateBase::wait(const ipc::WaitPolicy& policy) const noexcept {
  if (done()) return;
  if (DrainHook* hook = drain_hook.get()) hook->collect_until(policy, [this] { return done(); });
  // No pool (any more): whoever completes the task wakes us here.
  ready_.wait([this] { return done(); }, ipc::WaitPolicy{.spin_ns = 0, .sleep = true});
}

bool TaskStateBase::wait_for(std::chrono::nanoseconds timeout, const ipc::WaitPolicy& policy) const noexcept {
  if (done()) return true;
  // A negative timeout checks once, as std::future::wait_for does; a huge one waits without bound.
  const uint64_t start = ipc::monotonic_ns();
  const uint64_t t = uint64_t(std::max<std::chrono::nanoseconds::rep>(timeout.count(), 0));
  const uint64_t deadline = t >= UINT64_MAX - start ? UINT64_MAX : start + t;
  // Collect our own result while the pool lives, as wait() does: no wake-up of the collector.
  if (DrainHook* hook = drain_hook.get()) hook->collect_until(policy, [this] { return done(); }, deadline);
  if (done()) return true;
  const uint64_t now = ipc::monotonic_ns();
  if (deadline != UINT64_MAX && now >= deadline) return false;
  return ready_.wait([this] { return done(); }, ipc::WaitPolicy{.spin_ns = 0, .sleep = true},
                     deadline == UINT64_MAX ? std::chrono::nanoseconds::max() : std::chrono::nanoseconds(deadline - now));
}

bool TaskStateBase::poll() const noexcept {
  if (DrainHook* hook = drain_hook.get(); hook != nullptr && hook->open.load(std::memory_order_acquire)) {
    hook->try_drain();
  }
  return done();
}

void TaskStateBase::add_done_callback(std::function<void()> callback) {
  {
    std::lock_guard lock(callbacks_mu_);
    if (!done()) {
      callbacks_.push_back(std::move(callback));
      if (DrainHook* hook = drain_hook.get()) hook->wake_collector_if_alone();  // nobody may wait for it
      return;
    }
  }
  callback();
}

}  // namespace brine::detail
