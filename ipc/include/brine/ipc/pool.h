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
// on anywhere. Destroying the pool stops and reaps every worker (queued tasks finish first,
// for at most PoolOptions::shutdown_timeout, 60 s by default; then the workers are killed) and
// frees its segment; futures still pending then fail with brine::PoolClosed.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <exception>
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
//  - kForkServer (the default, as in CPython 3.14): a small single-threaded server process,
//    forked when the pool starts (before the pool's own threads exist), forks every worker and
//    every replacement, so a respawn never forks the multithreaded parent. Per-pool reducers
//    and lambdas work as with fork.
//  - kFork: fork() the parent. The fastest start, but a replacement is forked from the running,
//    multithreaded parent: if another thread holds a lock at that instant (malloc's, a
//    sanitizer allocator's, a logging library's), the child inherits it held and can deadlock
//    the first time it takes it. GCC 12's AddressSanitizer allocator does exactly that. Choose
//    it explicitly, for programs that start no threads of their own.
//  - kSpawn: exec a fresh copy of this binary; its main() must call brine::run_if_worker()
//    first (like multiprocessing.freeze_support()). Functions are found by registered name;
//    per-pool reducers don't cross exec and are refused; lambdas work only because the
//    image is the same build (verified). The slowest start. PoolOptions::worker_command may
//    name another program to exec instead (an interpreter that loads this library and calls
//    brine::run_if_worker(), as the Python package does).
// bench/: BM_PoolStart/<method> measures each.
enum class StartMethod : uint8_t { kFork, kForkServer, kSpawn };

// What submit does when every slot or every worker's ring is full.
enum class Backpressure : uint8_t { kBlock, kFail };

