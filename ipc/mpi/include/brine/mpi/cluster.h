// ClusterPool: brine's pool across hosts, over MPI (target brine::mpi, built when CMake finds
// MPI). The same API shape as brine::Pool, so code moves from one host to many by changing the
// type:
//
//   int main(int argc, char** argv) {
//     brine::ClusterPool pool({.pool = {.workers = 2}}, &argc, &argv);  // ranks >= 1 serve here, never return
//     std::vector<double> ys = pool.map(square, xs);                     // rank 0 only
//   }
//
//   mpirun -np 3 ./app     # rank 0: the driver (your main); ranks 1, 2: a brine::Pool of 2 workers each
//
// Rank 0 runs the caller's logic; every other rank runs a local brine::Pool (ClusterOptions::pool)
// and serves: its constructor call never returns (like brine::run_if_worker), the process exits
// with status 0 when the driver shuts the cluster down. With ClusterOptions::driver_workers, rank
// 0 runs a local pool too and takes tasks like any other rank.
//
// What travels: tasks and results are brine's own FlatBuffers envelopes (fb::Task, fb::Result),
// byte for byte what a Pool puts in shared memory, followed on the wire by a 16-byte trailer (the
// cluster's task id and the task's timeout). Every envelope that arrives is verified (the
// FlatBuffers verifier plus brine's typed verifiers) before use; a bad one fails its task with
// brine::DecodeError. Buffers that would be referenced in a Pool's arena (large vectors,
// brine::ref, SharedVector) travel beside the task: each is sent to a rank at most once while it
// lives there, and a SharedVector from ClusterPool::shared_vector is kept by every rank that has
// it (cached by identity) until its last handle in the driver dies, so a big array used by many
// tasks crosses the network once per rank. ClusterStats counts the bytes sent to every rank.
//
// Scheduling: nothing is pre-assigned. Every rank advertises its worker count; the driver keeps
// the backlog and gives a rank at most that many tasks at a time, choosing the rank with the
// most free workers (then the lowest rank), so a task waits for the first free worker anywhere.
//
// Failures: a worker that dies on a rank fails exactly its task with brine::WorkerCrashed whose
// message names the rank, its host and pid; that rank's pool replaces the worker and the cluster
// keeps serving. A rank that stops answering (hung, stopped, cut off) for
// ClusterOptions::host_timeout is given up: its tasks fail with brine::HostLost and the other
// ranks go on; MPI_Finalize is then skipped (it would wait for that rank forever) and mpirun
// ends the job when the driver exits. A rank that dies is not survivable with Open MPI 4.1 (no
// ULFM in Debian's build): mpirun's error manager aborts the job at once, which ends every rank
// (README: "brine across hosts").
//
// Trust: MPI's launch (mpirun, its ssh/rsh agent, the hosts in the hostfile) is the trust
// boundary; ranks of one job trust each other to be the same binary. Envelopes are nevertheless
// verified as any untrusted input is.
//
// Threading: MPI is initialized with MPI_THREAD_SERIALIZED; on the driver every MPI call after
// the constructor is made by one service thread (submitters only queue), on serving ranks by the
// rank's main thread. Idle ranks do not spin: each service loop polls for
// ClusterOptions::poll_spin after its last message, then sleeps in growing steps up to
// ClusterOptions::max_sleep between polls. All member functions may be called from any thread
// of the driver. A ClusterPool is made once per process (MPI can be initialized only once).
// Futures complete, and their done-callbacks run, on the driver's service thread: a callback may
// submit more tasks, but must not wait for another future of the cluster (nothing would
// complete it while the service thread waits).
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "brine/core/closure.h"
#include "brine/core/error.h"
#include "brine/ipc/future.h"
#include "brine/ipc/pool.h"
#include "brine/ipc/shared_vector.h"

