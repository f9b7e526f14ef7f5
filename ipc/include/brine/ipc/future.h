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
#include <condition_variable>
#include <iterator>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "brine/core/call.h"
#include "brine/ipc/arena.h"
#include "brine/ipc/wait.h"

namespace brine {

namespace detail {

enum class TaskStatus : uint32_t { kPending = 0, kDone = 1, kFailed = 2 };

// Lets a thread waiting on a future collect completions itself instead of waiting for the
// pool's collector thread to do it (one thread hop less on the critical path). Shared by a
// pool and its futures. Recursive: a done-callback that waits on another future may drain from
// inside a drain.
//
// A waiter spins (ipc::SpinLearner decides how long) draining, then sleeps on the pool's
// doorbell itself, so that the worker's completion wakes it directly. While any thread collects
// this way (`collectors`), the collector thread naps on the segment's CollectorBell instead of
// the doorbell: a worker then makes no wake syscall for a sleeper nobody needs. The last
// collector to leave wakes the collector if tasks are still in flight; a submit with nobody
// collecting asks the bell to wake it at the next completion (unless a waiter comes first).
// `doorbell`, `bell`, `work_waiting` and `outstanding` are set once by the pool before any
// future exists and used only by a thread counted in `collectors` while `open`; the pool's
// shutdown closes the hook, wakes the doorbell and waits for `collectors` to drain before it
// unmaps.
struct DrainHook {
  std::recursive_mutex mu;
  std::function<std::size_t()> drain;  // guarded by mu
  ipc::EventCount* doorbell = nullptr;
  ipc::CollectorBell* bell = nullptr;
  std::function<bool()> work_waiting;  // a completion or a death waits to be drained
  std::function<bool()> outstanding;   // tasks are in flight
  std::atomic<bool> open{true};
  std::atomic<uint32_t> collectors{0};
  std::atomic<uint32_t> collector_napping{0};
  std::atomic<uint32_t> doorbell_sleepers{0};  // collectors asleep on the doorbell (this process)
  ipc::SpinLearner learner;  // how this pool's waiters spin
  // Drains once if no other thread is draining; false if the lock was busy or the pool gone.
  bool try_drain() {
    std::unique_lock lock(mu, std::try_to_lock);
    if (!lock.owns_lock() || !drain) return false;
    drain();
    return true;
  }
  // Collects completions on this thread (counted in `collectors`) until done() holds or the
  // pool closes: spins draining, then sleeps on the doorbell. A waiting future and a submitter
  // waiting for room both wait this way, so neither needs the collector to wake it.
  // With a deadline (CLOCK_MONOTONIC ns), it also returns once the deadline passes.
  void collect_until(const ipc::WaitPolicy& policy, const std::function<bool()>& done,
                     uint64_t deadline = UINT64_MAX) noexcept;
  // A task is about to be published while others are in flight: if the collector naps and
  // nobody collects, its completion must wake the collector (the bell's `wanted`); a waiter
  // that comes first cancels that. A lone task needs no collector: whoever observes it (get,
  // wait, done, a callback, shutdown) drains it.
  void want_collector_if_alone() noexcept {
    if (collector_alone()) bell->want();
  }
  // The collector must drain now if nobody collects (a callback was added to a pending task).
  void wake_collector_if_alone() noexcept {
    if (collector_alone()) bell->wake();
  }
  // The collector thread naps and no other thread collects.
  bool collector_alone() const noexcept {
    return collector_napping.load(std::memory_order_seq_cst) != 0 && collectors.load(std::memory_order_seq_cst) == 0;
  }
};

// How many collectors (above) the calling thread is counted as, for shutdown from a callback.
uint32_t collecting_on_this_thread() noexcept;

class TaskStateBase {
 public:
  virtual ~TaskStateBase() = default;

  // Decodes a verified result into the typed value (or stores its error). Called once, by the
  // pool's collector, with a decoder that retains every arena block the value references.
  virtual void decode(const fb::Result& result, const Decoder& d) noexcept = 0;

  void fail(std::exception_ptr error) noexcept;  // completes with an error (first completion wins)
  void finish() noexcept;                         // completes after decode() (first completion wins)
  bool done() const noexcept { return status_.load(std::memory_order_acquire) != uint32_t(TaskStatus::kPending); }
  // Drains the pool's completions once, without blocking; true if this task is done then.
  bool poll() const noexcept;
  void wait(const ipc::WaitPolicy& policy) const noexcept;
  bool wait_for(std::chrono::nanoseconds timeout, const ipc::WaitPolicy& policy) const noexcept;
  void add_done_callback(std::function<void()> callback);
  void rethrow_if_failed() const {
    if (error_taken_) throw std::future_error(std::future_errc::future_already_retrieved);
    if (error_) std::rethrow_exception(error_);
  }
  // get(): the caller takes the error with it, so the exception object dies on the thread that
  // handled it, not later on whichever thread drops the state last (the collector's). Its
  // reference count lives in the uninstrumented runtime, and ThreadSanitizer would see the
  // collector's delete race with the handler's reads. A second get() then throws
  // std::future_error (future_already_retrieved) instead of reading a value that is not there.
  void take_and_rethrow_if_failed() {
    if (error_taken_) throw std::future_error(std::future_errc::future_already_retrieved);
    if (!error_) return;
    error_taken_ = true;
    std::rethrow_exception(std::exchange(error_, nullptr));
  }

  std::vector<ipc::BlockHandle> holds;  // arena blocks the value points into
  std::size_t bytes_copied = 0;         // framework copies made to send this task
  std::function<bool()> cancel_hook;    // set by the pool while the task may be cancelled
  std::shared_ptr<DrainHook> drain_hook;  // set by the pool: lets waiters collect completions

 protected:
  std::exception_ptr error_;

