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
// byte for byte what a Pool puts in shared memory, followed on the wire by a 24-byte trailer (the
// cluster's task id, the task's timeout, and for submit_remote the id to keep the result under
// and its element size). Every envelope that arrives is verified (the
// FlatBuffers verifier plus brine's typed verifiers) before use; a bad one fails its task with
// brine::DecodeError. Buffers that would be referenced in a Pool's arena (large vectors,
// brine::ref, SharedVector) travel beside the task: each is sent to a rank at most once while it
// lives there, and a SharedVector from ClusterPool::shared_vector is kept by every rank that has
// it (cached by identity) until its last handle in the driver dies. Ranks that share a host
// (the same hostname) pass such a buffer to each other (MPI between ranks of a host, which Open
// MPI carries over shared memory with its vader transport), so a big array used by many tasks
// crosses the network once per host (ClusterOptions::share_on_host); a task that would need a
// copy a rank of its host is still receiving waits for it rather than take a second one.
// ClusterStats counts the bytes sent to every rank.
//
// Results by reference (Ray's object store, on MPI): submit_remote runs a task like submit, but
// its result stays on the rank that computed it, and the driver gets a RemoteRef<R> that records
// that rank. get() (or fetch()) brings a copy to the driver; the value stays where it is until
// the last copy of the RemoteRef dies, then that rank frees it. A RemoteRef passed as an argument
// of a later submit or submit_remote (for a std::span<const T>, std::vector<T> or SharedVector<T>
// parameter; the result a std::vector<T> or SharedVector<T> of trivially copyable T) makes the
// task wait until the value exists, then run on the rank holding it if that rank has a free
// worker: the task reads the value in place there, and no byte of it crosses the network.
// Otherwise the task runs on the first free worker elsewhere, and the value travels once via
// the driver (fetched there once, then shipped and cached on each rank that uses it, like a
// shared_vector). A rank that is lost (ClusterOptions::host_timeout) loses the values it held:
// get() on them, and tasks that need them, fail with brine::HostLost.
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
  // Ranks of one host (the same hostname) pass cached buffers and kept values to each other,
  // so the driver sends each once per host, not once per rank; false: each rank gets its own.
  bool share_on_host = true;
};

// A rank stopped answering (ClusterOptions::host_timeout) while it had the task; the task may or
// may not have run. code() is ErrorCode::kWorkerCrashed: the workers that held it are out of reach.
class HostLost : public Error {
 public:
  explicit HostLost(const std::string& message) : Error(ErrorCode::kWorkerCrashed, "brine::HostLost", message) {}
  const char* name() const noexcept override { return "brine::HostLost"; }
};

// A RemoteRef that this cluster cannot use: empty (default-constructed or moved from), or made by
// another ClusterPool.
class BadRemoteRef : public Error {
 public:
  explicit BadRemoteRef(const std::string& message) : Error(ErrorCode::kUnknown, "brine::BadRemoteRef", message) {}
  const char* name() const noexcept override { return "brine::BadRemoteRef"; }
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
  uint64_t buffers_cached = 0;      // SharedVectors (and copies of kept results) the rank holds now
  uint64_t buffers_from_peers = 0;  // of those sent to it, the ones a rank of its host passed on
                                    // (ClusterOptions::share_on_host): not in buffers_sent or bytes_sent
  uint64_t results_held = 0;        // results kept there for live RemoteRefs (submit_remote)
  uint64_t results_kept = 0;        // results it kept in all
  uint64_t results_fetched = 0;     // kept results brought to the driver (their bytes count in bytes_received)
  uint64_t inputs_in_place = 0;     // task arguments read where they were kept: nothing sent for them
  uint64_t held_reported = 0;       // buffers plus kept results the rank itself said it holds, last it said
  bool lost = false;                // silent past ClusterOptions::host_timeout: given up
};

