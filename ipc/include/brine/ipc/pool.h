// Pool: a pool of worker processes that run registered functions, with futures.
//
//   double total(std::span<const double> xs) { return std::accumulate(xs.begin(), xs.end(), 0.0); }
//   BRINE_REGISTER(total);
//
//   brine::Pool pool({.workers = 2});
//   std::vector<double> xs(1 << 20, 1.0);
//   brine::Future<double> f = pool.submit(total, xs);  // > 64 KiB: placed in the shared arena
//   double s = f.get();
//
// Tasks and results are FlatBuffers envelopes in the pool's shared segment (a memfd: nothing
// in /dev/shm, nothing left behind however the processes die). Only a slot index crosses each
// lock-free ring. A worker that dies fails exactly the task it was running with
// brine::WorkerCrashed and is replaced; the tasks queued behind it run on its successor.
//
// Thread safety: every member function may be called from any thread; futures may be waited
// on anywhere. Destroying the pool stops and reaps every worker (queued tasks finish first)
// and frees its segment; futures still pending then fail with brine::PoolClosed.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <chrono>
#include <atomic>
#include <functional>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include "brine/core/closure.h"
#include "brine/ipc/arena.h"
#include "brine/ipc/future.h"
#include "brine/ipc/shared_vector.h"
#include "brine/ipc/wait.h"

namespace brine {

// How worker processes are started (Python's start methods, same trade-offs):
//  - kFork: fork() the parent. Fastest start (~1 ms); a worker inherits everything, including
//    per-pool reducers and lambdas. Unsafe if other threads of the parent may hold locks the
//    workers' code takes (a respawn forks from a multithreaded parent).
//  - kForkServer: a small single-threaded server process, forked when the pool starts, forks
//    every worker (and every replacement): respawns never fork the multithreaded parent.
//  - kSpawn: exec a fresh copy of this binary; its main() must call brine::run_if_worker()
//    first (like multiprocessing.freeze_support()). Functions are found by registered name;
//    per-pool reducers don't cross exec and are refused; lambdas work only because the
//    image is the same build (verified).
enum class StartMethod : uint8_t { kFork, kForkServer, kSpawn };

// What submit does when every slot or every worker's ring is full.
enum class Backpressure : uint8_t { kBlock, kFail };

struct PoolOptions {
  unsigned workers = 0;      // 0: std::thread::hardware_concurrency()
  unsigned max_workers = 0;  // the most resize() may reach; 0: max(workers, 2 x hardware)
  StartMethod start_method = StartMethod::kFork;
  void (*initializer)() = nullptr;  // a registered function run once in each new worker
  uint32_t max_tasks_per_child = 0;  // replace a worker after this many tasks; 0: never
  std::chrono::milliseconds task_timeout{0};  // run-time limit per task; 0: none
  std::chrono::milliseconds idle_timeout{0};  // a worker idle this long exits (restarted on demand); 0: never
  Backpressure backpressure = Backpressure::kBlock;
  std::size_t arena_bytes = std::size_t{1} << 30;  // virtual: pages cost memory only once touched
  std::size_t reference_threshold = kDefaultReferenceThreshold;
  uint32_t ring_capacity = 256;   // tasks queued or running per worker (a power of two)
  uint32_t slot_count = 1024;     // tasks in flight in the whole pool
  uint32_t slot_bytes = 4096;     // envelope bytes held inline per slot; larger ones use the arena
  uint32_t max_blocks = 4096;     // arena blocks alive at once
  ipc::WaitPolicy worker_wait{};  // how idle workers wait for tasks
  ipc::WaitPolicy parent_wait{};  // how the collector and Future::get() wait
  bool pin_workers = false;       // pin worker i to CPU i % ncpu
  const ReducerTable* reducers = nullptr;  // per-pool reduce hooks, in parent and workers

  bool operator==(const PoolOptions&) const = default;
};

// Per-call options of Pool::submit_with.
struct SubmitOptions {
  std::chrono::milliseconds timeout{0};  // 0: the pool's task_timeout
};

struct MapOptions {
  std::size_t chunksize = 0;  // calls per task; 0 picks one from the input size and worker count
  // Called as chunks finish, with (calls done, calls in all), on the thread that completes them.
  std::function<void(std::size_t, std::size_t)> progress = nullptr;
};

struct PoolStats {
  uint64_t submitted = 0;
  uint64_t completed = 0;
  uint64_t workers_crashed = 0;
  uint64_t tasks_moved = 0;  // tasks prefetched by a busy worker that an idle one took instead
  std::size_t arena_used = 0;
  std::size_t arena_capacity = 0;
  std::size_t arena_blocks = 0;
};

namespace detail {
class PoolCore;
}

class Pool {
 public:
  explicit Pool(PoolOptions options = {});
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Runs callable(args...) in a worker. The callable is a registered function, a
  // brine::partial, a registered functor or a lambda (see closure.h); each argument is
  // encoded as the parameter type it is passed to. Throws brine::NotRegistered at once for an
  // unregistered function and brine::PoolClosed after shutdown; an argument that fails to
  // encode fails only the returned future.
  template <class C, class... A>
  Future<typename CallableTraits<std::decay_t<C>>::Result> submit(const C& callable, const A&... args) {
    return submit_with(SubmitOptions{}, callable, args...);
  }
  // submit() with per-call options (a timeout).
  template <class C, class... A>
  Future<typename CallableTraits<std::decay_t<C>>::Result> submit_with(const SubmitOptions& opts, const C& callable,
                                                                      const A&... args) {
    using Traits = CallableTraits<std::decay_t<C>>;
    using R = typename Traits::Result;
    const std::decay_t<C>& c = callable;
    const FunctionInfo& info = Traits::info(c);
    auto state = std::make_shared<detail::TaskState<R>>();
    submit_encoded(state, info, [&](Encoder& e) { return encode_call(e, c, args...); }, opts);
    return Future<R>::of(std::move(state), options().parent_wait);
  }

