// brine's pool end to end, on the workloads python_pools.py runs for Python's pools:
//
//   BM_PoolRoundTrip/<mode>            one empty task, pool.submit(fn).get(), 1 worker.
//                                      spin: worker pinned to CPU 0, this thread to another,
//                                      nobody sleeps; sleep: brine's defaults. Reports the
//                                      median and p99 of single round trips.
//   BM_PoolRoundTrip/rare              brine's defaults, with a 2 ms pause before each round
//                                      trip (tasks that come rarely), against
//   BM_RawPingPong/futex_rare          a bare futex ping-pong between two unpinned processes
//                                      with the same pauses: the floor for a sleeping wait.
//   BM_PoolRoundTrip/same_cpu          brine's defaults, worker and caller pinned to one CPU,
//                                      against BM_RawPingPong/eventfd_same_cpu.
//   BM_PoolMap/<tasks>/<method>        a map of trivial tasks over 2 workers.
//   BM_PoolArraySum/<n>MiB/<method>    a worker sums a float64 array: sent by copy
//                                      (brine::copy), by reference (brine::ref: one copy into
//                                      the arena) or as a SharedVector filled once (no copy);
//                                      repeated sends: one untimed send comes first.
//   BM_PoolStart/<start method>        a pool of 2 workers made, one empty task through it,
//                                      destroyed: what a short-lived pool costs per method.
//   BM_PoolSweep/<bytes>/interleaved   issue 3's sweep: submit + complete of a task that takes
//                                      an array and only looks at its length, 8 B to 1 GiB,
//                                      copy vs ref vs shared_vector interleaved, worker awake;
//                                      counters <way>_ns (medians), <way>_bytes_copied.
//   BM_PoolArraySum/<n>MiB/ref_first  issue 13: the first send of an array by reference to a
//                                      fresh pool (cold arena pages), against
//                                      BM_PyArraySum/<n>MiB/joblib_parallel_memmap_first.
//   BM_PoolUneven/brine                issue 13: 2 workers, one 2 s task then 100 tasks of 5 ms
//                                      (sleeps); time until the last short task is done, with
//                                      the ideal schedule (100 x one 5 ms sleep, measured here)
//                                      as a counter. python_pools.py runs the same workload.
//   BM_PoolHeavyTail/brine             issue 13: a map (chunksize 1) of 200 sleeps whose
//                                      durations follow a Pareto law (heavy_tail_durations_us,
//                                      the same numbers python_pools.py uses); total time, with
//                                      the ideal's lower bound max(longest, sum / workers).
//
// Pools are created per configuration and destroyed as soon as a benchmark needs another
// one, so that a spinning pool never steals CPU from the next benchmark.
//   brine_pool_bench [--quick] [Google Benchmark flags]
#include <benchmark/benchmark.h>
#include <linux/futex.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "affinity.h"
#include "brine/ipc/pool.h"

namespace brine_bench_tasks {

void empty_task() {}
BRINE_REGISTER(empty_task);

std::int64_t identity(std::int64_t x) { return x; }
BRINE_REGISTER(identity);

// A chunk of the map as one contiguous array each way: what a map over arithmetic inputs could
// send instead of one envelope value per item.
std::vector<std::int64_t> identity_chunk(std::span<const std::int64_t> xs) { return {xs.begin(), xs.end()}; }
BRINE_REGISTER(identity_chunk);

double array_sum(std::span<const double> xs) { return std::reduce(xs.begin(), xs.end(), 0.0); }
BRINE_REGISTER(array_sum);

// Sleeps for `us` microseconds: the work of the uneven workloads (a sleeping task needs no
// CPU, so the rows measure scheduling, not how the machine's two CPUs were shared).
std::int64_t sleep_us(std::int64_t us) {
  std::this_thread::sleep_for(std::chrono::microseconds(us));
  return us;
}
BRINE_REGISTER(sleep_us);

// The sweep's task: receives the array (a span into the envelope or the arena) and returns
// its length without reading it, so that only sending and completing is measured.
std::uint64_t array_length(std::span<const double> xs) { return xs.size(); }
BRINE_REGISTER(array_length);

}  // namespace brine_bench_tasks