 private:
  bool error_taken_ = false;  // get() took error_ (the future's owner only)
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

// The results of a chunk of calls (map): one value per call, in order; the first failing call
// fails the chunk with its error.
template <class R>
class BatchState final : public TaskStateBase {
 public:
  void decode(const fb::Result& result, const Decoder& d) noexcept override {
    try {
      if (const fb::Error* err = result.error()) rethrow(*err);
      if constexpr (std::is_arithmetic_v<R>) {
        if (vectorized) {
          value.emplace(decode_result<std::vector<R>>(result, d));
          if (value->size() != expected) throw DecodeError("brine: a vectorized chunk returned the wrong number of results");
          if (on_decoded) on_decoded();
          return;
        }
      }
      const auto* batch = result.batch();
      if (batch == nullptr) throw DecodeError("brine: a chunk's result carries no batch");
      std::vector<R> out;
      out.reserve(batch->size());
      for (const fb::Result* r : *batch) {
        if (r == nullptr) throw DecodeError("brine: a chunk's result is missing an entry");
        out.push_back(decode_result<R>(*r, d));
      }
      value.emplace(std::move(out));
    } catch (...) {
      error_ = std::current_exception();
    }
    if (on_decoded) on_decoded();
  }
  std::optional<std::vector<R>> value;
  std::function<void()> on_decoded;  // runs before the chunk is marked done (map's progress)
  bool vectorized = false;           // the chunk travelled as arrays (kTaskVectorized)
  std::size_t expected = 0;          // calls in the chunk
};

}  // namespace detail

template <class R>
class Future {
 public:
  Future() = default;
  using Stored = std::conditional_t<std::is_void_v<R>, char, R>;
  // `value` lives inside `state` (a TaskState<R>, or a BatchState for a chunk of a map).
  Future(std::shared_ptr<detail::TaskStateBase> state, std::optional<Stored>* value, ipc::WaitPolicy policy = {})
      : state_(std::move(state)), value_(value), policy_(policy) {}
  template <class S>
  static Future of(std::shared_ptr<S> state, ipc::WaitPolicy policy = {}) {
    std::optional<Stored>* value = &state->value;
    return Future(std::move(state), value, policy);
  }

  bool valid() const noexcept { return state_ != nullptr; }
  // Not done yet: collects what has completed (without blocking), so polling done() alone
  // sees the task finish.
  bool done() const noexcept { return state_->done() || state_->poll(); }
  void wait() const noexcept { state_->wait(policy_); }
  // True if the task finished within `timeout`.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const noexcept {
    return state_->wait_for(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout), policy_);
  }

  // Waits, then returns the value (moved out: call once) or throws the task's error.
  R get() {
    wait();
    state_->take_and_rethrow_if_failed();
    if constexpr (!std::is_void_v<R>) return std::move(**value_);
  }
  // Waits, then returns a reference to the value, or throws the task's error.
  template <class T = R>
    requires(!std::is_void_v<T>)
  const T& value() const {
    wait();
    state_->rethrow_if_failed();
    return **value_;
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
  std::shared_ptr<detail::TaskStateBase> state_;
  std::optional<Stored>* value_ = nullptr;
  ipc::WaitPolicy policy_;
};

// Yields the indices of `futures` in the order they complete (Python's as_completed):
//   for (std::size_t i : brine::as_completed(futures)) use(futures[i].get());
template <class R>
class AsCompleted {
 public:
  explicit AsCompleted(const std::vector<Future<R>>& futures) : shared_(std::make_shared<Shared>()) {
    shared_->remaining = futures.size();
    for (std::size_t i = 0; i < futures.size(); ++i) {
      Future<R> f = futures[i];
      f.add_done_callback([s = shared_, i] {
        std::lock_guard lock(s->mu);
        s->ready.push_back(i);
        s->cv.notify_one();
      });
    }
  }
  class iterator {
   public:
    using value_type = std::size_t;
    using difference_type = std::ptrdiff_t;
    explicit iterator(AsCompleted* owner) : owner_(owner) { advance(); }
    std::size_t operator*() const { return current_; }
    iterator& operator++() {
      advance();
      return *this;
    }
    bool operator==(std::default_sentinel_t) const { return owner_ == nullptr; }

   private:
    void advance() {
      if (owner_ == nullptr) return;
      Shared& s = *owner_->shared_;
      std::unique_lock lock(s.mu);
      if (s.taken == s.remaining) {
        owner_ = nullptr;
        return;
      }
      s.cv.wait(lock, [&] { return !s.ready.empty(); });
      current_ = s.ready.front();
      s.ready.erase(s.ready.begin());
      ++s.taken;
    }
    AsCompleted* owner_;
    std::size_t current_ = 0;
  };
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() { return {}; }

 private:
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::size_t> ready;
    std::size_t remaining = 0;
    std::size_t taken = 0;
  };
  std::shared_ptr<Shared> shared_;
};

template <class R>
AsCompleted<R> as_completed(const std::vector<Future<R>>& futures) {
  return AsCompleted<R>(futures);
}

// Waits until every future is done or `timeout` passes; true if all are done.
template <class R, class Rep = int64_t, class Period = std::nano>
bool wait_all(const std::vector<Future<R>>& futures,
              std::chrono::duration<Rep, Period> timeout = std::chrono::duration<Rep, Period>::max()) {
  const auto deadline = timeout == std::chrono::duration<Rep, Period>::max()
                            ? std::chrono::steady_clock::time_point::max()
                            : std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::nanoseconds>(timeout);
  for (const auto& f : futures) {
    if (deadline == std::chrono::steady_clock::time_point::max()) {
      f.wait();
    } else if (!f.wait_for(std::max(deadline - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration::zero()))) {
      return false;
    }
  }
  return true;
}

}  // namespace brine