  // Calls callable(x) for every x of `inputs` (or std::apply(callable, x) when it takes
  // several parameters and x is a tuple) and returns the results in input order. Calls travel
  // in chunks of MapOptions::chunksize; the first failed call's error is thrown once every
  // chunk has finished.
  template <class C, class Range>
  auto map(const C& callable, const Range& inputs, const MapOptions& opts = {}) {
    using R = typename CallableTraits<std::decay_t<C>>::Result;
    std::vector<R> out;
    out.reserve(std::size(inputs));
    auto chunks = map_chunks(callable, inputs, opts);
    wait_all(chunks);
    for (auto& chunk : chunks) {
      for (auto& v : chunk.get()) out.push_back(std::move(v));
    }
    return out;
  }

  // The chunks of a map as futures, for as_completed() (imap_unordered) or partial results.
  template <class C, class Range>
  auto map_chunks(const C& callable, const Range& inputs, const MapOptions& opts = {}) {
    using Traits = CallableTraits<std::decay_t<C>>;
    using R = typename Traits::Result;
    static_assert(!std::is_void_v<R>, "brine: map needs a callable that returns a value");
    const std::decay_t<C>& c = callable;
    const FunctionInfo& info = Traits::info(c);
    const std::size_t n = std::size(inputs);
    const std::size_t chunk =
        opts.chunksize != 0 ? opts.chunksize : default_chunksize(n, map_vectorizable<std::decay_t<C>, Range>());
    std::vector<Future<std::vector<R>>> futures;
    futures.reserve((n + chunk - 1) / chunk);
    auto progress = opts.progress ? std::make_shared<std::atomic<std::size_t>>(0) : nullptr;
    for (std::size_t first = 0; first < n; first += chunk) {
      const std::size_t count = std::min(chunk, n - first);
      auto state = std::make_shared<detail::BatchState<R>>();
      if (progress) {
        state->on_decoded = [progress, count, n, cb = opts.progress] { cb(progress->fetch_add(count) + count, n); };
      }
      state->expected = count;
      if constexpr (map_vectorizable<std::decay_t<C>, Range>()) {
        // Arithmetic in, arithmetic out: the chunk travels as two arrays, not count values.
        state->vectorized = info.invoke_vectorized != nullptr;
      }
      submit_encoded(state, info, [&](Encoder& e) {
        if constexpr (map_vectorizable<std::decay_t<C>, Range>()) {
          if (state->vectorized) return encode_vectorized_batch(e, c, inputs, first, count);
        }
        return encode_batch(e, c, inputs, first, count);
      });
      futures.push_back(Future<std::vector<R>>::of(std::move(state), options().parent_wait));
    }
    return futures;
  }

  // The chunksize map uses when MapOptions::chunksize is 0, for n inputs (travelling as
  // arrays when vectorized).
  std::size_t default_chunksize(std::size_t n, bool vectorized = false) const noexcept;

  // A vector allocated directly in the shared arena: fill it, then pass it (as a
  // std::span<const T> argument) to any number of tasks without a single copy.
  template <class T>
  SharedVector<T> shared_vector(std::size_t n) {
    auto block = std::make_shared<ipc::BlockHandle>(arena().allocate(n * sizeof(T), alignof(T) > 64 ? alignof(T) : 64));
    T* data = reinterpret_cast<T*>(block->data());
    arena().populate(data, n * sizeof(T), true);  // the caller fills it next
    return SharedVector<T>(std::move(block), data, n);
  }

  unsigned size() const noexcept;  // workers the pool aims to run
  bool closed() const noexcept;    // shutdown() was called
  const PoolOptions& requested_options() const noexcept;  // as given to the constructor
  // Grows or shrinks the pool to n workers (1..max_workers) while tasks run: new workers
  // start at once; surplus ones finish the tasks already queued to them, then exit. Nothing
  // is lost.
  void resize(unsigned n);
  // True once the pool cannot run tasks (a worker's initializer failed); submit then throws
  // brine::BrokenPool and reusable_pool() replaces the pool.
  bool broken() const noexcept;
  std::vector<pid_t> worker_pids() const;
  PoolStats stats() const;
  const PoolOptions& options() const noexcept;
  ipc::Arena& arena() noexcept;
  // Stops accepting tasks. With wait, returns once every queued task finished and every
  // worker exited; without, kills the workers and fails what is pending. With cancel_futures,
  // tasks no worker has started are cancelled first (their futures throw brine::Cancelled).
  void shutdown(bool wait = true, bool cancel_futures = false);

 private:
  using EncodeArgs = std::function<EncodedCall(Encoder&)>;
  void submit_encoded(const std::shared_ptr<detail::TaskStateBase>& state, const FunctionInfo& info,
                      const EncodeArgs& encode, const SubmitOptions& opts = {});

  std::unique_ptr<detail::PoolCore> core_;
};

// The running pool if it is usable and was made with the same options, else a fresh one (the
// previous one is shut down, letting its queued tasks finish): loky's get_reusable_executor.
std::shared_ptr<Pool> reusable_pool(const PoolOptions& options = {});

// For the spawn start method: call first thing in main(). In a process started as a spawned
// worker it serves tasks and never returns; anywhere else it returns at once.
void run_if_worker();

}  // namespace brine