struct ClusterStats {
  uint64_t submitted = 0;
  uint64_t completed = 0;
  uint64_t backlog = 0;  // tasks waiting for a free worker anywhere (or for a RemoteRef argument)
  uint64_t results_staged = 0;  // kept results copied to the driver to run a task away from their rank
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

// The element a kept result R is read as in place (void: R is not one contiguous block).
template <class R>
struct KeptElement {
  using type = void;
};
template <class T>
  requires(native_decode<T>())
struct KeptElement<std::vector<T>> {
  using type = T;
};
template <class T>
  requires(native_decode<T>())
struct KeptElement<SharedVector<T>> {
  using type = T;
};
// The element a parameter P reads contiguous data as (void: P cannot take a kept result).
template <class P>
using InPlaceParameter = ContiguousElement<P>;

// The driver's record of one result kept on a rank (ClusterPool::submit_remote). It completes
// (finish) when that rank says it holds the value, or fails with the task's error; the fields
// below are written by the cluster's service thread before completion, read after it. Its
// destructor tells the rank to free the value.
class RemoteResult final : public TaskStateBase {
 public:
  explicit RemoteResult(std::size_t element_size) : elem_size(element_size) {}
  ~RemoteResult() override;
  RemoteResult(const RemoteResult&) = delete;
  RemoteResult& operator=(const RemoteResult&) = delete;
  // The rank's notice: the size of the value it keeps (or the task's error).
  void decode(const fb::Result& result, const Decoder& d) noexcept override;
  std::exception_ptr failure() const noexcept { return error_; }
  // A unique address that stands for this value in an argument being encoded (never read).
  const void* token() const noexcept { return token_; }

  const std::size_t elem_size;  // of the contiguous value's elements; 0: not contiguous
  uint32_t id = 0;              // the cluster buffer id it is kept under
  uint64_t task_id = 0;         // the task that made it (its result envelope carries this id)
  std::string function;
  std::weak_ptr<ClusterCore> core;
  int rank = -1;       // the rank that keeps it (once done)
  uint64_t bytes = 0;  // its result envelope's size there (once done)

 private:
  alignas(64) std::byte token_[64] = {};
};

// Queues a fetch of `ref`'s value into `state` (RemoteRef::fetch). Throws BadRemoteRef or
// PoolClosed.
void request_fetch(const std::shared_ptr<RemoteResult>& ref, const std::shared_ptr<TaskStateBase>& state);
}  // namespace detail

// A result kept on the rank that computed it (ClusterPool::submit_remote): a handle like
// std::shared_ptr. Copies share the value; when the last copy dies the rank frees it.
//
// Thread safety: a RemoteRef may be copied, waited on and fetched from any thread of the driver.
template <class R>
class RemoteRef {
 public:
  using value_type = R;
  RemoteRef() = default;
  explicit RemoteRef(std::shared_ptr<detail::RemoteResult> state) : state_(std::move(state)) {}

  bool valid() const noexcept { return state_ != nullptr; }
  // The task finished: its value is kept on rank(), or it failed (get() throws its error).
  bool done() const { return checked().done(); }
  void wait() const { checked().wait(ipc::WaitPolicy{}); }
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    return checked().wait_for(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout), ipc::WaitPolicy{});
  }
  // Waits; the rank that keeps the value (0 for the driver's own workers), or the task's error.
  int rank() const {
    wait();
    state_->rethrow_if_failed();
    return state_->rank;
  }
  // Waits; the bytes the value takes on its rank (its result envelope), or the task's error.
  uint64_t bytes() const {
    wait();
    state_->rethrow_if_failed();
    return state_->bytes;
  }
  // A copy of the value, brought to the driver once the task is done; the value stays on its
  // rank. The future fails with the task's error, brine::HostLost if its rank was lost, or
  // brine::PoolClosed if the cluster shut down first. Throws BadRemoteRef for an empty handle.
  Future<R> fetch() const {
    auto s = std::make_shared<detail::TaskState<R>>();
    detail::request_fetch(state_, s);
    return Future<R>::of(std::move(s));
  }
  // fetch().get(): waits for the task, fetches the value, returns it (each call fetches anew).
  R get() const { return fetch().get(); }
  // Runs `callback` once the task is done, on the cluster's service thread (see ClusterPool).
  void add_done_callback(std::function<void()> callback) const { checked().add_done_callback(std::move(callback)); }

  // For ClusterPool: the record behind the handle.
  const std::shared_ptr<detail::RemoteResult>& state() const noexcept { return state_; }

 private:
  detail::RemoteResult& checked() const {
    if (!state_) throw BadRemoteRef("brine: this RemoteRef is empty (default-constructed or moved from); use one returned by ClusterPool::submit_remote");
    return *state_;
  }
  std::shared_ptr<detail::RemoteResult> state_;
};