namespace brine::bench {
namespace {

using namespace brine_bench_tasks;

constexpr std::size_t kMiB = std::size_t{1} << 20;
constexpr std::size_t kGiB = std::size_t{1} << 30;

bool quick = false;

// --- pools --------------------------------------------------------------------------------

enum class Config { kSpin1, kWarm1, kSleep1, kSleep2, kSameCpu1 };

const char* config_name(Config c) {
  switch (c) {
    case Config::kSpin1: return "spin";
    case Config::kWarm1: return "worker spins, parent default";
    case Config::kSleep1: return "sleep";
    case Config::kSleep2: return "sleep, 2 workers";
    case Config::kSameCpu1: return "defaults, worker and caller on CPU 0";
  }
  return "?";
}

PoolOptions options_for(Config c) {
  // A 1 GiB array by copy needs a 1 GiB envelope block while a 1 GiB SharedVector may be
  // alive: 3 GiB of arena (virtual; memfd pages cost memory only once touched).
  const std::size_t arena = quick ? std::size_t{256} * kMiB : 3 * kGiB;
  constexpr ipc::WaitPolicy kSpin{.spin_ns = 1'000'000'000, .sleep = false};
  switch (c) {
    case Config::kSpin1:
      return {.workers = 1, .arena_bytes = arena, .worker_wait = kSpin, .parent_wait = kSpin, .pin_workers = true};
    case Config::kWarm1:
      return {.workers = 1, .arena_bytes = arena, .worker_wait = kSpin, .pin_workers = true};
    case Config::kSleep1: return {.workers = 1, .arena_bytes = arena};
    case Config::kSleep2: return {.workers = 2, .arena_bytes = arena};
    case Config::kSameCpu1: return {.workers = 1, .arena_bytes = arena, .pin_workers = true};
  }
  return {};
}

// The arrays of one size: an ordinary vector and a SharedVector in the pool's arena, filled
// once and kept while the benchmarks of that size run.
struct Arrays {
  std::vector<double> vector;
  SharedVector<double> shared;
};

// At most one pool alive, and the arrays of at most one size (1 GiB each): asking for another
// configuration destroys the current pool, and the arrays in its arena first.
class Resources {
 public:
  Pool& pool(Config c) {
    if (!pool_ || config_ != c) {
      arrays_.reset();
      pool_.reset();
      pool_.emplace(options_for(c));
      config_ = c;
    }
    return *pool_;
  }
  void clear() {  // frees the arrays and the pool (their memory) before a row that needs its own
    arrays_.reset();
    pool_.reset();
  }
  const Arrays& arrays(Config c, std::size_t bytes) {
    Pool& p = pool(c);
    if (!arrays_ || bytes_ != bytes) {
      arrays_.reset();
      const std::size_t n = std::max<std::size_t>(1, bytes / sizeof(double));
      arrays_.emplace(Arrays{std::vector<double>(n, 1.0), p.shared_vector<double>(n)});
      std::fill(arrays_->shared.begin(), arrays_->shared.end(), 1.0);
      bytes_ = bytes;
    }
    return *arrays_;
  }

 private:
  std::optional<Pool> pool_;
  Config config_{};
  std::optional<Arrays> arrays_;  // declared after pool_: destroyed first
  std::size_t bytes_ = 0;
};

Resources& resources() {
  static Resources r;
  return r;
}
Pool& pool_for(Config c) { return resources().pool(c); }

// The CPU a spinning benchmark thread runs on: not worker 0's CPU 0.
int parent_cpu() {
  const std::vector<int> cpus = allowed_cpus();
  for (int cpu : cpus) {
    if (cpu != 0) return cpu;
  }
  return cpus.front();
}

// Pins this thread when the configuration spins. The pool is created first, so its own
// threads keep the whole CPU mask.
void pin_if_spinning(Config c, std::optional<ScopedPin>& pin) {
  if (c == Config::kSpin1 || c == Config::kWarm1) pin.emplace(parent_cpu());
}

// --- (a) empty-task round trip ----------------------------------------------------------------

double percentile(std::vector<double>& v, double q) {
  const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// Runs `body` once per iteration, timing each, and reports the median and p99 as counters
// (the report prefers the median: Python's figures are medians too, and a 2-CPU machine
// preempts the odd iteration for milliseconds). `body` returns false on a wrong result.
template <class Body>
void timed_loop(benchmark::State& state, Body body) {
  std::vector<double> ns;
  ns.reserve(static_cast<std::size_t>(std::min<benchmark::IterationCount>(state.max_iterations, 1 << 24)));
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    const bool ok = body();
    ns.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count());
    if (!ok) {
      state.SkipWithError("wrong result");
      return;
    }
  }
  state.counters["median_ns"] = percentile(ns, 0.5);
  state.counters["p99_ns"] = percentile(ns, 0.99);
}

// --- (a) empty-task round trip ----------------------------------------------------------------

void round_trip(benchmark::State& state, Config c) {
  Pool& pool = pool_for(c);
  std::optional<ScopedPin> pin;
  pin_if_spinning(c, pin);
  for (int i = 0; i < 100; ++i) pool.submit(empty_task).get();  // warm up both sides
  timed_loop(state, [&] {
    pool.submit(empty_task).get();
    return true;
  });
  state.SetLabel(config_name(c));
}

// Tasks that come rarely: a pause before each timed round trip.
constexpr auto kRarePause = std::chrono::milliseconds(2);

void rare_round_trip(benchmark::State& state) {
  Pool& pool = pool_for(Config::kSleep1);
  for (int i = 0; i < 20; ++i) pool.submit(empty_task).get();
  std::vector<double> ns;
  for (auto _ : state) {
    std::this_thread::sleep_for(kRarePause);
    const auto start = std::chrono::steady_clock::now();
    pool.submit(empty_task).get();
    ns.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count());
  }
  state.counters["median_ns"] = percentile(ns, 0.5);
  state.counters["p99_ns"] = percentile(ns, 0.99);
}

void same_cpu_round_trip(benchmark::State& state) {
  Pool& pool = pool_for(Config::kSameCpu1);
  ScopedPin pin(0);  // worker 0 is pinned to CPU 0 too
  for (int i = 0; i < 100; ++i) pool.submit(empty_task).get();
  timed_loop(state, [&] {
    pool.submit(empty_task).get();
    return true;
  });
  state.SetLabel(config_name(Config::kSameCpu1));
}

// Bare ping-pongs between this process and a forked child: the floors of the two rows above.
long futex_op(std::atomic<uint32_t>* word, int op, uint32_t value) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, value, nullptr, nullptr, 0);
}