namespace brine {

struct ClusterOptions {
  // The pool every serving rank runs (workers per rank; 0: that host's hardware concurrency).
  // Per-pool reducers (PoolOptions::reducers) cannot cross ranks and are refused.
  PoolOptions pool{};
  // Workers of a pool on rank 0 itself, scheduled like any rank; 0: rank 0 only drives.
  unsigned driver_workers = 0;
  // From this size a contiguous buffer travels beside the envelope (sent once per rank while in
  // use) instead of inside it, as in a Pool's arena.
  std::size_t reference_threshold = kDefaultReferenceThreshold;
  // Service loops poll MPI this long after their last message, then sleep between polls, each
  // sleep twice the last, up to max_sleep (an idle rank wakes max_sleep apart, nothing more).
  std::chrono::microseconds poll_spin{200};
  std::chrono::microseconds max_sleep{1000};
  // A rank the driver has heard nothing from for this long (serving ranks say they are alive
  // every quarter of it, even while a large buffer arrives) is lost: its running tasks fail with
  // brine::HostLost and it is given no more. 0: wait for ranks forever.
  std::chrono::milliseconds host_timeout{60'000};
};

// A rank stopped answering (ClusterOptions::host_timeout) while it had the task; the task may or
// may not have run. code() is ErrorCode::kWorkerCrashed: the workers that held it are out of reach.
class HostLost : public Error {
 public:
  explicit HostLost(const std::string& message) : Error(ErrorCode::kWorkerCrashed, "brine::HostLost", message) {}
  const char* name() const noexcept override { return "brine::HostLost"; }
};

// Counters of one serving rank, as the driver sees them.
struct ClusterRankStats {
  int rank = 0;
  std::string host;        // the rank's hostname (gethostname)
  pid_t pid = 0;           // the rank's process on that host
  unsigned workers = 0;    // its capacity: the tasks it is given at once
  uint64_t tasks_sent = 0;
  uint64_t tasks_done = 0;       // results received (values or errors)
  uint64_t workers_crashed = 0;  // tasks that failed with brine::WorkerCrashed there
  uint64_t in_flight = 0;
  uint64_t bytes_sent = 0;          // everything sent to the rank: envelopes, buffers, control
  uint64_t bytes_received = 0;      // results from it
  uint64_t buffers_sent = 0;        // buffers shipped beside envelopes
  uint64_t buffer_bytes_sent = 0;   // their bytes (part of bytes_sent)
  uint64_t buffers_cached = 0;      // SharedVectors the rank holds now
  bool lost = false;                // silent past ClusterOptions::host_timeout: given up
};

struct ClusterStats {
  uint64_t submitted = 0;
  uint64_t completed = 0;
  uint64_t backlog = 0;  // tasks waiting for a free worker anywhere
  std::vector<ClusterRankStats> ranks;  // rank 0 first when it has workers (driver_workers)
};

namespace detail {
class ClusterCore;
// What a worker of a serving rank runs for each task (registered as "brine::cluster_run"): the
// driver's task envelope, verified and run as a Pool worker runs one, with the references it
// holds resolved against `buffers` (by the ids in `ids`). Returns the result envelope, an error
// result (DecodeError...) if the envelope fails verification; never throws.
std::vector<uint8_t> cluster_run(std::span<const uint8_t> envelope, std::vector<uint32_t> ids,
                                 std::vector<std::span<const uint8_t>> buffers);
}  // namespace detail

class ClusterPool {
 public:
  // Initializes MPI (unless the program already did, with at least MPI_THREAD_SERIALIZED), then:
  // on rank 0 returns a driver; on every other rank serves tasks until the driver shuts down
  // and exits the process with status 0 (never returns). `argc`/`argv` go to MPI_Init_thread.
  // Throws brine::Error if MPI is unusable or there is no rank to run tasks on.
  explicit ClusterPool(ClusterOptions options = {}, int* argc = nullptr, char*** argv = nullptr);
  ~ClusterPool();  // shutdown(true) if not done yet, then MPI_Finalize (if the pool initialized MPI)
  ClusterPool(const ClusterPool&) = delete;
  ClusterPool& operator=(const ClusterPool&) = delete;

