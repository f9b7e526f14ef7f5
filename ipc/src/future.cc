#include "brine/ipc/future.h"

namespace brine::detail {

void TaskStateBase::complete(TaskStatus status) noexcept {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(callbacks_mu_);
    status_.store(uint32_t(status), std::memory_order_release);
    callbacks.swap(callbacks_);
  }
  ready_.notify();
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

void TaskStateBase::wait(const ipc::WaitPolicy& policy) const noexcept {
  if (done()) return;
  // Spin phase: collect completions ourselves, so the result does not wait for the collector
  // thread to be scheduled. Then sleep; the collector completes us.
  if (!policy.sleep) {
    // Pure spinning (pinned processes): this thread is the collector until its result is in.
    if (drain_hook) drain_hook->spinners.fetch_add(1, std::memory_order_relaxed);
    while (!done()) {
      if (drain_hook) drain_hook->try_drain();
      ipc::cpu_relax();
    }
    if (drain_hook) drain_hook->spinners.fetch_sub(1, std::memory_order_relaxed);
    return;
  }
  const uint64_t until = ipc::monotonic_ns() + policy.spin_ns;
  for (uint32_t i = 0; (i & 15) != 0 || ipc::monotonic_ns() < until; ++i) {
    if (drain_hook) drain_hook->try_drain();
    if (done()) return;
    ipc::cpu_relax();
  }
  ready_.wait([this] { return done(); }, ipc::WaitPolicy{.spin_ns = 0, .sleep = true});
}

bool TaskStateBase::wait_for(std::chrono::nanoseconds timeout) const noexcept {
  return ready_.wait([this] { return done(); }, ipc::WaitPolicy{}, timeout);
}

void TaskStateBase::add_done_callback(std::function<void()> callback) {
  {
    std::lock_guard lock(callbacks_mu_);
    if (!done()) {
      callbacks_.push_back(std::move(callback));
      return;
    }
  }
  callback();
}

}  // namespace brine::detail