void futex_wait_for(std::atomic<uint32_t>& word, uint32_t want) {
  for (uint32_t v; (v = word.load(std::memory_order_acquire)) != want;) futex_op(&word, FUTEX_WAIT, v);
}

void futex_rare_ping_pong(benchmark::State& state) {
  // No pool around: a spinning pool's idle worker would hold one CPU and turn this into a
  // same-CPU ping-pong, a floor brine's row (both CPUs free) never sees.
  resources().clear();
  void* mem = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  auto* words = new (mem) std::atomic<uint32_t>[2]{};
  std::atomic<uint32_t>& ping = words[0];
  std::atomic<uint32_t>& pong = words[1];
  const pid_t child = fork();
  if (child == 0) {
    for (uint32_t i = 1;; ++i) {
      futex_wait_for(ping, i);
      if (i == UINT32_MAX) _exit(0);
      pong.store(i, std::memory_order_release);
      futex_op(&pong, FUTEX_WAKE, 1);
    }
  }
  std::vector<double> ns;
  uint32_t i = 0;
  for (auto _ : state) {
    std::this_thread::sleep_for(kRarePause);
    const auto start = std::chrono::steady_clock::now();
    ping.store(++i, std::memory_order_release);
    futex_op(&ping, FUTEX_WAKE, 1);
    futex_wait_for(pong, i);
    ns.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count());
  }
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  munmap(mem, 4096);
  state.counters["median_ns"] = percentile(ns, 0.5);
  state.counters["p99_ns"] = percentile(ns, 0.99);
}

void eventfd_same_cpu_ping_pong(benchmark::State& state) {
  resources().clear();
  const int to_child = eventfd(0, EFD_CLOEXEC), to_parent = eventfd(0, EFD_CLOEXEC);
  ScopedPin pin(0);
  const pid_t child = fork();  // inherits the pin
  if (child == 0) {
    for (uint64_t v;;) {
      if (read(to_child, &v, sizeof v) != sizeof v) _exit(1);
      if (write(to_parent, &v, sizeof v) != sizeof v) _exit(1);
    }
  }
  uint64_t one = 1, v = 0;
  timed_loop(state, [&] {
    return write(to_child, &one, sizeof one) == sizeof one && read(to_parent, &v, sizeof v) == sizeof v;
  });
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  close(to_child);
  close(to_parent);
}

