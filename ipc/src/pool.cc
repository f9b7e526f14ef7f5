#include "brine/ipc/pool.h"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include "pool_core.h"
#include "worker.h"

namespace brine {

namespace detail {

namespace {

std::size_t align_up(std::size_t n, std::size_t a) { return (n + a - 1) / a * a; }

// A future's error, owned by nothing but the returned pointer. How a failure reaches a future
// matters under ThreadSanitizer: std::runtime_error's message and the exception object are
// reference-counted inside the uninstrumented C++ runtime, so if a temporary (or an active
// handler) on the collector dropped the last reference after the future completed, the waiter's
// reads would look like a race with that free. So errors are built here (the temporary dies
// before this returns), and a caught exception fails its future after the handler has ended;
// Future::get() takes the error with it (future.h).
template <class E>
std::exception_ptr error_ptr(const std::string& message) {
  return std::make_exception_ptr(E(message));
}

int pidfd_open(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return std::string("was killed by signal ") + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  return "stopped";
}

// Puts task buffers in the arena and records the blocks the task holds.
class TaskSink final : public BufferSink {
 public:
  TaskSink(ipc::Arena& arena, std::vector<ipc::BlockHandle>& blocks) : arena_(arena), blocks_(blocks) {}
  std::optional<fb::BufferRef> locate(const void* data, std::size_t size) override {
    ipc::BlockHandle h = arena_.find(data, size);
    if (!h) return std::nullopt;
    const auto offset = static_cast<uint64_t>(static_cast<const std::byte*>(data) - h.data());
    fb::BufferRef ref = h.ref(offset, size);
    blocks_.push_back(std::move(h));
    return ref;
  }
  fb::BufferRef place(const void* data, std::size_t size, std::size_t align) override {
    ipc::BlockHandle h = arena_.allocate(size, std::max<std::size_t>(align, 64));
    arena_.copy_in(h.data(), data, size);
    fb::BufferRef ref = h.ref(0, size);
    blocks_.push_back(std::move(h));
    return ref;
  }

 private:
  ipc::Arena& arena_;
  std::vector<ipc::BlockHandle>& blocks_;
};

// Resolves the references of a result and keeps their blocks alive for the future's value.
class ResultSource final : public BufferSource {
 public:
  ResultSource(ipc::Arena& arena, std::vector<ipc::BlockHandle>& holds) : arena_(arena), holds_(holds) {}
  std::span<const std::byte> resolve(const fb::BufferRef& ref) const override {
    std::span<const std::byte> bytes = arena_.resolve(ref);
    holds_.push_back(arena_.retain(ref.block()));
    return bytes;
  }
  std::shared_ptr<const void> pin(const fb::BufferRef& ref) const override {
    return std::make_shared<ipc::BlockHandle>(arena_.retain(ref.block()));
  }