// The destructor's default bound on waiting for tasks (PoolOptions::shutdown_timeout).
inline constexpr std::chrono::milliseconds kDefaultShutdownTimeout{60'000};

struct PoolOptions {
  unsigned workers = 0;      // 0: std::thread::hardware_concurrency()
  unsigned max_workers = 0;  // the most resize() may reach; 0: max(workers, 2 x hardware)
  StartMethod start_method = StartMethod::kForkServer;
  void (*initializer)() = nullptr;  // a registered function run once in each new worker
  uint32_t max_tasks_per_child = 0;  // replace a worker after this many tasks; 0: never
  // loky's leak guard: after each task, a worker whose private resident memory (RssAnon: not
  // the shared segment, not files) grew by more than this many bytes since it started serving
  // is replaced between tasks; its queued tasks run on the replacement, nothing fails. Costs
  // one read of /proc/self/statm per task when set. 0: never.
  std::size_t max_worker_rss = 0;
  std::chrono::milliseconds task_timeout{0};  // run-time limit per task; 0: none
  std::chrono::milliseconds idle_timeout{0};  // a worker idle this long exits (restarted on demand); 0: never
  // A worker that has not reached its serving code this long after it was started (forked,
  // or exec'd and loading) is killed and replaced: a child forked while another thread of the
  // parent held a lock may wait on it forever. The initializer's own time does not count.
  // 0: no limit.
  std::chrono::milliseconds start_timeout{30'000};
  // How long the destructor lets queued and running tasks finish before it kills the workers
  // (their futures then fail with brine::PoolClosed) and reaps them; 0: no bound.
  std::chrono::milliseconds shutdown_timeout{kDefaultShutdownTimeout};
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
  // kSpawn only: the program (argv[0], a path) and arguments exec'd for each worker. Empty: this
  // binary with this process's own command line. The program must end up calling
  // brine::run_if_worker() in a process that registers the same functions (e.g. an interpreter
  // that loads the same extension module); the segment's fd and the worker's index travel in
  // the environment. Ignored by the other start methods.
  std::vector<std::string> worker_command{};

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

// Counters of a pool since it was made, as Pool::stats() reads them (each field is read on its
// own: a snapshot taken while tasks run may be mid-way between two of them). Once every future
// of a task is ready, the task is counted in `completed` and its blocks held only by the pool
// are released; blocks a future's value points into live as long as that future.
struct PoolStats {
  uint64_t submitted = 0;  // tasks accepted by submit()/submit_with() (a map chunk is one task)
  uint64_t completed = 0;  // tasks whose result or error was delivered to their future
  // Workers that died while running a task (signal, exit or abort inside it; not timeouts,
  // shutdown kills or retirements): each failed its task with brine::WorkerCrashed.
  uint64_t workers_crashed = 0;
  // Workers that died while idle (no task of theirs running): killed from outside, OOM, or a
  // crash between tasks. Nothing failed; each was replaced (or restarted on demand).
  uint64_t idle_workers_crashed = 0;
  // Workers replaced between tasks because their resident memory passed
  // PoolOptions::max_worker_rss. Nothing failed.
  uint64_t workers_recycled_for_memory = 0;
  // Tasks prefetched by a busy worker that an idle one took instead (the scheduler's take-back).
  uint64_t tasks_moved = 0;
  std::size_t arena_used = 0;      // bytes of the shared arena in live blocks
  std::size_t arena_capacity = 0;  // bytes of the shared arena in all (PoolOptions::arena_bytes)
  std::size_t arena_blocks = 0;    // live arena blocks: task arguments, results, SharedVectors
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
  // chunk has finished. At most map_window() tasks are in the pool at once: the next one is
  // submitted as the oldest is collected, so a map of a million one-call chunks keeps a few
  // hundred tasks in flight, not a million futures and a million-task backlog.
  template <class C, class Range>
  auto map(const C& callable, const Range& inputs, const MapOptions& opts = {}) {
    using Traits = CallableTraits<std::decay_t<C>>;
    using R = typename Traits::Result;
    static_assert(!std::is_void_v<R>, "brine: map needs a callable that returns a value");
    const std::size_t n = std::size(inputs);
    const std::size_t chunk = map_chunksize<C, Range>(n, opts);
    std::vector<R> out;
    out.reserve(n);
    if (chunk == 1 && !opts.progress) {
      // A chunk of one call is an ordinary task: no batch to encode and unpack.
      auto it = std::begin(inputs);
      windowed<Future<R>>(
          n,
          [&](std::size_t) {
            const auto& x = *it++;
            if constexpr (std::tuple_size_v<typename Traits::Params> == 1) {
              return submit(callable, x);
            } else {
              return std::apply([&](const auto&... a) { return submit(callable, a...); }, x);
            }
          },
          [&](Future<R>& f) { out.push_back(f.get()); });
      return out;
    }
    auto progress = opts.progress ? std::make_shared<std::atomic<std::size_t>>(0) : nullptr;
    windowed<Future<std::vector<R>>>(
        (n + chunk - 1) / chunk,
        [&](std::size_t i) {
          const std::size_t first = i * chunk;
          return submit_chunk(callable, inputs, first, std::min(chunk, n - first), progress, opts.progress);
        },
        [&](Future<std::vector<R>>& f) {
          std::vector<R> chunk_out = f.get();
          out.insert(out.end(), std::make_move_iterator(chunk_out.begin()), std::make_move_iterator(chunk_out.end()));
        });
    return out;
  }

  // The chunks of a map as futures, for as_completed() (imap_unordered) or partial results.
  // Every chunk is submitted at once.
  template <class C, class Range>
  auto map_chunks(const C& callable, const Range& inputs, const MapOptions& opts = {}) {
    using R = typename CallableTraits<std::decay_t<C>>::Result;
    static_assert(!std::is_void_v<R>, "brine: map needs a callable that returns a value");
    const std::size_t n = std::size(inputs);
    const std::size_t chunk = map_chunksize<C, Range>(n, opts);
    std::vector<Future<std::vector<R>>> futures;
    futures.reserve((n + chunk - 1) / chunk);
    auto progress = opts.progress ? std::make_shared<std::atomic<std::size_t>>(0) : nullptr;
    for (std::size_t first = 0; first < n; first += chunk) {
      futures.push_back(submit_chunk(callable, inputs, first, std::min(chunk, n - first), progress, opts.progress));
    }
    return futures;
  }

  // How many tasks map() keeps in the pool at once: what the workers' rings hold.
  std::size_t map_window() const noexcept;

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
  // The pool's counters. Consistent with every ready future: it waits for a completion in
  // progress on the collector (including that future's done-callbacks) to let go of its task.
  PoolStats stats() const;
  const PoolOptions& options() const noexcept;
  ipc::Arena& arena() noexcept;
  // Stops accepting tasks. With wait, returns once every queued task finished and every
  // worker exited, however long that takes; without, kills the workers and fails what is
  // pending. With cancel_futures, tasks no worker has started are cancelled first (their
  // futures throw brine::Cancelled).
  void shutdown(bool wait = true, bool cancel_futures = false);
  // shutdown(wait = true), bounded: once `timeout` has passed, the workers still running (or
  // not yet exited) are killed with SIGKILL and reaped, and the futures of the tasks they were
  // running or holding fail with brine::PoolClosed, whose message names the timeout. Returns
  // true if every task finished in time (false: some were cut short). The destructor does this
  // with PoolOptions::shutdown_timeout.
  bool shutdown(std::chrono::milliseconds timeout, bool cancel_futures = false);

 private:
  // Submits tasks 0..count-1 with `submit(i)`, keeping at most map_window() in flight, and
  // hands each future to `collect` in submission order. The first error `collect` throws is
  // rethrown once every task has been collected.
  template <class F, class Submit, class Collect>
  void windowed(std::size_t count, Submit submit, Collect collect) {
    std::deque<F> in_flight;
    std::exception_ptr first_error;
    auto collect_oldest = [&] {
      F f = std::move(in_flight.front());
      in_flight.pop_front();
      try {
        collect(f);
      } catch (...) {
        if (!first_error) first_error = std::current_exception();
      }
    };
    const std::size_t window = map_window();
    for (std::size_t i = 0; i < count; ++i) {
      if (in_flight.size() >= window) collect_oldest();
      in_flight.push_back(submit(i));
    }
    while (!in_flight.empty()) collect_oldest();
    if (first_error) std::rethrow_exception(first_error);
  }

  template <class C, class Range>
  std::size_t map_chunksize(std::size_t n, const MapOptions& opts) const noexcept {
    return opts.chunksize != 0 ? opts.chunksize : default_chunksize(n, map_vectorizable<std::decay_t<C>, Range>());
  }
  // One chunk of a map: inputs[first, first + count) as one task.
  template <class C, class Range>
  auto submit_chunk(const C& callable, const Range& inputs, std::size_t first, std::size_t count,
                    const std::shared_ptr<std::atomic<std::size_t>>& progress,
                    const std::function<void(std::size_t, std::size_t)>& on_progress) {
    using Traits = CallableTraits<std::decay_t<C>>;
    using R = typename Traits::Result;
    const std::decay_t<C>& c = callable;
    const FunctionInfo& info = Traits::info(c);
    const std::size_t n = std::size(inputs);
    auto state = std::make_shared<detail::BatchState<R>>();
    if (progress) {
      state->on_decoded = [progress, count, n, cb = on_progress] { cb(progress->fetch_add(count) + count, n); };
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
    return Future<std::vector<R>>::of(std::move(state), options().parent_wait);
  }

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