namespace detail {
template <class A>
struct IsRemoteRef : std::false_type {};
template <class R>
struct IsRemoteRef<RemoteRef<R>> : std::true_type {};

// An argument for parameter P, as encode_call prepares it, except that a RemoteRef becomes a
// reference to the value on its rank (the cluster's buffer sink recognizes its token).
template <class P, class A>
auto prepare_cluster_argument(Encoder& e, const A& a) {
  if constexpr (IsRemoteRef<A>::value) {
    using T = typename KeptElement<typename A::value_type>::type;
    static_assert(!std::is_void_v<T>,
                  "brine: a RemoteRef argument is read in place on its rank, so its result must be one contiguous "
                  "block: a std::vector<T> or brine::SharedVector<T> of trivially copyable T. For other results, "
                  "pass ref.get() instead");
    static_assert(std::is_same_v<T, typename InPlaceParameter<P>::type>,
                  "brine: a RemoteRef<std::vector<T>> (or SharedVector<T>) argument needs a std::span<const T>, "
                  "std::vector<T> or brine::SharedVector<T> parameter of the same T");
    return e.contiguous(a.state()->token(), 1, sizeof(T), alignof(T), Placement::kReference);
  } else {
    return detail::prepare_argument<P>(e, a);
  }
}

// encode_call (closure.h), with arguments prepared by prepare_cluster_argument.
template <class C, class... A>
EncodedCall encode_cluster_call(Encoder& e, const C& c, const A&... args) {
  using Traits = CallableTraits<C>;
  using All = typename Traits::All;
  static_assert(sizeof...(A) == std::tuple_size_v<typename Traits::Params>, "brine: wrong number of arguments for this callable");
  Encoder::Nest nest(e);
  auto arguments = [&]<std::size_t... I>(std::index_sequence<I...>) {
    return std::tuple{prepare_cluster_argument<std::tuple_element_t<Traits::kBound + I, All>>(e, args)...};
  }(std::index_sequence_for<A...>());
  const auto prepared = std::tuple_cat(Traits::prepare_bound(e, c), std::move(arguments));
  EncodedCall out;
  out.call = detail::write_slots<All, 0>(e, prepared);
  return out;
}
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

  // As Pool::submit: runs callable(args...) on the first free worker of any rank. An argument may
  // be a RemoteRef (see submit_remote): the task then waits for it and prefers its rank.
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
    (check_argument(args), ...);
    auto state = std::make_shared<detail::TaskState<R>>();
    submit_encoded(state, info, [&](Encoder& e) { return detail::encode_cluster_call(e, c, args...); }, opts);
    return Future<R>::of(std::move(state));
  }

  // As submit, but the result stays on the rank that computes it: the RemoteRef records that
  // rank, get() brings the value to the driver, and a later task that takes the RemoteRef as an
  // argument runs there if it can, reading the value in place (see the top of this file).
  // Throws PoolClosed after shutdown, BadRemoteRef for an argument it cannot use.
  template <class C, class... A>
  RemoteRef<typename CallableTraits<std::decay_t<C>>::Result> submit_remote(const C& callable, const A&... args) {
    return submit_remote_with(SubmitOptions{}, callable, args...);
  }
  template <class C, class... A>
  RemoteRef<typename CallableTraits<std::decay_t<C>>::Result> submit_remote_with(const SubmitOptions& opts,
                                                                                const C& callable, const A&... args) {
    using R = typename CallableTraits<std::decay_t<C>>::Result;
    static_assert(!std::is_void_v<R>, "brine: submit_remote keeps a task's result on its rank; a void task has none: use submit");
    const std::decay_t<C>& c = callable;
    const FunctionInfo& info = CallableTraits<std::decay_t<C>>::info(c);
    (check_argument(args), ...);
    using T = typename detail::KeptElement<R>::type;
    auto state = std::make_shared<detail::RemoteResult>(std::is_void_v<T> ? 0 : sizeof(std::conditional_t<std::is_void_v<T>, char, T>));
    submit_encoded(state, info, [&](Encoder& e) { return detail::encode_cluster_call(e, c, args...); }, opts, state);
    return RemoteRef<R>(std::move(state));
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
  // With `keep`, the result stays on its rank under keep's record.
  void submit_encoded(const std::shared_ptr<detail::TaskStateBase>& state, const FunctionInfo& info,
                      const EncodeArgs& encode, const SubmitOptions& opts = {},
                      const std::shared_ptr<detail::RemoteResult>& keep = nullptr);
  // Throws BadRemoteRef if a RemoteRef argument is empty or from another pool.
  template <class A>
  void check_argument(const A& a) const {
    if constexpr (detail::IsRemoteRef<A>::value) check_remote(a.state().get());
  }
  void check_remote(const detail::RemoteResult* ref) const;
  struct SharedBuffer {
    std::shared_ptr<const void> owner;
    void* data;
  };
  SharedBuffer allocate_shared_buffer(std::size_t bytes, std::size_t align);

  std::shared_ptr<detail::ClusterCore> core_;
};

}  // namespace brine