  // As Pool::submit: runs callable(args...) on the first free worker of any rank.
  template <class C, class... A>
  Future<typename CallableTraits<std::decay_t<C>>::Result> submit(const C& callable, const A&... args) {
    return submit_with(SubmitOptions{}, callable, args...);
  }
  // With a per-call timeout, enforced by the pool of the rank that runs the task.
  template <class C, class... A>
  Future<typename CallableTraits<std::decay_t<C>>::Result> submit_with(const SubmitOptions& opts, const C& callable,
                                                                      const A&... args) {
    using R = typename CallableTraits<std::decay_t<C>>::Result;
    const std::decay_t<C>& c = callable;
    const FunctionInfo& info = CallableTraits<std::decay_t<C>>::info(c);
    auto state = std::make_shared<detail::TaskState<R>>();
    submit_encoded(state, info, [&](Encoder& e) { return encode_call(e, c, args...); }, opts);
    return Future<R>::of(std::move(state));
  }

  // As Pool::map: results in input order; the first failed call's error is thrown once every
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

  // As Pool::map_chunks: the chunks as futures (as_completed, partial results).
  template <class C, class Range>
  auto map_chunks(const C& callable, const Range& inputs, const MapOptions& opts = {}) {
    using Traits = CallableTraits<std::decay_t<C>>;
    using R = typename Traits::Result;
    static_assert(!std::is_void_v<R>, "brine: map needs a callable that returns a value");
    constexpr bool kVectorizable = map_vectorizable<std::decay_t<C>, Range>();
    const std::decay_t<C>& c = callable;
    const FunctionInfo& info = Traits::info(c);
    const std::size_t n = std::size(inputs);
    const std::size_t chunk = opts.chunksize != 0 ? opts.chunksize : default_chunksize(n, kVectorizable);
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
      if constexpr (kVectorizable) state->vectorized = info.invoke_vectorized != nullptr;
      submit_encoded(state, info, [&](Encoder& e) {
        if constexpr (kVectorizable) {
          if (state->vectorized) return encode_vectorized_batch(e, c, inputs, first, count);
        }
        return encode_batch(e, c, inputs, first, count);
      });
      futures.push_back(Future<std::vector<R>>::of(std::move(state)));
    }
    return futures;
  }

  // The chunksize map uses when MapOptions::chunksize is 0 (Pool's rule, over every worker of
  // the cluster).
  std::size_t default_chunksize(std::size_t n, bool vectorized = false) const noexcept;

  // A vector in the driver's memory that tasks on any rank take as a std::span<const T> (or
  // SharedVector<T>) argument: shipped to a rank the first time a task there uses it, then cached
  // there by identity until the last copy of this handle dies. Fill it before the first task
  // that uses it: a rank that already holds it does not see later writes.
  template <class T>
  SharedVector<T> shared_vector(std::size_t n) {
    static_assert(std::is_trivially_copyable_v<T>, "brine::ClusterPool::shared_vector holds trivially copyable elements");
    auto [owner, data] = allocate_shared_buffer(n * sizeof(T), alignof(T));
    return SharedVector<T>(std::move(owner), static_cast<T*>(data), n);
  }

  int rank_count() const noexcept;  // MPI ranks in the job
  unsigned size() const noexcept;   // workers of the whole cluster
  bool closed() const noexcept;
  ClusterStats stats() const;
  const ClusterOptions& options() const noexcept;
  // Stops accepting tasks. With wait, returns once every task finished and every rank has
  // stopped serving; without, cancels what no rank has started, tells every rank to kill its
  // workers, and fails what was running with brine::PoolClosed. With cancel_futures, tasks
  // still in the backlog are cancelled (brine::Cancelled) first. Safe to call twice.
  void shutdown(bool wait = true, bool cancel_futures = false);

 private:
  using EncodeArgs = std::function<EncodedCall(Encoder&)>;
  void submit_encoded(const std::shared_ptr<detail::TaskStateBase>& state, const FunctionInfo& info,
                      const EncodeArgs& encode, const SubmitOptions& opts = {});
  struct SharedBuffer {
    std::shared_ptr<const void> owner;
    void* data;
  };
  SharedBuffer allocate_shared_buffer(std::size_t bytes, std::size_t align);

  std::shared_ptr<detail::ClusterCore> core_;
};

}  // namespace brine