// --- (b) map of trivial tasks -----------------------------------------------------------------

std::size_t map_tasks() { return quick ? 1000 : 1'000'000; }

// chunksize 1 without a map API: submit everything through a window of futures as deep as
// the pool's rings, collecting the oldest when the window is full.
std::int64_t map_by_submit(Pool& pool, std::size_t tasks) {
  const std::size_t window = std::size_t{pool.options().ring_capacity} * pool.size();
  std::vector<Future<std::int64_t>> inflight(window);
  std::int64_t total = 0;
  for (std::size_t i = 0; i < tasks + window; ++i) {
    Future<std::int64_t>& f = inflight[i % window];
    if (f.valid()) total += f.get();
    f = i < tasks ? pool.submit(identity, static_cast<std::int64_t>(i)) : Future<std::int64_t>();
  }
  return total;
}

// The map by hand, chunk by chunk, each chunk a span of the inputs (copied into the envelope
// below the reference threshold) and a vector of results.
std::int64_t map_span_chunks(Pool& pool, std::size_t tasks, std::size_t chunksize) {
  std::vector<std::int64_t> inputs(tasks);
  std::iota(inputs.begin(), inputs.end(), 0);
  std::vector<Future<std::vector<std::int64_t>>> chunks;
  for (std::size_t i = 0; i < tasks; i += chunksize) {
    chunks.push_back(pool.submit(identity_chunk, std::span<const std::int64_t>(inputs).subspan(i, std::min(chunksize, tasks - i))));
  }
  std::int64_t total = 0;
  for (auto& c : chunks) {
    for (std::int64_t v : c.get()) total += v;
  }
  return total;
}

#ifdef BRINE_BENCH_WITH_POOL_MAP
std::int64_t map_chunked(Pool& pool, std::size_t tasks, std::size_t chunksize) {
  std::vector<std::int64_t> inputs(tasks);
  std::iota(inputs.begin(), inputs.end(), 0);
  const std::vector<std::int64_t> out = pool.map(identity, inputs, MapOptions{.chunksize = chunksize});
  return std::reduce(out.begin(), out.end(), std::int64_t{0});
}
#endif

