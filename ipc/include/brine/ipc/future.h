// Future<R>: the result of a task submitted to a brine::Pool.
//
// get() blocks until the task finished and returns its value or throws: brine::RemoteError for
// an exception in the task (remote type name and what()), brine::WorkerCrashed if its worker
// died, brine::DecodeError for a corrupt result, brine::Cancelled, brine::TimeoutError.
// Values that reference the shared arena (std::span results) stay valid while the Future, or
// a copy of it, lives.
//
// Thread safety: a Future may be copied and waited on from several threads; get() moves the
// value out and may be called once (like std::future), value() returns a reference instead.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "brine/core/call.h"
#include "brine/ipc/arena.h"
#include "brine/ipc/wait.h"

namespace brine {

namespace detail {

enum class TaskStatus : uint32_t { kPending = 0, kDone = 1, kFailed = 2 };

// Lets a thread waiting on a future collect completions itself instead of waiting for the
// pool's collector thread to do it (one thread hop less on the critical path). Shared by a
// pool and its futures; `drain` is cleared when the pool shuts down. Recursive: a done-callback
// that waits on another future may drain from inside a drain.
struct DrainHook {
  std::recursive_mutex mu;
  std::function<std::size_t()> drain;  // guarded by mu
  // Drains once if no other thread is draining; false if the lock was busy or the pool gone.
  bool try_drain() {
    std::unique_lock lock(mu, std::try_to_lock);
    if (!lock.owns_lock() || !drain) return false;
    drain();
    return true;
  }
};

class TaskStateBase {
 public:
  virtual ~TaskStateBase() = default;

  // Decodes a verified result into the typed value (or stores its error). Called once, by the
  // pool's collector, with a decoder that retains every arena block the value references.
  virtual void decode(const fb::Result& result, const Decoder& d) noexcept = 0;

  void fail(std::exception_ptr error) noexcept;  // completes with an error (first completion wins)
  void finish() noexcept;                         // completes after decode() (first completion wins)
  bool done() const noexcept { return status_.load(std::memory_order_acquire) != uint32_t(TaskStatus::kPending); }
  void wait(const ipc::WaitPolicy& policy) const noexcept;
  bool wait_for(std::chrono::nanoseconds timeout) const noexcept;
  void add_done_callback(std::function<void()> callback);
  void rethrow_if_failed() const {
    if (error_) std::rethrow_exception(error_);
  }

  std::vector<ipc::BlockHandle> holds;  // arena blocks the value points into
  std::size_t bytes_copied = 0;         // framework copies made to send this task
  std::function<bool()> cancel_hook;    // set by the pool while the task may be cancelled
  std::shared_ptr<DrainHook> drain_hook;  // set by the pool: lets waiters collect completions

 protected:
  std::exception_ptr error_;

 private:
  void complete(TaskStatus status) noexcept;
  std::atomic<bool> claimed_{false};  // the first of fail()/finish() completes; later calls are no-ops
  std::atomic<uint32_t> status_{uint32_t(TaskStatus::kPending)};
  mutable ipc::EventCount ready_;  // waiters sleep here
  std::mutex callbacks_mu_;
  std::vector<std::function<void()>> callbacks_;
};

template <class R>
class TaskState final : public TaskStateBase {
 public:
  void decode(const fb::Result& result, const Decoder& d) noexcept override {
    try {
      if constexpr (std::is_void_v<R>) {
        decode_result<void>(result, d);
      } else {
        value.emplace(decode_result<R>(result, d));
      }
    } catch (...) {
      error_ = std::current_exception();
    }
  }
  std::optional<std::conditional_t<std::is_void_v<R>, char, R>> value;
};

}  // namespace detail

template <class R>
class Future {
 public:
  Future() = default;
  explicit Future(std::shared_ptr<detail::TaskState<R>> state, ipc::WaitPolicy policy = {})
      : state_(std::move(state)), policy_(policy) {}

  bool valid() const noexcept { return state_ != nullptr; }
  bool done() const noexcept { return state_->done(); }
  void wait() const noexcept { state_->wait(policy_); }
  // True if the task finished within `timeout`.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const noexcept {
    return state_->wait_for(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout));
  }

  // Waits, then returns the value (moved out: call once) or throws the task's error.
  R get() {
    wait();
    state_->rethrow_if_failed();
    if constexpr (!std::is_void_v<R>) return std::move(*state_->value);
  }
  // Waits, then returns a reference to the value, or throws the task's error.
  template <class T = R>
    requires(!std::is_void_v<T>)
  const T& value() const {
    wait();
    state_->rethrow_if_failed();
    return *state_->value;
  }

  // Cancels the task if no worker has started it; returns true if it was cancelled (get()
  // then throws brine::Cancelled).
  bool cancel() { return state_->cancel_hook && state_->cancel_hook(); }

  // Runs `callback` once the task is done (at once if it already is), on the thread that
  // completes it. The callback may submit more tasks.
  void add_done_callback(std::function<void()> callback) { state_->add_done_callback(std::move(callback)); }

  // Bytes the framework copied to send this task (envelope and arena copies; a buffer that
  // already lived in the arena costs nothing).
  std::size_t bytes_copied() const noexcept { return state_->bytes_copied; }

 private:
  std::shared_ptr<detail::TaskState<R>> state_;
  ipc::WaitPolicy policy_;
};

}  // namespace brine