 private:
  ipc::Arena& arena_;
  std::vector<ipc::BlockHandle>& holds_;
};

// Bumps `word` and wakes its waiters once `deadline` passes (unless destroyed first), so that a
// bounded wait can sleep in std::atomic<uint32_t>::wait, which has no timeout of its own.
class Alarm {
 public:
  Alarm(std::chrono::steady_clock::time_point deadline, std::atomic<uint32_t>& word)
      : thread_([this, deadline, &word] {
          std::unique_lock lock(mu_);
          if (!cv_.wait_until(lock, deadline, [this] { return cancelled_; })) {
            word.fetch_add(1, std::memory_order_release);
            word.notify_all();
          }
        }) {}
  ~Alarm() {
    {
      std::lock_guard lock(mu_);
      cancelled_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Alarm(const Alarm&) = delete;
  Alarm& operator=(const Alarm&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool cancelled_ = false;
  std::thread thread_;  // last: starts once the members it uses exist
};

}  // namespace

// ---- construction: the segment layout ------------------------------------------------------

PoolCore::PoolCore(PoolOptions opts) : options(opts), requested(opts), parent_pid_(getpid()) {
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  if (options.workers == 0) options.workers = hw;
  if (options.max_workers == 0) options.max_workers = std::max(options.workers, 2 * hw);
  if (options.max_workers < options.workers) {
    throw std::invalid_argument("brine: PoolOptions::max_workers (" + std::to_string(options.max_workers) +
                                ") is below workers (" + std::to_string(options.workers) + ")");
  }
  if (options.start_method == StartMethod::kSpawn && options.reducers != nullptr) {
    throw std::invalid_argument(
        "brine: per-pool reducers (PoolOptions::reducers) cannot cross exec; use StartMethod::kFork or "
        "kForkServer, or specialize brine::Reducer<T> globally");
  }
  const FunctionInfo* initializer = nullptr;
  if (options.initializer != nullptr) {
    initializer = &FunctionRegistry::global().require(reinterpret_cast<const void*>(options.initializer),
                                                      &ParamSignature<std::tuple<>>::text);
  }
  if (options.ring_capacity == 0 || (options.ring_capacity & (options.ring_capacity - 1)) != 0) {
    throw std::invalid_argument("brine: PoolOptions::ring_capacity must be a power of two, got " +
                                std::to_string(options.ring_capacity));
  }
  if (options.slot_count < options.workers) options.slot_count = options.workers;
  options.slot_bytes = static_cast<uint32_t>(align_up(std::max<uint32_t>(options.slot_bytes, 256), ipc::kCacheLineSize));
  if (options.slot_count > ipc::kMaxSlots) {
    throw std::invalid_argument("brine: PoolOptions::slot_count (" + std::to_string(options.slot_count) +
                                ") is above the most a ring message can name (" + std::to_string(ipc::kMaxSlots) +
                                "); lower it");
  }
  const uint32_t max_workers = options.max_workers;
  const std::size_t slot_bytes = options.slot_bytes;
  const std::size_t page = ipc::kPageSize;
  const uint32_t sub_cap = options.ring_capacity;
  const uint32_t done_cap = options.ring_capacity * 2;  // completions + one arena request per worker

  // Every region a worker may write starts and ends on a page (see layout.h).
  std::size_t off = sizeof(ipc::SegmentHeader);  // the header's page, then the doorbell's
  const std::size_t slots_off = off;
  off = align_up(off + std::size_t{options.slot_count} * sizeof(ipc::SlotHeader), page);
  const std::size_t task_data_off = off;
  off = align_up(off + std::size_t{options.slot_count} * slot_bytes, page);
  const std::size_t result_data_off = off;
  off = align_up(off + std::size_t{options.slot_count} * slot_bytes, page);
  const std::size_t workers_off = off;
  off += max_workers * sizeof(ipc::WorkerControl);
  const std::size_t rings_off = off;
  const std::size_t ring_pair =
      align_up(align_up(ipc::SpscRing::bytes_for(sub_cap), 64) + align_up(ipc::SpscRing::bytes_for(done_cap), 64), page);
  off += max_workers * ring_pair;
  const std::size_t blocks_off = off;
  off += std::size_t{options.max_blocks} * sizeof(ipc::BlockDesc);
  const std::size_t slot_links_off = off = align_up(off, 8);
  off += std::size_t{options.slot_count} * sizeof(uint32_t);
  const std::size_t block_links_off = off = align_up(off, 8);
  off += std::size_t{options.max_blocks} * sizeof(uint32_t);
  const std::size_t arena_off = align_up(off, page);
  const std::size_t total = arena_off + align_up(options.arena_bytes, page);

  segment = ipc::Segment::create(total);
  header = new (segment.base()) ipc::SegmentHeader();
  header->version = ipc::kLayoutVersion;
  header->header_size = sizeof(ipc::SegmentHeader);
  header->total_size = total;
  header->owner_pid = parent_pid_;
  header->max_workers = max_workers;
  header->ring_capacity = sub_cap;
  header->slot_count = options.slot_count;
  header->slot_size = sizeof(ipc::SlotHeader);
  header->max_blocks = options.max_blocks;
  header->slot_bytes = options.slot_bytes;
  header->workers_offset = workers_off;
  header->rings_offset = rings_off;
  header->ring_pair_size = ring_pair;
  header->slots_offset = slots_off;
  header->task_data_offset = task_data_off;
  header->result_data_offset = result_data_off;
  header->blocks_offset = blocks_off;
  header->slot_links_offset = slot_links_off;
  header->block_links_offset = block_links_off;
  header->arena_offset = arena_off;
  header->arena_size = total - arena_off;
  header->config.reference_threshold = options.reference_threshold;
  header->config.initializer_id = initializer != nullptr ? initializer->id : 0;
  header->config.idle_timeout_ns = static_cast<uint64_t>(std::chrono::nanoseconds(options.idle_timeout).count());
  header->config.spin_ns = options.worker_wait.spin_ns;
  header->config.max_spin_ns = options.worker_wait.max_spin_ns;
  header->config.sleep = options.worker_wait.sleep ? 1 : 0;
  header->config.pin = options.pin_workers ? 1 : 0;
  header->config.max_tasks = options.max_tasks_per_child;
  header->config.max_rss = options.max_worker_rss;
  target_workers_.store(options.workers, std::memory_order_relaxed);

  for (uint32_t i = 0; i < options.max_blocks; ++i) new (segment.at<ipc::BlockDesc>(blocks_off) + i) ipc::BlockDesc();
  for (uint32_t i = 0; i < options.slot_count; ++i) new (&slot(i)) ipc::SlotHeader();
  for (uint32_t i = options.slot_count; i-- > 0;) header->free_slots.push(slot_links(), i);
  arena = std::make_unique<ipc::Arena>(segment.base(), header, segment.fd());

  pending_.resize(options.slot_count);
  slot_owner_ = std::make_unique<std::atomic<uint32_t>[]>(options.slot_count);
  for (uint32_t i = 0; i < options.slot_count; ++i) slot_owner_[i].store(kNoWorker, std::memory_order_relaxed);

  for (uint32_t w = 0; w < max_workers; ++w) {
    auto entry = std::make_unique<WorkerEntry>();
    entry->control = new (segment.at<ipc::WorkerControl>(workers_off) + w) ipc::WorkerControl();
    std::byte* rings = segment.base() + rings_off + w * ring_pair;
    entry->control->submit_ring = static_cast<uint64_t>(rings - segment.base());
    entry->submit = ipc::SpscRing::create(rings, sub_cap);
    rings += align_up(ipc::SpscRing::bytes_for(sub_cap), 64);
    entry->control->complete_ring = static_cast<uint64_t>(rings - segment.base());
    entry->complete = ipc::SpscRing::create(rings, done_cap);
    workers_.push_back(std::move(entry));
  }
  push_failed_.assign(max_workers, 0);
  // Published last: a tool that sees the magic sees a formatted segment.
  std::atomic_ref<uint64_t>(header->magic).store(ipc::kSegmentMagic, std::memory_order_release);

  drain_hook_->drain = [this] { return drain(); };
  drain_hook_->doorbell = &header->doorbell;
  drain_hook_->bell = &header->collector_bell;
  drain_hook_->work_waiting = [this] {
    if (deaths_.load(std::memory_order_acquire)) return true;
    for (auto& w : workers_) {
      if (!w->complete.empty()) return true;
    }
    return false;
  };
  drain_hook_->outstanding = [this] { return inflight_total_.load(std::memory_order_acquire) != 0; };
  control_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (control_fd_ < 0) throw SegmentError(std::string("brine: eventfd failed: ") + std::strerror(errno));
  // The monitor starts first: a fork server must be forked before the collector thread runs.
  monitor_ = std::thread([this] { monitor_loop(); });
  {
    std::unique_lock lock(spawned_mu_);
    spawned_cv_.wait(lock, [this] { return initial_spawn_done_; });
  }
  collector_ = std::thread([this] { collector_loop(); });
  if (spawn_error_) {
    shutdown(false, false);
    std::rethrow_exception(spawn_error_);
  }
}

// Bounded (PoolOptions::shutdown_timeout): a stuck task cannot hang the program in a destructor.
PoolCore::~PoolCore() { shutdown(true, false, destroy_bound()); }

std::chrono::milliseconds PoolCore::destroy_bound() const noexcept {
  return options.shutdown_timeout.count() > 0 ? options.shutdown_timeout : std::chrono::milliseconds::max();
}

ipc::SlotHeader& PoolCore::slot(uint32_t i) const noexcept {
  return *reinterpret_cast<ipc::SlotHeader*>(segment.base() + header->slots_offset + std::size_t{i} * header->slot_size);
}

std::atomic<uint32_t>* PoolCore::slot_links() const noexcept {
  return segment.at<std::atomic<uint32_t>>(header->slot_links_offset);
}

// ---- submit ---------------------------------------------------------------------------------

void PoolCore::submit(const std::shared_ptr<TaskStateBase>& state, const FunctionInfo& info,
                      const std::function<EncodedCall(Encoder&)>& encode, const SubmitOptions& opts) {
  if (broken()) throw broken_error();
  if (closing_.load(std::memory_order_acquire)) {
    throw PoolClosed("brine: submit after the pool was shut down; create a new brine::Pool");
  }
  // One builder per thread, reused; but a submit may run inside another one on the same
  // thread (waiting for a slot drains completions, whose done-callbacks may submit), and the
  // inner one must not overwrite the outer envelope before it is copied into its slot.
  thread_local flatbuffers::FlatBufferBuilder tls_fbb(4096);
  thread_local int tls_submit_depth = 0;
  struct SubmitDepth {
    SubmitDepth() { ++tls_submit_depth; }
    ~SubmitDepth() { --tls_submit_depth; }
  } depth;
  std::optional<flatbuffers::FlatBufferBuilder> nested;
  flatbuffers::FlatBufferBuilder& fbb = tls_submit_depth == 1 ? tls_fbb : nested.emplace(4096);
  fbb.Clear();
  Pending rec;
  rec.fn = &info;
  rec.task_id = next_task_id_.fetch_add(1, std::memory_order_relaxed);
  TaskSink sink(*arena, rec.blocks);
  Encoder e(fbb, {options.reference_threshold, &sink, options.reducers});
  // A failure completes the future after its handler has ended (see error_ptr).
  std::exception_ptr error;
  try {
    finish_task(e, rec.task_id, info, encode(e));
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {  // fails this future only; nothing was sent
    state->fail(std::move(error));
    return;
  }
  const std::size_t n = fbb.GetSize();
  ipc::BlockHandle envelope_block;
  if (n > options.slot_bytes) {
    try {
      envelope_block = arena->allocate(n);
    } catch (...) {
      error = std::current_exception();
    }
    if (error) {
      state->fail(std::move(error));
      return;
    }
  }
  const uint32_t s = acquire_slot();
  ipc::SlotHeader& h = slot(s);
  if (envelope_block) {
    arena->copy_in(envelope_block.data(), fbb.GetBufferPointer(), n);
    h.envelope_block = envelope_block.id() + 1;
    rec.blocks.push_back(std::move(envelope_block));
  } else {
    std::memcpy(task_data(s), fbb.GetBufferPointer(), n);
    h.envelope_block = 0;
  }
  h.envelope_size = static_cast<uint32_t>(n);
  h.task_id = rec.task_id;
  const auto timeout = opts.timeout.count() != 0 ? opts.timeout : options.task_timeout;
  const auto timeout_ns = static_cast<uint64_t>(std::chrono::nanoseconds(timeout).count());
  h.timeout_ns.store(timeout_ns, std::memory_order_relaxed);
  h.state.store(ipc::slot_word(ipc::word_ticket(h.state.load(std::memory_order_relaxed)), ipc::SlotState::kQueued),
                std::memory_order_relaxed);
  state->bytes_copied = e.bytes_copied() + n;
  const uint64_t task_id = rec.task_id;
  rec.state = state;
  pending_[s] = std::move(rec);
  state->cancel_hook = [this, s, task_id, raw = state.get()] { return cancel(s, task_id, *raw); };
  state->drain_hook = drain_hook_;
  // A lone task is drained by whoever observes it; with others in flight and nobody
  // collecting, its completion wakes the collector (future.h).
  if (inflight_total_.fetch_add(1, std::memory_order_seq_cst) != 0) drain_hook_->want_collector_if_alone();
  header->tasks_submitted.fetch_add(1, std::memory_order_relaxed);
  if (timeout_ns != 0 && timed_inflight_.fetch_add(1, std::memory_order_relaxed) == 0) {
    request_monitor(kNoWorker);  // start checking deadlines
  }
  try {
    schedule(s);
  } catch (...) {
    Pending undo = std::move(pending_[s]);
    pending_[s] = Pending{};
    inflight_total_.fetch_sub(1, std::memory_order_relaxed);
    release_slot(s);
    throw;
  }
}

void PoolCore::refuse_full(const char* what) {
  throw RingFull(std::string("brine: ") + what + " (" + std::to_string(options.slot_count) + " slots, " +
                 std::to_string(header->ring_capacity) + " tasks per worker ring) and the pool's back-pressure "
                 "policy is Backpressure::kFail; wait for results before submitting more, raise "
                 "PoolOptions::slot_count / ring_capacity, or use Backpressure::kBlock");
}

uint32_t PoolCore::acquire_slot() {
  for (;;) {
    const uint32_t seen = slots_released_.load(std::memory_order_acquire);
    uint32_t s = 0;
    if (header->free_slots.pop(slot_links(), s)) return s;
    if (options.backpressure == Backpressure::kFail) refuse_full("every task slot is in use");
    wait_for_room(seen);
  }
}

namespace {
thread_local int tls_drain_depth = 0;  // > 0 while this thread is inside drain()
}

void PoolCore::wait_for_room(uint32_t seen) {
  if (tls_drain_depth == 0) {
    // Settle completions on this thread, as a waiting future does. Left to the collector, each
    // freed slot would cost two wake-ups: the collector's, then this thread's.
    drain_hook_->collect_until(options.parent_wait,
                               [&] { return slots_released_.load(std::memory_order_acquire) != seen; });
    slots_released_.wait(seen, std::memory_order_acquire);  // the pool closed: its shutdown bumps it
    return;
  }
  if (drain() == 0) {
    header->doorbell.wait([&] { return slots_released_.load() != seen; }, options.parent_wait,
                          std::chrono::milliseconds(1));
  }
}

std::size_t PoolCore::drain_locked() {
  std::lock_guard lock(drain_hook_->mu);
  return drain();
}

void PoolCore::free_slot(uint32_t s) noexcept {
  if (slot(s).timeout_ns.exchange(0, std::memory_order_relaxed) != 0) timed_inflight_.fetch_sub(1, std::memory_order_relaxed);
  ipc::SlotHeader& h = slot(s);
  h.state.store(ipc::slot_word(ipc::word_ticket(h.state.load(std::memory_order_relaxed)), ipc::SlotState::kFree),
                std::memory_order_relaxed);
  slot_owner_[s].store(kNoWorker, std::memory_order_relaxed);
  header->free_slots.push(slot_links(), s);
}

void PoolCore::announce_room() noexcept {
  slots_released_.fetch_add(1, std::memory_order_seq_cst);
  slots_released_.notify_all();
  // A submitter may wait for room asleep on the doorbell (wait_for_room).
  if (drain_hook_->doorbell_sleepers.load(std::memory_order_seq_cst) != 0) header->doorbell.wake_if_sleepers();
}

void PoolCore::release_slot(uint32_t s) noexcept {
  free_slot(s);
  announce_room();
}

// ---- scheduling (protocol and invariants: pool_core.h) ---------------------------------------

bool PoolCore::eligible(const WorkerEntry& e) const noexcept {
  return e.alive.load(std::memory_order_acquire) && !e.retiring.load(std::memory_order_acquire);
}

namespace {
// Prefetched work per worker, in time: about what a refill costs when the parent has to be
// woken up for it on a slow VM (tens of microseconds), with room to spare.
constexpr uint64_t kPrefetchCoverNs = 100'000;
// The least time a worker's current task must have run before what was prefetched behind it is
// taken back.
constexpr uint64_t kMinStealWaitNs = 200'000;
}  // namespace

uint32_t PoolCore::prefetch_depth() const noexcept {
  const uint64_t cap = header->ring_capacity;
  const uint64_t floor = std::min<uint64_t>(2, cap);
  const uint64_t t = run_ewma_ns_.load(std::memory_order_relaxed);
  if (t == 0) return static_cast<uint32_t>(floor);
  return static_cast<uint32_t>(std::clamp<uint64_t>(1 + (kPrefetchCoverNs + t - 1) / t, floor, cap));
}

void PoolCore::record_run_time(uint64_t ns) noexcept {
  // Written by the worker, so bounded before use; an average over about the last 8 tasks.
  ns = std::clamp<uint64_t>(ns, 1, uint64_t{60} * 1'000'000'000);
  const uint64_t old = run_ewma_ns_.load(std::memory_order_relaxed);
  run_ewma_ns_.store(old == 0 ? ns : old - old / 8 + ns / 8, std::memory_order_relaxed);
}

void PoolCore::schedule(uint32_t s) {
  for (;;) {
    const uint32_t seen = slots_released_.load(std::memory_order_acquire);
    bool any_eligible = false, queued = false;
    std::vector<uint32_t> unpark;  // workers that exited when idle, needed again
    {
      std::lock_guard lock(sched_mu_);
      // Under the lock handle_death parks under (only with an empty backlog): a worker is either
      // found parked here or sees this task in the backlog and is restarted.
      for (uint32_t w = 0; w < workers_.size(); ++w) {
        if (workers_[w]->parked.load(std::memory_order_acquire) && workers_[w]->parked.exchange(false)) {
          unpark.push_back(w);
        }
      }
      if (broken()) throw broken_error();
      if (stopping_.load(std::memory_order_acquire)) {
        throw PoolClosed("brine: the pool shut down before the task could be queued");
      }
      for (auto& e : workers_) any_eligible = any_eligible || eligible(*e);
      // The pool queues ring_capacity tasks (running or waiting) per worker it aims to run.
      const std::size_t room = std::size_t{header->ring_capacity} * std::max(1u, target_workers_.load());
      if (backlog_.size() + assigned_total_ < room) {
        backlog_.push_back(s);
        pump();
        queued = true;
      }
    }
    for (const uint32_t w : unpark) request_monitor(w);
    if (queued) {
      wake_pushed();
      return;
    }
    if (options.backpressure == Backpressure::kFail && any_eligible) {
      refuse_full("every worker has ring_capacity tasks queued or running");
    }
    wait_for_room(seen);
  }
}

bool PoolCore::push_to(uint32_t w, uint32_t s) {
  WorkerEntry& e = *workers_[w];
  const uint32_t ticket = ipc::word_ticket(slot(s).state.load(std::memory_order_acquire));
  slot_owner_[s].store(w, std::memory_order_release);  // before the worker can speak of it
  if (!e.submit.try_push(ipc::make_task_message(s, ticket))) {
    slot_owner_[s].store(kNoWorker, std::memory_order_release);
    return false;
  }
  if (e.assigned.empty()) e.head_since_ns = ipc::monotonic_ns();
  e.assigned.push_back(s);
  ++assigned_total_;
  e.needs_wake.store(true, std::memory_order_release);  // woken by wake_pushed(), after the lock
  return true;
}

void PoolCore::wake_pushed() noexcept {
  for (auto& e : workers_) {
    if (e->needs_wake.load(std::memory_order_relaxed) && e->needs_wake.exchange(false, std::memory_order_acq_rel)) {
      e->submit.consumer_wake().notify();
    }
  }
}

void PoolCore::pump() {
  if (stopping_.load(std::memory_order_acquire) || broken()) return;
  const uint32_t depth = prefetch_depth();
  std::fill(push_failed_.begin(), push_failed_.end(), 0);
  reclaim_stalled();
  while (!backlog_.empty()) {
    WorkerEntry* best = nullptr;
    uint32_t best_w = 0;
    for (uint32_t w = 0; w < workers_.size(); ++w) {
      WorkerEntry& e = *workers_[w];
      // A stalled worker is given nothing until its long task ends: no prefetch behind it.
      const std::size_t limit = e.stalled_slot != kNoSlot ? 1 : depth;
      if (push_failed_[w] != 0 || !eligible(e) || e.assigned.size() >= limit) continue;
      if (best == nullptr || e.assigned.size() < best->assigned.size()) {
        best = &e;
        best_w = w;
      }
    }
    if (best == nullptr) return;
    if (!push_to(best_w, backlog_.front())) {
      push_failed_[best_w] = 1;  // its ring is full of stale messages: it is busy anyway
      continue;
    }
    backlog_.pop_front();
  }
}

void PoolCore::reclaim_stalled() {
  if (workers_.size() < 2) return;  // nowhere else to run it: the order is already the submission order
  const uint64_t now = ipc::monotonic_ns();
  // A worker is stalled once its current task has run for several average tasks: a worker
  // streaming short tasks empties its own queue sooner than a move would pay.
  const uint64_t patience = std::max<uint64_t>(4 * run_ewma_ns_.load(std::memory_order_relaxed), kMinStealWaitNs);
  bool idle_worker = false;
  for (const auto& e : workers_) idle_worker = idle_worker || (e->assigned.empty() && eligible(*e));
  uint64_t retry_at = 0;  // when the next worker would be stalled, if an idle worker waits for it
  const auto due = [&](uint64_t at) { retry_at = retry_at == 0 ? at : std::min(retry_at, at); };
  for (uint32_t w = 0; w < workers_.size(); ++w) {
    WorkerEntry& e = *workers_[w];
    if (e.assigned.empty() || !e.alive.load(std::memory_order_acquire)) {
      e.stalled_slot = kNoSlot;
      continue;
    }
    // Stalled stays stalled until that task ends, even if the average grows meanwhile.
    if (e.stalled_slot != e.assigned.front()) {
      e.stalled_slot = kNoSlot;
      // Its head has been its head since head_since_ns, and the last look at the worker found
      // a task that cannot have run past the patience before stall_check_at_ns (both parent
      // memory): until then the worker's own cache line is left alone, so a pump per submit
      // reads it at most once per patience.
      const uint64_t not_before = std::max(e.head_since_ns + patience, e.stall_check_at_ns);
      if (now < not_before) {
        if (idle_worker && e.assigned.size() >= 2) due(not_before);
        continue;
      }
      const uint64_t started = e.control->task_started_ns.load(std::memory_order_relaxed);
      const uint32_t current = e.control->current_slot.load(std::memory_order_acquire);
      if (current == 0 || started > now || now - started < patience) {
        // Between tasks (or not yet woken up), or its current task started recently.
        e.stall_check_at_ns = (current != 0 && started <= now ? started : now) + patience;
        if (idle_worker && e.assigned.size() >= 2) due(e.stall_check_at_ns);
        continue;
      }
      e.stalled_slot = current - 1;
    }
    if (e.assigned.size() < 2 || !idle_worker) continue;
    // What waits behind the running task goes back to the backlog, in submission order, ahead
    // of later tasks, once another worker is idle to take it. While every worker is busy it
    // stays: a worker that is only descheduled for a moment (2 CPUs, many processes) would
    // otherwise have its queue churned for nothing. Revoking by CAS (pool_core.h).
    for (auto it = e.assigned.begin(); it != e.assigned.end();) {
      const uint32_t s = *it;
      uint64_t word = slot(s).state.load(std::memory_order_acquire);
      if (ipc::word_state(word) != ipc::SlotState::kQueued ||
          !slot(s).state.compare_exchange_strong(
              word, ipc::slot_word(ipc::word_ticket(word) + 1, ipc::SlotState::kQueued), std::memory_order_acq_rel)) {
        ++it;  // the running task, or one claimed or cancelled by now: it stays where it is
        continue;
      }
      // Revoked: the worker's message for it is stale from here on.
      it = e.assigned.erase(it);
      --assigned_total_;
      slot_owner_[s].store(kNoWorker, std::memory_order_release);
      tasks_stolen_.fetch_add(1, std::memory_order_relaxed);
      const uint64_t id = slot(s).task_id;
      auto at = backlog_.begin();
      while (at != backlog_.end() && slot(*at).task_id < id) ++at;
      backlog_.insert(at, s);
    }
  }
  if (retry_at != 0) {
    // Not yet: the collector pumps again when it would be time.
    uint64_t cur = steal_retry_at_ns_.load(std::memory_order_relaxed);
    while ((cur == 0 || retry_at < cur) && !steal_retry_at_ns_.compare_exchange_weak(cur, retry_at)) {
    }
  }
}

void PoolCore::unassign(uint32_t w, uint32_t s) {
  if (w == kNoWorker) return;
  WorkerEntry& e = *workers_[w];
  const auto it = std::find(e.assigned.begin(), e.assigned.end(), s);
  if (it == e.assigned.end()) return;
  if (it == e.assigned.begin()) e.head_since_ns = ipc::monotonic_ns();  // the next task becomes its head
  if (s == e.stalled_slot) e.stalled_slot = kNoSlot;  // its long task ended (the slot may be reused)
  e.assigned.erase(it);
  --assigned_total_;
}

bool PoolCore::cancel(uint32_t s, uint64_t task_id, TaskStateBase& state) {
  // Under the drain lock, which every completion holds: a task not yet done still owns its slot
  // until we let go. Without it, the task could finish and its slot be reused between our
  // checks, and the CAS below would cancel a stranger's task (whose future would then never
  // complete) while a submitter rewrote task_id under our read (CollectorStressTest, TSan).
  std::lock_guard lock(drain_hook_->mu);
  if (state.done()) return false;
  ipc::SlotHeader& h = slot(s);
  if (h.task_id != task_id) return false;
  uint64_t word = h.state.load(std::memory_order_acquire);
  do {
    if (ipc::word_state(word) != ipc::SlotState::kQueued) return false;
  } while (!h.state.compare_exchange_weak(word, ipc::slot_word(ipc::word_ticket(word), ipc::SlotState::kCancelled),
                                          std::memory_order_acq_rel));
  // The worker will skip it and hand the slot back; the collector then leaves the future
  // alone. It fails now.
  state.fail(error_ptr<Cancelled>("brine: the task was cancelled before a worker started it"));
  return true;
}

// ---- the collector --------------------------------------------------------------------------

std::chrono::nanoseconds PoolCore::next_pump_in(std::chrono::nanoseconds longest) const noexcept {
  const uint64_t at = steal_retry_at_ns_.load(std::memory_order_relaxed);
  if (at == 0) return longest;
  const uint64_t now = ipc::monotonic_ns();
  return std::min<std::chrono::nanoseconds>(longest, std::chrono::nanoseconds(at > now ? at - now : 0));
}

void PoolCore::pump_if_due() {
  const uint64_t at = steal_retry_at_ns_.load(std::memory_order_relaxed);
  if (at == 0 || ipc::monotonic_ns() < at) return;
  {
    std::lock_guard lock(sched_mu_);
    steal_retry_at_ns_.store(0, std::memory_order_relaxed);
    pump();
  }
  wake_pushed();
}

void PoolCore::collector_loop() {
  auto work_waiting = [this] {
    if (deaths_.load(std::memory_order_acquire) || stopping_.load(std::memory_order_acquire)) return true;
    for (auto& w : workers_) {
      if (!w->complete.empty()) return true;
    }
    return false;
  };
  for (;;) {
    if (drain_locked() != 0) continue;
    if (stopping_.load(std::memory_order_acquire)) {
      bool any_alive = false;
      for (auto& w : workers_) any_alive = any_alive || w->alive.load() || w->dead.load();
      if (!any_alive && !deaths_.load()) break;
    }
    // The collector always ends up asleep: waiters collect their own results, and a third
    // spinner on a 2-CPU machine would starve the worker. While a waiter collects (spinning or
    // asleep on the doorbell), nap on the collector bell rather than have every completion
    // pay for a futex wake; the last collector out wakes us if tasks remain, and a task
    // submitted while nobody collects wakes us when it completes (future.h, wait.h).
    if (drain_hook_->collectors.load(std::memory_order_seq_cst) != 0 && !stopping_.load()) {
      ipc::CollectorBell& bell = header->collector_bell;
      const uint32_t seq = bell.seq.load(std::memory_order_seq_cst);
      drain_hook_->collector_napping.store(1, std::memory_order_seq_cst);
      if (drain_hook_->collectors.load(std::memory_order_seq_cst) != 0) {
        ipc::futex_wait(&bell.seq, seq, next_pump_in(std::chrono::milliseconds(100)));
      }
      drain_hook_->collector_napping.store(0, std::memory_order_seq_cst);
      bell.unwant();  // awake: it watches the doorbell itself until it naps again
      pump_if_due();
      continue;
    }
    const ipc::WaitPolicy policy{.spin_ns = std::min<uint32_t>(options.parent_wait.spin_ns, 2000), .sleep = true};
    if (!header->doorbell.wait(work_waiting, policy, next_pump_in(std::chrono::milliseconds(stopping_.load() ? 10 : 1000)))) {
      {
        std::lock_guard lock(sched_mu_);
        steal_retry_at_ns_.store(0, std::memory_order_relaxed);
        pump();  // the safety net of invariant 4: a push that failed on a ring full of stale messages
      }
      wake_pushed();
    }
    pump_if_due();
  }
  drain_locked();
}

std::size_t PoolCore::drain() {
  struct Depth {
    Depth() { ++tls_drain_depth; }
    ~Depth() { --tls_drain_depth; }
  } depth;
  std::size_t n = 0;
  uint64_t m = 0;
  // Completions are settled one by one (decoded into their futures) and retired together: one
  // sched_mu_ section and one pump for the whole drain, one wake of the submitters.
  std::vector<Settled> batch;
  for (uint32_t w = 0; w < workers_.size(); ++w) {
    WorkerEntry& e = *workers_[w];
    // A ring never holds more than its capacity: a worker whose ring says so is corrupt or
    // hostile. Kill it rather than spin on garbage; handle_death() fails its tasks.
    if (e.complete.size() > e.complete.capacity()) {
      if (e.alive.load(std::memory_order_acquire)) kill(e.pid, SIGKILL);
      continue;
    }
    for (uint32_t k = e.complete.capacity(); k != 0 && e.complete.pop_and_notify(m); --k) {
      handle_message(w, m, batch);
      ++n;
    }
  }
  // Before any death is handled: handle_death() must not find these slots on a worker's list.
  retire(batch);
  if (deaths_.exchange(false, std::memory_order_acq_rel)) {
    for (uint32_t w = 0; w < workers_.size(); ++w) {
      if (workers_[w]->dead.load(std::memory_order_acquire)) {
        handle_death(w);
        ++n;
      }
    }
  }
  return n;
}

void PoolCore::handle_message(uint32_t w, uint64_t m, std::vector<Settled>& batch) {
  const uint32_t s = ipc::message_arg(m);
  // A worker may only speak of slots the parent gave it: anything else is ignored.
  if (s >= options.slot_count || slot_owner_[s].load(std::memory_order_acquire) != w) return;
  const auto state = ipc::word_state(slot(s).state.load(std::memory_order_acquire));
  switch (ipc::message_kind(m)) {
    case ipc::Message::kDone:
      // Only a slot the worker marked done (or that was cancelled): a premature report would
      // free a slot it is still writing.
      if (state == ipc::SlotState::kDone || state == ipc::SlotState::kCancelled) settle(w, s, batch);
      break;
    case ipc::Message::kAllocRequest: grant(s); break;
    default: break;
  }
}

void PoolCore::settle(uint32_t w, uint32_t s, std::vector<Settled>& batch) {
  ipc::SlotHeader& h = slot(s);
  // No further message may speak of it (a hostile worker's second kDone would free it twice).
  slot_owner_[s].store(kNoWorker, std::memory_order_relaxed);
  Pending rec = std::move(pending_[s]);
  pending_[s] = Pending{};
  const bool cancelled = ipc::word_state(h.state.load(std::memory_order_acquire)) == ipc::SlotState::kCancelled;
  if (!cancelled && rec.state) {
    std::exception_ptr error;
    try {
      std::span<const std::byte> envelope;
      const uint32_t size = h.envelope_size;
      if (h.envelope_block == 0) {
        if (size > options.slot_bytes) throw DecodeError("brine: a result claims " + std::to_string(size) + " bytes in a slot of " + std::to_string(options.slot_bytes));
        envelope = {result_data(s), size};
      } else {
        const uint32_t id = h.envelope_block - 1;
        auto it = std::find_if(rec.blocks.begin(), rec.blocks.end(), [id](const ipc::BlockHandle& b) { return b.id() == id; });
        if (it == rec.blocks.end() || size > it->size()) throw DecodeError("brine: a result envelope names an arena block its task does not hold");
        envelope = {it->data(), size};
      }
      const fb::Result& result = verify_result(envelope);
      rec.state->bytes_copied += h.result_copied;
      ResultSource source(*arena, rec.state->holds);
      Decoder d(&source, options.reducers);
      d.set_envelope(reinterpret_cast<const uint8_t*>(envelope.data()), envelope.size(), result.refs());
      rec.state->decode(result, d);
    } catch (...) {
      error = std::current_exception();
    }
    if (error) {
      rec.state->holds.clear();
      rec.state->fail(std::move(error));
      rec.state.reset();
    }
  }
  rec.blocks.clear();
  if (!cancelled) record_run_time(h.run_ns);
  batch.push_back(Settled{w, s, cancelled ? nullptr : std::move(rec.state)});
}

void PoolCore::retire(std::vector<Settled>& batch) {
  if (batch.empty()) return;
  {
    std::lock_guard lock(sched_mu_);
    for (const Settled& t : batch) unassign(t.worker, t.slot);
    pump();  // refill these workers, or let them take over work queued behind a busy one
  }
  wake_pushed();
  header->tasks_completed.fetch_add(batch.size(), std::memory_order_relaxed);
  // Counted down before the slots are released: announce_room() is what wakes shutdown(),
  // which must then see the count already lowered.
  inflight_total_.fetch_sub(batch.size(), std::memory_order_release);
  for (const Settled& t : batch) free_slot(t.slot);
  announce_room();
  // The callers may wake, drop their futures and read stats() before this thread lets go of
  // the tasks' states (and the blocks their values hold): stats() waits for completing_ to drain.
  completing_.fetch_add(1, std::memory_order_relaxed);
  for (Settled& t : batch) {
    if (t.state) t.state->finish();
  }
  batch.clear();
  completing_done();
}

void PoolCore::finish(uint32_t w, uint32_t s) {
  std::vector<Settled> one;
  settle(w, s, one);
  retire(one);
}

void PoolCore::completing_done() noexcept {
  if (completing_.fetch_sub(1, std::memory_order_release) == 1) completing_.notify_all();
}

void PoolCore::grant(uint32_t s) {
  ipc::SlotHeader& h = slot(s);
  // Whole pages, page-aligned: the worker makes exactly this block writable while its task
  // runs, and no allocator bookkeeping shares its pages (layout.h).
  const uint64_t want = h.request_size;
  ipc::BlockHandle b = want <= arena->capacity()
                           ? arena->try_allocate(align_up(std::max<uint64_t>(want, 1), ipc::kPageSize), ipc::kPageSize)
                           : ipc::BlockHandle();
  uint32_t answer = 2;
  if (b) {
    h.grant_block = b.id();
    h.grant_generation = arena->blocks()[b.id()].generation.load(std::memory_order_relaxed);
    pending_[s].blocks.push_back(std::move(b));
    answer = 1;
  }
  h.grant.store(answer, std::memory_order_release);
  ipc::futex_wake_all(&h.grant);
}

void PoolCore::fail_slot(uint32_t w, uint32_t s, std::exception_ptr error) {
  Pending rec = std::move(pending_[s]);
  pending_[s] = Pending{};
  rec.blocks.clear();
  {
    std::lock_guard lock(sched_mu_);
    unassign(w, s);
    pump();
  }
  wake_pushed();
  inflight_total_.fetch_sub(1, std::memory_order_release);  // before the wake (see finish)
  release_slot(s);
  completing_.fetch_add(1, std::memory_order_relaxed);  // as in finish()
  if (rec.state && !rec.state->done()) rec.state->fail(std::move(error));
  rec = Pending{};
  completing_done();
}

std::string PoolCore::broken_message() const {
  return "brine: the pool is broken: " + broken_reason_ + "; use a new pool (brine::reusable_pool makes one)";
}

BrokenPool PoolCore::broken_error() const { return BrokenPool(broken_message()); }

void PoolCore::break_pool(const std::string& why) {
  if (broken_.load(std::memory_order_acquire)) return;
  broken_reason_ = why;
  broken_.store(true, std::memory_order_release);
  announce_room();  // submitters waiting for room see it
}

void PoolCore::handle_death(uint32_t w) {
  WorkerEntry& e = *workers_[w];
  e.dead.store(false, std::memory_order_release);
  uint64_t m = 0;
  // A ring holding more than its capacity was garbled by the worker: nothing in it is trusted.
  const bool garbled = e.complete.size() > e.complete.capacity();
  {
    std::vector<Settled> delivered;  // results it delivered before dying, retired before the scan below
    while (!garbled && e.complete.try_pop(m)) handle_message(w, m, delivered);
    retire(delivered);
  }

  const auto reason = ipc::ExitReason(e.control->exit_reason.load(std::memory_order_acquire));
  // A worker only exits on purpose between tasks, so a task still marked running when its
  // worker died was cut short — even by exit(0) inside the task.
  if (reason == ipc::ExitReason::kInitFailed) {
    break_pool(std::string(e.control->init_error, strnlen(e.control->init_error, sizeof e.control->init_error)) +
               " (worker " + std::to_string(w) + ", pid " + std::to_string(e.pid) + ")");
  }
  const bool stopping = stopping_.load(std::memory_order_acquire);
  const std::string how = describe_exit(e.wait_status) + (garbled ? " after corrupting its completion ring" : "");
  const uint32_t timed_out = e.timed_out_slot.exchange(kNoWorker);
  const bool killed_by_shutdown = e.killed_by_shutdown.exchange(false);
  struct Requeue {
    uint64_t task_id;
    uint32_t slot;
  };
  std::vector<Requeue> requeue;
  bool cut_short = false;  // a task of this worker was running when it died
  std::vector<uint32_t> claimed;  // tasks it claimed (or that were cancelled while it held them)
  {
    std::lock_guard lock(sched_mu_);
    // Nobody pushes to it any more (it is not alive); a task it never claimed goes back to the
    // backlog (invariant 3), taken off its list here so that nothing else can find it twice.
    for (auto it = e.assigned.begin(); it != e.assigned.end();) {
      const uint32_t s = *it;
      if (ipc::word_state(slot(s).state.load(std::memory_order_acquire)) == ipc::SlotState::kQueued && !stopping &&
          !broken()) {
        slot_owner_[s].store(kNoWorker, std::memory_order_release);
        requeue.push_back({slot(s).task_id, s});
        it = e.assigned.erase(it);
        --assigned_total_;
      } else {
        claimed.push_back(s);
        ++it;
      }
    }
    e.submit.reset();
  }
  for (const uint32_t s : claimed) {
    ipc::SlotHeader& h = slot(s);
    const auto st = ipc::word_state(h.state.load(std::memory_order_acquire));
    const std::string fn = pending_[s].fn != nullptr ? pending_[s].fn->name : "?";
    if (st == ipc::SlotState::kDone || st == ipc::SlotState::kCancelled) {
      finish(w, s);  // its result (or cancellation) was written; only the message was lost
    } else if (broken()) {
      fail_slot(w, s, error_ptr<BrokenPool>(broken_message()));
    } else if (st == ipc::SlotState::kQueued) {
      fail_slot(w, s, error_ptr<PoolClosed>("brine: the pool shut down before '" + fn + "' ran"));
    } else if (killed_by_shutdown && shutdown_timed_out_after_.count() != 0) {
      cut_short = true;
      fail_slot(w, s, error_ptr<PoolClosed>(
                          "brine: the pool's shutdown timeout of " + std::to_string(shutdown_timed_out_after_.count()) +
                          " ms passed while '" + fn + "' (task " + std::to_string(h.task_id) + ") still ran; its worker (pid " +
                          std::to_string(e.pid) + ") was killed. Bound such tasks with PoolOptions::task_timeout, or give "
                          "shutdown (or PoolOptions::shutdown_timeout) more time"));
    } else if (killed_by_shutdown) {
      cut_short = true;
      fail_slot(w, s, error_ptr<PoolClosed>(
                          "brine: the pool was shut down without waiting while '" + fn + "' (task " +
                          std::to_string(h.task_id) + ") ran; its worker was stopped"));
    } else if (s == timed_out) {
      cut_short = true;
      fail_slot(w, s, error_ptr<TimeoutError>(
                          "brine: '" + fn + "' (task " + std::to_string(h.task_id) + ") ran past its timeout of " +
                          std::to_string(h.timeout_ns.load() / 1'000'000) + " ms; its worker (pid " + std::to_string(e.pid) +
                          ") was killed and replaced"));
    } else {
      cut_short = true;
      header->workers_crashed.fetch_add(1, std::memory_order_relaxed);
      fail_slot(w, s, error_ptr<WorkerCrashed>(
                          "brine: worker " + std::to_string(w) + " (pid " + std::to_string(e.pid) + ") " + how +
                          " while running '" + fn + "' (task " + std::to_string(h.task_id) +
                          "); the pool replaced the worker. If it was killed by signal 9 and nobody sent it, "
                          "check `dmesg` for the OOM killer"));
    }
  }
  if (reason == ipc::ExitReason::kMemory) header->workers_recycled.fetch_add(1, std::memory_order_relaxed);
  if (reason == ipc::ExitReason::kNone && !cut_short && !killed_by_shutdown && timed_out == kNoWorker && !stopping) {
    // Died between tasks (killed from outside, OOM), or with prefetched tasks it never claimed
    // (requeued above): nothing failed, but it is counted.
    header->idle_workers_crashed.fetch_add(1, std::memory_order_relaxed);
  }
  e.complete.reset();
  e.control->current_slot.store(0, std::memory_order_relaxed);
  e.control->state.store(uint32_t(ipc::WorkerState::kExited), std::memory_order_relaxed);
  e.control->exit_reason.store(uint32_t(ipc::ExitReason::kNone), std::memory_order_relaxed);

  const bool wanted = !stopping && !broken() && w < target_workers_.load(std::memory_order_acquire);
  e.retiring.store(false, std::memory_order_release);
  // An idle exit parks the worker (restarted by the next submit that needs it) unless tasks
  // already wait in the backlog: a submit that queued one before the park saw nothing to restart.
  bool park = false;
  if (wanted && reason == ipc::ExitReason::kIdle && requeue.empty()) {
    std::lock_guard lock(sched_mu_);
    park = backlog_.empty();
    if (park) e.parked.store(true, std::memory_order_release);
  }
  if (park) {
    // A submitter may already be waiting for a worker (it saw this one dead before it was
    // parked): wake it, so that it sees the parked worker and restarts it.
    announce_room();
  } else if (wanted) {
    request_monitor(w);
  }
  // Tasks it never started go first in the backlog, in submission order, to run on another
  // worker or on its replacement.
  std::sort(requeue.begin(), requeue.end(), [](const Requeue& a, const Requeue& b) { return a.task_id > b.task_id; });
  std::vector<uint32_t> orphans;  // a broken pool runs nothing more: what waits fails
  {
    std::lock_guard lock(sched_mu_);
    for (const Requeue& r : requeue) backlog_.push_front(r.slot);
    if (broken()) {
      orphans.assign(backlog_.begin(), backlog_.end());
      backlog_.clear();
    } else {
      pump();
    }
  }
  wake_pushed();
  for (const uint32_t s : orphans) fail_slot(kNoWorker, s, error_ptr<BrokenPool>(broken_message()));
}

// ---- the monitor: starting, reaping, deadlines -----------------------------------------------

void PoolCore::request_monitor(uint32_t respawn_worker) {
  if (respawn_worker != kNoWorker) {
    std::lock_guard lock(monitor_mu_);
    respawn_.push_back(respawn_worker);
  }
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t r = write(control_fd_, &one, sizeof one);
}

void PoolCore::start_worker(uint32_t w) {
  WorkerEntry& e = *workers_[w];
  e.control->state.store(uint32_t(ipc::WorkerState::kStarting), std::memory_order_relaxed);
  e.control->exit_reason.store(uint32_t(ipc::ExitReason::kNone), std::memory_order_relaxed);
  e.started_ns = ipc::monotonic_ns();
  e.killed_at_start = false;
  pid_t pid = -1;
  switch (options.start_method) {
    case StartMethod::kFork:
      pid = fork();
      if (pid == 0) WorkerProcess::run(segment.base(), header, w, options.reducers, parent_pid_);
      break;
    case StartMethod::kForkServer:
      pid = fork_server_->spawn(w);
      break;
    case StartMethod::kSpawn:
      pid = spawn_worker(segment.fd(), w, options.worker_command);
      break;
  }
  if (pid < 0) throw SegmentError(std::string("brine: could not start a worker: ") + std::strerror(errno));
  e.pid = pid;
  e.pidfd = pidfd_open(pid);
  // A fork server reaps its children itself: a worker that died at once (its initializer
  // failed) may be gone before we open its pidfd. The server's report of its exit is what
  // reap() reads, so it is reaped below, as if its pidfd had fired.
  const bool already_gone = e.pidfd < 0 && errno == ESRCH && options.start_method == StartMethod::kForkServer;
  if (e.pidfd < 0 && !already_gone) {
    throw SegmentError(std::string("brine: pidfd_open failed: ") + std::strerror(errno));
  }
  e.control->pid.store(pid, std::memory_order_relaxed);
  header->live_workers.fetch_add(1, std::memory_order_relaxed);
  {
    // Under sched_mu_, as shutdown() looks at each worker: a worker that came alive after
    // shutdown() passed it (a respawn racing the shutdown) is stopped here, not left serving
    // forever while the monitor waits for it to exit.
    std::lock_guard lock(sched_mu_);
    e.alive.store(true, std::memory_order_release);
    if (stopping_.load(std::memory_order_acquire)) {
      if (!e.submit.push_and_notify(ipc::make_message(ipc::Message::kStop, 0))) kill(pid, SIGKILL);
    } else {
      pump();  // the backlog, and work prefetched by busy workers, is its to take
    }
  }
  wake_pushed();
  announce_room();  // wake submitters waiting for a worker
  if (already_gone) reap(w);
}

void PoolCore::reap(uint32_t w) {
  WorkerEntry& e = *workers_[w];
  int status = 0;
  if (options.start_method == StartMethod::kForkServer) {
    status = fork_server_->exit_status(e.pid);
  } else {
    while (waitpid(e.pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (e.pidfd >= 0) close(e.pidfd);
  e.pidfd = -1;
  e.wait_status = status;
  header->live_workers.fetch_sub(1, std::memory_order_relaxed);
  e.alive.store(false, std::memory_order_release);
  e.dead.store(true, std::memory_order_release);
  deaths_.store(true, std::memory_order_release);
  header->doorbell.wake();
  header->collector_bell.wake();  // a napping collector handles the death if nobody collects
  announce_room();  // a bounded shutdown waits for reaping here
}

// Kills the worker of every task running past its deadline; the collector then fails that
// task with TimeoutError and the worker is replaced.
void PoolCore::check_timeouts() {
  const uint64_t now = ipc::monotonic_ns();
  for (auto& e : workers_) {
    if (!e->alive.load(std::memory_order_acquire)) continue;
    const uint32_t current = e->control->current_slot.load(std::memory_order_acquire);
    if (current == 0 || current > options.slot_count) continue;
    const ipc::SlotHeader& h = slot(current - 1);
    const uint64_t started = e->control->task_started_ns.load(std::memory_order_relaxed);
    const uint64_t limit = h.timeout_ns.load(std::memory_order_relaxed);
    if (limit != 0 && now > started + limit && e->timed_out_slot.load() == kNoWorker) {
      e->timed_out_slot.store(current - 1);
      kill(e->pid, SIGKILL);
    }
  }
}

bool PoolCore::check_starts() {
  const uint64_t limit = static_cast<uint64_t>(std::chrono::nanoseconds(options.start_timeout).count());
  if (limit == 0) return false;
  const uint64_t now = ipc::monotonic_ns();
  bool starting = false;
  for (auto& e : workers_) {
    if (e->pidfd < 0 || e->control->state.load(std::memory_order_acquire) != uint32_t(ipc::WorkerState::kStarting)) {
      continue;
    }
    starting = true;
    if (!e->killed_at_start && now > e->started_ns + limit) {
      e->killed_at_start = true;
      kill(e->pid, SIGKILL);  // reaped through its pidfd, then replaced
    }
  }
  return starting;
}

void PoolCore::monitor_loop() {
  try {
    if (options.start_method == StartMethod::kForkServer) {
      fork_server_ = std::make_unique<ForkServer>([this](uint32_t w, pid_t server) {
        WorkerProcess::run(segment.base(), header, w, options.reducers, server);
      });
    }
    for (uint32_t w = 0; w < options.workers; ++w) start_worker(w);
  } catch (...) {
    spawn_error_ = std::current_exception();
  }
  {
    std::lock_guard lock(spawned_mu_);
    initial_spawn_done_ = true;
  }
  spawned_cv_.notify_all();

  std::vector<pollfd> fds;
  std::vector<uint32_t> who;
  for (;;) {
    fds.assign(1, pollfd{control_fd_, POLLIN, 0});
    who.assign(1, kNoWorker);
    for (uint32_t w = 0; w < workers_.size(); ++w) {
      if (workers_[w]->pidfd >= 0) {
        fds.push_back(pollfd{workers_[w]->pidfd, POLLIN, 0});
        who.push_back(w);
      }
    }
    if (fds.size() == 1 && stopping_.load(std::memory_order_acquire)) break;
    // Deadlines are checked every 5 ms while a task with a timeout is in flight, starts every
    // 100 ms while a worker is starting.
    const bool timed = timed_inflight_.load(std::memory_order_relaxed) != 0;
    const bool starting = check_starts();
    const int tick = timed ? 5 : starting ? 100 : -1;
    if (poll(fds.data(), fds.size(), tick) < 0) continue;
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents != 0) reap(who[i]);
    }
    if (timed) check_timeouts();
    if (fds[0].revents != 0) {
      uint64_t count = 0;
      [[maybe_unused]] ssize_t r = read(control_fd_, &count, sizeof count);
      std::deque<uint32_t> todo;
      {
        std::lock_guard lock(monitor_mu_);
        todo.swap(respawn_);
      }
      for (uint32_t w : todo) {
        if (stopping_.load(std::memory_order_acquire) || broken()) break;
        if (workers_[w]->alive.load() || workers_[w]->pidfd >= 0) continue;
        try {
          start_worker(w);
        } catch (...) {
          // Out of processes or memory: the next request tries again.
        }
      }
    }
  }
  fork_server_.reset();
}

// ---- resize, shutdown -----------------------------------------------------------------------

void PoolCore::resize(unsigned n) {
  if (n == 0 || n > options.max_workers) {
    throw std::invalid_argument("brine: resize(" + std::to_string(n) + ") outside 1.." +
                                std::to_string(options.max_workers) + " (PoolOptions::max_workers)");
  }
  if (closing_.load()) throw PoolClosed("brine: resize after the pool was shut down");
  const unsigned old = target_workers_.exchange(n);
  for (uint32_t w = old; w < n; ++w) {
    workers_[w]->retiring.store(false);
    workers_[w]->parked.store(false);
    request_monitor(w);
  }
  for (uint32_t w = n; w < old; ++w) {
    WorkerEntry& e = *workers_[w];
    e.parked.store(false);
    std::lock_guard lock(sched_mu_);
    e.retiring.store(true, std::memory_order_release);  // no new tasks; the queued ones finish
    if (e.alive.load()) {
      while (!e.submit.push_and_notify(ipc::make_message(ipc::Message::kStop, 0))) std::this_thread::yield();
    }
  }
}

bool PoolCore::shutdown(bool wait, bool cancel_futures, std::chrono::milliseconds timeout) {
  std::lock_guard guard(shutdown_mu_);
  if (shut_down_) return true;
  shut_down_ = true;
  closing_.store(true, std::memory_order_release);
  if (cancel_futures) {
    for (uint32_t s = 0; s < options.slot_count; ++s) {
      ipc::SlotHeader& h = slot(s);
      uint64_t word = h.state.load(std::memory_order_acquire);
      bool cancelled = false;
      while (ipc::word_state(word) == ipc::SlotState::kQueued && !cancelled) {
        cancelled = h.state.compare_exchange_weak(word, ipc::slot_word(ipc::word_ticket(word), ipc::SlotState::kCancelled));
      }
      if (cancelled) {
        std::lock_guard lock(drain_hook_->mu);  // pending_ is the collector's
        if (pending_[s].state) {
          pending_[s].state->fail(error_ptr<Cancelled>("brine: cancelled by shutdown(cancel_futures)"));
        }
      }
    }
  }
  using Clock = std::chrono::steady_clock;
  const bool bounded = wait && timeout != std::chrono::milliseconds::max();
  const Clock::time_point deadline = bounded ? Clock::now() + timeout : Clock::time_point::max();
  std::optional<Alarm> alarm;  // wakes the waits below at the deadline
  if (bounded) alarm.emplace(deadline, slots_released_);
  // Waits on slots_released_ (bumped by every finished task and every reaped worker) until
  // done() or the deadline; false at the deadline.
  auto wait_until = [&](auto&& done) {
    for (;;) {
      const uint32_t seen = slots_released_.load(std::memory_order_acquire);
      if (done()) return true;
      if (Clock::now() >= deadline) return false;
      slots_released_.wait(seen);
    }
  };
  bool in_time = true;
  header->collector_bell.wake();  // it drains what nobody waits for (a lone task's result)
  if (wait && !broken()) {
    // Queued tasks run first: the stop message goes behind them in each ring.
    in_time = wait_until([this] { return inflight_total_.load(std::memory_order_acquire) == 0 || broken(); });
  }
  if (!in_time) shutdown_timed_out_after_ = timeout;  // read by handle_death for the message
  stopping_.store(true, std::memory_order_release);
  auto kill_worker = [](WorkerEntry& w) {
    w.killed_by_shutdown.store(true);
    kill(w.pid, SIGKILL);
  };
  for (auto& w : workers_) {
    std::lock_guard lock(sched_mu_);
    if (!w->alive.load(std::memory_order_acquire)) continue;
    if (!wait || broken() || !in_time || !w->submit.push_and_notify(ipc::make_message(ipc::Message::kStop, 0))) {
      kill_worker(*w);
    }
  }
  if (bounded && in_time) {
    // Told to stop, each worker leaves at once; one that does not (stuck outside any task, in
    // its initializer) is killed at the deadline too.
    const bool all_left = wait_until([this] {
      return std::none_of(workers_.begin(), workers_.end(), [](const auto& w) { return w->alive.load(); });
    });
    if (!all_left) {  // no task is cut short here: every one had finished
      shutdown_timed_out_after_ = timeout;
      for (auto& w : workers_) {
        std::lock_guard lock(sched_mu_);
        if (w->alive.load(std::memory_order_acquire)) kill_worker(*w);
      }
    }
  }
  alarm.reset();
  request_monitor(kNoWorker);
  if (monitor_.joinable()) monitor_.join();
  header->doorbell.wake();
  header->collector_bell.wake();  // a collector napping while a waiter collected
  if (collector_.joinable()) collector_.join();
  {
    std::lock_guard lock(drain_hook_->mu);
    drain_hook_->drain = nullptr;  // futures outliving the pool no longer reach into it
  }
  // Threads asleep on the doorbell (Future::wait) leave before the segment goes: every pending
  // future is failed below and each completion wakes them; closing the hook lets them out.
  {
    std::lock_guard lock(sched_mu_);
    backlog_.clear();
    for (auto& w : workers_) {
      w->assigned.clear();
      w->stalled_slot = kNoSlot;
    }
    assigned_total_ = 0;
  }
  // Anything still pending (shutdown without wait) fails now.
  for (uint32_t s = 0; s < options.slot_count; ++s) {
    if (pending_[s].state) {
      pending_[s].state->fail(error_ptr<PoolClosed>("brine: the pool shut down before the task finished"));
    }
    pending_[s] = Pending{};
  }
  drain_hook_->open.store(false, std::memory_order_seq_cst);
  while (drain_hook_->collectors.load(std::memory_order_seq_cst) > collecting_on_this_thread()) {
    header->doorbell.wake();
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  if (control_fd_ >= 0) close(control_fd_);
  control_fd_ = -1;
  return in_time;
}

std::vector<pid_t> PoolCore::worker_pids() const {
  std::vector<pid_t> out;
  for (auto& w : workers_) {
    if (w->alive.load(std::memory_order_acquire)) out.push_back(w->pid);
  }
  return out;
}

PoolStats PoolCore::stats() const {
  // Consistent with every ready future: a completion in progress on another thread (the
  // collector between completing a future and dropping its own reference to the task) finishes
  // first. Not on the completing thread itself (a done-callback reading stats).
  if (tls_drain_depth == 0) {
    for (uint32_t c; (c = completing_.load(std::memory_order_acquire)) != 0;) completing_.wait(c, std::memory_order_acquire);
  }
  PoolStats s;
  // Completed first: both only grow, so a snapshot never shows more completed than submitted
  // (submitted - completed, the tasks in flight, cannot wrap below zero).
  s.completed = header->tasks_completed.load();
  s.submitted = header->tasks_submitted.load();
  s.workers_crashed = header->workers_crashed.load();
  s.idle_workers_crashed = header->idle_workers_crashed.load();
  s.workers_recycled_for_memory = header->workers_recycled.load();
  s.tasks_moved = tasks_stolen_.load();
  s.arena_used = arena->used();
  s.arena_capacity = arena->capacity();
  s.arena_blocks = arena->live_blocks();
  return s;
}

}  // namespace detail

// ---- Pool -----------------------------------------------------------------------------------

Pool::Pool(PoolOptions options) {
  run_if_worker();  // a spawned worker whose main() did not call it serves here
  core_ = std::make_unique<detail::PoolCore>(options);
}
Pool::~Pool() = default;

void Pool::submit_encoded(const std::shared_ptr<detail::TaskStateBase>& state, const FunctionInfo& info,
                          const EncodeArgs& encode, const SubmitOptions& opts) {
  core_->submit(state, info, encode, opts);
}

std::size_t Pool::map_window() const noexcept {
  return std::max<std::size_t>(2, std::size_t{options().ring_capacity} * std::max(1u, size()));
}

std::size_t Pool::default_chunksize(std::size_t n, bool vectorized) const noexcept {
  // Python's rule (n / 4 per worker) keeps every worker busy with a few chunks each. A chunk
  // of values (one table per call) is capped so envelopes stay small enough to pipeline; a
  // vectorized chunk is two arrays and is not (bench/: BM_PoolMap).
  const std::size_t per = n / (std::size_t{4} * size());
  return std::clamp<std::size_t>(per, 1, vectorized ? std::size_t{1} << 14 : 4096);
}

unsigned Pool::size() const noexcept { return core_->target_workers(); }
bool Pool::closed() const noexcept { return core_->closed(); }
const PoolOptions& Pool::requested_options() const noexcept { return core_->requested; }
void Pool::resize(unsigned n) { core_->resize(n); }
bool Pool::broken() const noexcept { return core_->broken(); }
std::vector<pid_t> Pool::worker_pids() const { return core_->worker_pids(); }
PoolStats Pool::stats() const { return core_->stats(); }
const PoolOptions& Pool::options() const noexcept { return core_->options; }
ipc::Arena& Pool::arena() noexcept { return *core_->arena; }
void Pool::shutdown(bool wait, bool cancel_futures) { core_->shutdown(wait, cancel_futures); }
bool Pool::shutdown(std::chrono::milliseconds timeout, bool cancel_futures) {
  return core_->shutdown(true, cancel_futures, timeout.count() >= 0 ? timeout : std::chrono::milliseconds(0));
}

std::shared_ptr<Pool> reusable_pool(const PoolOptions& options) {
  static std::mutex mu;
  static std::shared_ptr<Pool> pool;
  std::lock_guard lock(mu);
  if (pool && !pool->broken() && !pool->closed() && pool->requested_options() == options) return pool;
  if (pool) {
    // Its queued tasks finish first, within its shutdown_timeout (as its destructor would).
    const auto bound = pool->options().shutdown_timeout;
    if (pool->broken()) {
      pool->shutdown(false);
    } else if (bound.count() > 0) {
      pool->shutdown(bound);
    } else {
      pool->shutdown(true);
    }
  }
  pool = std::make_shared<Pool>(options);
  return pool;
}

}  // namespace brine