void map_bench(benchmark::State& state, const std::function<std::int64_t(Pool&, std::size_t)>& run) {
  Pool& pool = pool_for(Config::kSleep2);
  const std::size_t tasks = map_tasks();
  const auto expected = static_cast<std::int64_t>(tasks * (tasks - 1) / 2);
  for (auto _ : state) {
    if (run(pool, tasks) != expected) {
      state.SkipWithError("map returned wrong results");
      return;
    }
  }
#ifdef BRINE_BENCH_WITH_POOL_MAP
  state.counters["auto_chunksize"] = static_cast<double>(pool.default_chunksize(tasks));
#endif
  state.counters["tasks_moved"] = static_cast<double>(pool.stats().tasks_moved);
  state.counters["items_per_second"] =
      benchmark::Counter(static_cast<double>(tasks) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// --- (c) and (d): arrays by copy, by reference, in a SharedVector ------------------------------

enum class Send { kCopy, kRef, kShared };
const char* send_name(Send s) {
  switch (s) {
    case Send::kCopy: return "copy";
    case Send::kRef: return "ref";
    case Send::kShared: return "shared_vector";
  }
  return "?";
}

template <class R, class Fn>
Future<R> send_array(Pool& pool, Fn fn, const Arrays& a, Send how) {
  switch (how) {
    case Send::kCopy: return pool.submit(fn, brine::copy(a.vector));
    case Send::kRef: return pool.submit(fn, brine::ref(a.vector));
    case Send::kShared: break;
  }
  return pool.submit(fn, static_cast<std::span<const double>>(a.shared));
}

void set_bytes(benchmark::State& state, std::size_t bytes) {
  state.counters["payload_bytes"] = static_cast<double>(bytes);
  state.counters["bytes_per_second"] = benchmark::Counter(
      static_cast<double>(bytes) * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void array_sum_bench(benchmark::State& state, std::size_t bytes, std::optional<Send> how) {
  Pool& pool = pool_for(Config::kSleep2);
  const Arrays& a = resources().arrays(Config::kSleep2, bytes);
  const auto expected = static_cast<double>(a.vector.size());
  std::size_t copied = 0;
  const auto body = [&] {
    if (!how) return array_sum(a.vector) == expected;  // the in-process floor
    Future<double> f = send_array<double>(pool, array_sum, a, *how);
    copied = f.bytes_copied();
    return f.get() == expected;
  };
  // Repeated sends: one untimed send first (ref_first below times the first one). Without it a
  // row whose first send takes longer than the minimum time reports that send alone.
  if (!body()) {
    state.SkipWithError("wrong result");
    return;
  }
  timed_loop(state, body);
  set_bytes(state, bytes);
  state.counters["bytes_copied"] = static_cast<double>(copied);
}

// The first send of an array to a fresh pool (issue 13, item 3): every arena page is touched
// for the first time, by the parent's copy and by the worker's sum. Manual time: the pool's
// start and shutdown are not counted.
void array_sum_first_bench(benchmark::State& state, std::size_t bytes) {
  resources().clear();
  const std::vector<double> v(std::max<std::size_t>(1, bytes / sizeof(double)), 1.0);
  const auto expected = static_cast<double>(v.size());
  std::vector<double> times;
  for (auto _ : state) {
    Pool pool(options_for(Config::kSleep2));
    const auto start = std::chrono::steady_clock::now();
    const double sum = pool.submit(array_sum, brine::ref(v)).get();
    const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(ns / 1e9);
    times.push_back(ns);
    if (sum != expected) state.SkipWithError("wrong result");
  }
  state.counters["median_ns"] = percentile(times, 0.5);
  set_bytes(state, bytes);
}

// The sweep's pool keeps its worker awake (pinned, spinning) and the parent on brine's default
// wait. On a fully sleeping pool each task's cost flips between ~2 µs and ~15 µs with whether
// the worker was still spinning when it arrived; on the fully spinning one the pool's collector
// thread spins too, and three spinning threads on two CPUs preempt each other for milliseconds.
// Either would hide the data path being measured.
constexpr Config kSweepConfig = Config::kWarm1;

// The three ways run interleaved, one task each per iteration in rotating order, so that the
// VM's slow and fast states (which flip for seconds at a time) fall on all three alike; one
// untimed send of each first, so that no way pays for the first touch of its pages. The row's
// counters are each way's median; its time, the sum of the three.
void sweep_bench(benchmark::State& state, std::size_t bytes) {
  Pool& pool = pool_for(kSweepConfig);
  const Arrays& a = resources().arrays(kSweepConfig, bytes);
  std::optional<ScopedPin> pin;
  pin_if_spinning(kSweepConfig, pin);
  constexpr Send kWays[] = {Send::kCopy, Send::kRef, Send::kShared};
  std::array<std::vector<double>, 3> ns;
  std::array<double, 3> copied{};
  const auto send = [&](std::size_t w) {
    Future<std::uint64_t> f = send_array<std::uint64_t>(pool, array_length, a, kWays[w]);
    copied[w] = static_cast<double>(f.bytes_copied());
    return f.get() == a.vector.size();
  };
  for (std::size_t w = 0; w < 3; ++w) {
    if (!send(w)) {
      state.SkipWithError("wrong result");
      return;
    }
  }
  std::size_t turn = 0;
  for (auto _ : state) {
    for (std::size_t k = 0; k < 3; ++k) {
      const std::size_t w = (turn + k) % 3;
      const auto start = std::chrono::steady_clock::now();
      const bool ok = send(w);
      ns[w].push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count());
      if (!ok) {
        state.SkipWithError("wrong result");
        return;
      }
    }
    ++turn;
  }
  for (std::size_t w = 0; w < 3; ++w) {
    state.counters[std::string(send_name(kWays[w])) + "_ns"] = percentile(ns[w], 0.5);
    state.counters[std::string(send_name(kWays[w])) + "_bytes_copied"] = copied[w];
  }
  state.counters["payload_bytes"] = static_cast<double>(bytes);
  state.SetLabel(config_name(kSweepConfig));
}

// --- start cost per start method -------------------------------------------------------------

// The row's time is the whole cycle; counters split it into start (constructor to the first
// result) and stop (shutdown and reaping), in ms.
void start_bench(benchmark::State& state, StartMethod method) {
  using Clock = std::chrono::steady_clock;
  double start_ms = 0, stop_ms = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    std::optional<Pool> pool(std::in_place, PoolOptions{.workers = 2, .start_method = method,
                                                        .arena_bytes = std::size_t{64} << 20});
    pool->submit(empty_task).get();
    const auto t1 = Clock::now();
    pool.reset();
    start_ms += std::chrono::duration<double, std::milli>(t1 - t0).count();
    stop_ms += std::chrono::duration<double, std::milli>(Clock::now() - t1).count();
  }
  state.counters["start_ms"] = start_ms / static_cast<double>(state.iterations());
  state.counters["stop_ms"] = stop_ms / static_cast<double>(state.iterations());
}

// --- (e) uneven work: a task waits for the first free worker ----------------------------------

double median_sleep_ns(std::chrono::microseconds d, int samples) {
  std::vector<double> ns;
  for (int i = 0; i < samples; ++i) {
    const auto start = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(d);
    ns.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count());
  }
  return percentile(ns, 0.5);
}

// One 2 s task, then 100 of 5 ms, on 2 workers: the time until the last short one is done.
void uneven_bench(benchmark::State& state) {
  Pool& pool = pool_for(Config::kSleep2);
  const int shorts = quick ? 10 : 100;
  const std::int64_t long_us = quick ? 200'000 : 2'000'000, short_us = 5'000;
  const double ideal_ns = shorts * median_sleep_ns(std::chrono::microseconds(short_us), 20);
  for (int i = 0; i < 20; ++i) pool.submit(empty_task).get();
  std::vector<double> times;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    Future<std::int64_t> longest = pool.submit(sleep_us, long_us);
    std::vector<Future<std::int64_t>> fs;
    for (int i = 0; i < shorts; ++i) fs.push_back(pool.submit(sleep_us, short_us));
    for (auto& f : fs) f.wait();
    const double last_short_ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(last_short_ns / 1e9);
    times.push_back(last_short_ns);
    if (longest.get() != long_us) state.SkipWithError("wrong result");
  }
  state.counters["median_ns"] = percentile(times, 0.5);
  state.counters["ideal_ns"] = ideal_ns;
}

// The durations of the heavy-tailed map, in microseconds: a Pareto law (shape 1.2, scale 1 ms)
// capped at 1 s, drawn from a fixed sequence so that python_pools.py draws the same ones.
std::vector<std::int64_t> heavy_tail_durations_us(int n) {
  std::vector<std::int64_t> out;
  for (int i = 0; i < n; ++i) {
    const std::uint32_t h = static_cast<std::uint32_t>((std::uint64_t(i) + 1) * 2654435761u);
    const double u = (double(h) + 1.0) / 4294967297.0;
    const double d = 1000.0 / std::pow(u, 1.0 / 1.2);
    out.push_back(static_cast<std::int64_t>(std::min(d, 1'000'000.0)));
  }
  return out;
}

void heavy_tail_bench(benchmark::State& state) {
  Pool& pool = pool_for(Config::kSleep2);
  const std::vector<std::int64_t> durations = heavy_tail_durations_us(quick ? 20 : 200);
  const double sum_us = static_cast<double>(std::reduce(durations.begin(), durations.end(), std::int64_t{0}));
  const double longest_us = static_cast<double>(*std::max_element(durations.begin(), durations.end()));
  std::vector<double> times;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    const std::vector<std::int64_t> out = pool.map(sleep_us, durations, MapOptions{.chunksize = 1});
    const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(ns / 1e9);
    times.push_back(ns);
    if (out != durations) state.SkipWithError("wrong result");
  }
  state.counters["median_ns"] = percentile(times, 0.5);
  state.counters["ideal_ns"] = std::max(longest_us, sum_us / pool.size()) * 1e3;
  state.counters["sum_ns"] = sum_us * 1e3;
}

// --- registration ---------------------------------------------------------------------------

template <class... Args>
benchmark::internal::Benchmark* add(const std::string& name, Args... args) {
  return benchmark::RegisterBenchmark(name.c_str(), args...)->UseRealTime()->Unit(benchmark::kMicrosecond);
}

// 8 B, then powers of 4 from 16 B: 1 MiB, 64 MiB and 1 GiB are among them.
std::vector<std::size_t> sweep_sizes() {
  std::vector<std::size_t> sizes{8};
  for (std::size_t b = 16; b <= (quick ? kMiB : kGiB); b *= 4) sizes.push_back(b);
  return sizes;
}

void register_all() {
  add("BM_PoolRoundTrip/spin", round_trip, Config::kSpin1);
  add("BM_PoolRoundTrip/sleep", round_trip, Config::kSleep1);
  add("BM_PoolStart/fork", start_bench, StartMethod::kFork)->Unit(benchmark::kMillisecond)->MinTime(quick ? 0.001 : 0.5);
  add("BM_PoolStart/forkserver", start_bench, StartMethod::kForkServer)->Unit(benchmark::kMillisecond)->MinTime(quick ? 0.001 : 0.5);
  add("BM_PoolStart/spawn", start_bench, StartMethod::kSpawn)->Unit(benchmark::kMillisecond)->MinTime(quick ? 0.001 : 0.5);
  // Interleaved: each pair runs back to back, so the VM's wake-up state is the same for both.
  add("BM_RawPingPong/futex_rare", futex_rare_ping_pong)->Iterations(quick ? 10 : 400);
  add("BM_PoolRoundTrip/rare", rare_round_trip)->Iterations(quick ? 10 : 400);
  add("BM_RawPingPong/eventfd_same_cpu", eventfd_same_cpu_ping_pong);
  add("BM_PoolRoundTrip/same_cpu", same_cpu_round_trip);
  for (std::size_t bytes : sweep_sizes()) {
    add("BM_PoolSweep/" + std::to_string(bytes) + "/interleaved", sweep_bench, bytes)->MinTime(quick ? 0.001 : 0.3);
  }

  const std::string tasks = std::to_string(map_tasks());
  add("BM_PoolMap/" + tasks + "/submit_chunksize_1", map_bench, map_by_submit)->Iterations(1)->Unit(benchmark::kMillisecond);
  const std::size_t span_chunk = std::max<std::size_t>(1, map_tasks() / 64);
  add("BM_PoolMap/" + tasks + "/submit_span_chunks_" + std::to_string(span_chunk), map_bench,
      [span_chunk](Pool& pool, std::size_t n) { return map_span_chunks(pool, n, span_chunk); })
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
#ifdef BRINE_BENCH_WITH_POOL_MAP
  // chunksize 0: the pool's own choice (Pool::default_chunksize), named in the row's label.
  for (std::size_t chunk : {std::size_t{1}, std::size_t{0}}) {
    const std::string name = chunk == 0 ? "map_chunksize_auto" : "map_chunksize_" + std::to_string(chunk);
    add("BM_PoolMap/" + tasks + "/" + name, map_bench,
        [chunk](Pool& pool, std::size_t n) { return map_chunked(pool, n, chunk); })
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond);
  }
#endif

  for (auto [name, fn] : {std::pair{"BM_PoolUneven/brine", &uneven_bench}, std::pair{"BM_PoolHeavyTail/brine", &heavy_tail_bench}}) {
    benchmark::RegisterBenchmark(name, fn)->UseManualTime()->Iterations(quick ? 1 : 3)->Unit(benchmark::kMillisecond);
  }

  const std::vector<std::size_t> mib = quick ? std::vector<std::size_t>{1} : std::vector<std::size_t>{1, 64, 1024};
  for (std::size_t m : mib) {
    const std::string prefix = "BM_PoolArraySum/" + std::to_string(m) + "MiB/";
    add(prefix + "in_process", array_sum_bench, m * kMiB, std::optional<Send>())->Unit(benchmark::kMillisecond);
    for (Send how : {Send::kShared, Send::kRef, Send::kCopy}) {
      add(prefix + send_name(how), array_sum_bench, m * kMiB, std::optional<Send>(how))->Unit(benchmark::kMillisecond);
    }
    benchmark::RegisterBenchmark((prefix + "ref_first").c_str(), array_sum_first_bench, m * kMiB)
        ->UseManualTime()
        ->Iterations(quick ? 1 : 3)
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace
}  // namespace brine::bench

int main(int argc, char** argv) {
  brine::run_if_worker();  // BM_PoolStart/spawn execs this binary as its workers
  // --quick: tiny sizes, for CI. Removed before Google Benchmark sees the arguments.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      brine::bench::quick = true;
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  brine::bench::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
