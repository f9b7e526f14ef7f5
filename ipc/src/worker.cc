#include "worker.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <utility>
#include <vector>

#include "brine/core/call.h"
#include "brine/ipc/arena.h"
#include "brine/ipc/shared_vector.h"

namespace brine::detail {

namespace {

class Worker;
thread_local Worker* tls_worker = nullptr;  // the worker this process is, while it serves

// A worker's view of the pool: what it reads and the few things it writes.
class Worker final : public BufferSink {
 public:
  // `is_protected`: the segment is mapped read-only here but for this worker's own regions
  // (protect_for_worker), so blocks granted to a task must be opened for writing.
  Worker(std::byte* base, ipc::SegmentHeader* header, uint32_t index, const ReducerTable* reducers, bool is_protected)
      : base_(base),
        header_(*header),
        config_(header->config),
        reducers_(reducers),
        view_(base, header),
        control_(reinterpret_cast<ipc::WorkerControl*>(base + header->workers_offset)[index]),
        submit_(ipc::SpscRing::attach(base + control_.submit_ring)),
        complete_(ipc::SpscRing::attach(base + control_.complete_ring)),
        fbb_(4096),
        protected_(is_protected) {}

  [[noreturn]] void serve() {
    tls_worker = this;
    control_.pid.store(getpid(), std::memory_order_relaxed);
    control_.state.store(uint32_t(ipc::WorkerState::kInitializing), std::memory_order_release);
    run_initializer();
    if (config_.max_rss != 0) {
      rss_baseline_ = private_resident_bytes();
      control_.rss_bytes.store(rss_baseline_, std::memory_order_relaxed);
    }
    const ipc::WaitPolicy policy{.spin_ns = config_.spin_ns, .sleep = config_.sleep != 0, .max_spin_ns = config_.max_spin_ns};
    const auto idle = config_.idle_timeout_ns != 0 ? std::chrono::nanoseconds(config_.idle_timeout_ns)
                                                   : std::chrono::nanoseconds::max();
    uint64_t done = 0;
    for (;;) {
      uint64_t m = 0;
      if (!submit_.try_pop(m)) {
        control_.state.store(uint32_t(ipc::WorkerState::kIdle), std::memory_order_relaxed);
        if (!submit_.consumer_wake().wait([this] { return !submit_.empty(); }, policy, idle, &learner_)) {
          exit_with(ipc::ExitReason::kIdle, kWorkerExitOk);
        }
        continue;
      }
      if (ipc::message_kind(m) == ipc::Message::kStop) exit_with(ipc::ExitReason::kStopped, kWorkerExitOk);
      if (ipc::message_kind(m) == ipc::Message::kTask && ipc::message_arg(m) < header_.slot_count &&
          take(ipc::message_arg(m), ipc::message_ticket(m))) {
        if (config_.max_tasks != 0 && ++done >= config_.max_tasks) exit_with(ipc::ExitReason::kRetired, kWorkerExitOk);
        if (config_.max_rss != 0) check_memory();
      }
    }
  }

  // BufferSink for results: a buffer already in the arena (e.g. a view of an argument) is
  // referenced as is; a new one goes into a block the parent grants.
  std::optional<fb::BufferRef> locate(const void* data, std::size_t size) override { return view_.locate(data, size); }
  fb::BufferRef place(const void* data, std::size_t size, std::size_t /*align*/) override {
    std::byte* dst = request_block(size);
    if (dst == nullptr) {
      throw ArenaExhausted("brine: the worker's result needs " + std::to_string(size) +
                           " bytes of shared arena and the parent could not grant them; raise "
                           "PoolOptions::arena_bytes or return less data");
    }
    populate_for_write(dst, size);
    if (size != 0) std::memcpy(dst, data, size);
    return fb::BufferRef(slot_->grant_block, slot_->grant_generation, 0, size);
  }

  // Arena bytes for the running task (this_worker::allocate).
  std::span<std::byte> allocate(std::size_t size) {
    if (slot_ == nullptr) throw Error(ErrorCode::kUnknown, "brine::this_worker::allocate outside a running task");
    std::byte* p = request_block(size);
    if (p == nullptr) {
      throw ArenaExhausted("brine: this_worker::allocate(" + std::to_string(size) +
                           ") was refused: the shared arena is full; raise PoolOptions::arena_bytes");
    }
    return {p, size};
  }

 private:
  [[noreturn]] void exit_with(ipc::ExitReason reason, int code) {
    control_.exit_reason.store(uint32_t(reason), std::memory_order_release);
    control_.state.store(uint32_t(ipc::WorkerState::kExited), std::memory_order_release);
    _exit(code);
  }

  // Private resident memory (RssAnon): resident minus shared pages, so the pool's segment and
  // mapped files do not count.
  static uint64_t private_resident_bytes() noexcept {
    const int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[128];
    const ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    unsigned long long size = 0, resident = 0, shared = 0;
    if (std::sscanf(buf, "%llu %llu %llu", &size, &resident, &shared) != 3 || shared > resident) return 0;
    return (resident - shared) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  }

  // loky's leak guard: a worker that grew past PoolOptions::max_worker_rss leaves between tasks;
  // the parent requeues what was queued to it and starts a replacement.
  void check_memory() {
    const uint64_t rss = private_resident_bytes();
    control_.rss_bytes.store(rss, std::memory_order_relaxed);
    if (rss > rss_baseline_ && rss - rss_baseline_ > config_.max_rss) exit_with(ipc::ExitReason::kMemory, kWorkerExitOk);
  }

  void run_initializer() {
    if (config_.initializer_id == 0) return;
    const FunctionInfo* init = FunctionRegistry::global().find(config_.initializer_id);
    std::string error;
    if (init == nullptr) {
      error = "the initializer is not registered in the worker's binary";
    } else {
      try {
        flatbuffers::FlatBufferBuilder fbb;
        Encoder e(fbb);
        fb::Phase phase = fb::Phase::Run;
        init->invoke(CallFrame{}, Decoder(), e, phase);
        return;
      } catch (...) {
        error = "the initializer '" + init->name + "' threw " + current_exception_type() + ": " +
                current_exception_message();
      }
    }
    std::strncpy(control_.init_error, error.c_str(), sizeof control_.init_error - 1);
    exit_with(ipc::ExitReason::kInitFailed, kWorkerExitInitFailed);
  }

  ipc::SlotHeader& slot_header(uint32_t s) const {
    return *reinterpret_cast<ipc::SlotHeader*>(base_ + header_.slots_offset + std::size_t{s} * header_.slot_size);
  }

  // Asks the parent for an arena block of `size` bytes for the current slot and waits for the
  // answer. Returns its address, or nullptr if refused.
  std::byte* request_block(std::size_t size) {
    slot_->request_size = size;
    slot_->grant.store(0, std::memory_order_relaxed);
    push_completion(ipc::make_message(ipc::Message::kAllocRequest, slot_index_));
    uint32_t g;
    while ((g = slot_->grant.load(std::memory_order_acquire)) == 0) {
      ipc::futex_wait(&slot_->grant, 0, std::chrono::nanoseconds::max());
    }
    if (g != 1 || slot_->grant_block >= header_.max_blocks) return nullptr;
    const ipc::BlockDesc& b = view_.blocks()[slot_->grant_block];
    if (b.size < size) return nullptr;
    std::byte* p = base_ + b.offset;
    if (protected_ && !make_writable(p, b.size)) return nullptr;
    return p;
  }

  // Opens a granted block (whole pages) for writing until the task ends.
  bool make_writable(std::byte* p, std::size_t size) {
    if (reinterpret_cast<uintptr_t>(p) % ipc::kPageSize != 0 || size % ipc::kPageSize != 0) return false;
    if (mprotect(p, size, PROT_READ | PROT_WRITE) != 0) return false;
    writable_.push_back({p, size});
    return true;
  }

  // Populates the pages of a granted block before the copy (issue 13). Mapped read-only but
  // for its granted blocks (issue 17), a protected worker populates exactly the block's pages:
  // the view's 2 MiB chunks would reach read-only pages, where MADV_POPULATE_WRITE fails.
  void populate_for_write(std::byte* dst, std::size_t size) noexcept {
    if (!protected_) {
      view_.populate(dst, size, true);
      return;
    }
#ifdef MADV_POPULATE_WRITE
    if (size < ipc::ArenaView::kPopulateMinBytes) return;
    const std::size_t bytes = (size + ipc::kPageSize - 1) / ipc::kPageSize * ipc::kPageSize;
    (void)madvise(dst, bytes, MADV_POPULATE_WRITE);  // on failure the pages fault in as they are touched
#endif
  }

  void release_writable() noexcept {
    for (const auto& [p, size] : writable_) mprotect(p, size, PROT_READ);
    writable_.clear();
  }

  void push_completion(uint64_t m) {
    while (!complete_.try_push(m)) {
      complete_.producer_wake().wait([this] { return complete_.size() < complete_.capacity(); }, ipc::WaitPolicy{.spin_ns = 2000});
    }
    header_.doorbell.notify();
    header_.collector_bell.ring_if_wanted();
  }

  std::span<const std::byte> task_envelope(const ipc::SlotHeader& h) const {
    const std::size_t size = h.envelope_size;
    if (h.envelope_block == 0) {
      if (size > header_.slot_bytes) throw DecodeError("brine: a task envelope overflows its slot");
      return {base_ + header_.task_data_offset + std::size_t{slot_index_} * header_.slot_bytes, size};
    }
    const uint32_t id = h.envelope_block - 1;
    if (id >= header_.max_blocks) throw DecodeError("brine: a task envelope names a block outside the table");
    const ipc::BlockDesc& b = view_.blocks()[id];
    return view_.resolve(fb::BufferRef(id, b.generation.load(std::memory_order_acquire), 0, size));
  }

  // Claims the task of slot `s` with the ticket its message carried and runs it. The claim is
  // the CAS (ticket, kQueued) -> (ticket, kRunning): before it the task is the parent's to move
  // or requeue, after it this worker's to finish (or fail by dying). Returns true if it ran.
  bool take(uint32_t s, uint32_t ticket) {
    ipc::SlotHeader& h = slot_header(s);
    if (stop_before_claim_ != 0 && --stop_before_claim_ == 0) raise(SIGSTOP);  // test hook, see below
    uint64_t expected = ipc::slot_word(ticket, ipc::SlotState::kQueued);
    if (!h.state.compare_exchange_strong(expected, ipc::slot_word(ticket, ipc::SlotState::kRunning),
                                         std::memory_order_acq_rel)) {
      // Cancelled while still ours: hand the slot back. Any other ticket: the parent gave the
      // task to another worker (or the slot to another task); this message is stale.
      if (expected == ipc::slot_word(ticket, ipc::SlotState::kCancelled)) {
        push_completion(ipc::make_message(ipc::Message::kDone, s));
      }
      return false;
    }
    if (stop_after_claim_ != 0 && --stop_after_claim_ == 0) raise(SIGSTOP);
    run(h, s, ticket);
    return true;
  }

  void run(ipc::SlotHeader& h, uint32_t s, uint32_t ticket) {
    slot_ = &h;
    slot_index_ = s;
    const uint64_t start = ipc::monotonic_ns();
    control_.task_started_ns.store(start, std::memory_order_relaxed);
    control_.current_slot.store(s + 1, std::memory_order_release);
    control_.state.store(uint32_t(ipc::WorkerState::kBusy), std::memory_order_relaxed);

    fbb_.Clear();
    Encoder e(fbb_, {config_.reference_threshold, this, reducers_});
    Decoder d(&view_, reducers_);
    // The call's decoded arguments and its returned value outlive the call until the result is
    // delivered: a destructor that crashes then takes down this worker, not the task.
    std::vector<std::shared_ptr<void>> keep;
    ResultParts result;
    try {
      const std::span<const std::byte> envelope = task_envelope(h);
      const fb::Task& task = verify_task(envelope);
      d.set_envelope(reinterpret_cast<const uint8_t*>(envelope.data()), envelope.size(), task.refs());
      result = run_task(task, FunctionRegistry::global(), d, e, &keep);
    } catch (const Error& err) {
      result = encode_error(e, h.task_id, fb::Phase::DecodeTask, err.code(), current_exception_type(), err.what(), "worker");
    } catch (...) {
      result = encode_error(e, h.task_id, fb::Phase::DecodeTask, ErrorCode::kUnknown, current_exception_type(),
                            current_exception_message(), "worker");
    }
    finish_result(e, result);
    write_result(h);
    h.result_copied = e.bytes_copied() + h.envelope_size;
    slot_ = nullptr;
    // The blocks granted to this task become read-only again before the parent hears of its
    // end: from then on they belong to the result's holders (or return to the heap, whose
    // bookkeeping lives in freed blocks).
    release_writable();

    const uint64_t ran = ipc::monotonic_ns() - start;
    h.run_ns = ran;
    control_.busy_ns.fetch_add(ran, std::memory_order_relaxed);
    control_.tasks_done.fetch_add(1, std::memory_order_relaxed);
    control_.current_slot.store(0, std::memory_order_relaxed);
    h.state.store(ipc::slot_word(ticket, ipc::SlotState::kDone), std::memory_order_release);
    push_completion(ipc::make_message(ipc::Message::kDone, s));
    keep.clear();
  }

  void write_result(ipc::SlotHeader& h) {
    std::size_t n = fbb_.GetSize();
    const std::size_t inline_capacity = header_.slot_bytes;
    std::byte* const inline_result = base_ + header_.result_data_offset + std::size_t{slot_index_} * header_.slot_bytes;
    std::byte* dst = inline_result;
    h.envelope_block = 0;
    if (n > inline_capacity) {
      dst = request_block(n);
      if (dst != nullptr) {
        h.envelope_block = slot_->grant_block + 1;
      } else {
        fbb_.Clear();
        Encoder e(fbb_);
        finish_result(e, encode_error(e, h.task_id, fb::Phase::EncodeResult, ErrorCode::kArenaExhausted,
                                      "brine::ArenaExhausted",
                                      "the result envelope of " + std::to_string(n) +
                                          " bytes did not fit the shared arena; raise PoolOptions::arena_bytes",
                                      "worker"));
        n = fbb_.GetSize();
        dst = inline_result;
      }
    }
    std::memcpy(dst, fbb_.GetBufferPointer(), n);
    h.envelope_size = static_cast<uint32_t>(n);
  }

  std::byte* base_;
  ipc::SegmentHeader& header_;
  const ipc::WorkerConfig config_;
  const ReducerTable* reducers_;
  ipc::ArenaView view_;
  ipc::WorkerControl& control_;
  ipc::SpscRing submit_;
  ipc::SpscRing complete_;
  flatbuffers::FlatBufferBuilder fbb_;
  ipc::SpinLearner learner_;  // how this worker spins for its next task
  ipc::SlotHeader* slot_ = nullptr;
  uint32_t slot_index_ = 0;
  const bool protected_;
  std::vector<std::pair<std::byte*, std::size_t>> writable_;  // granted blocks open for writing
  uint64_t rss_baseline_ = 0;  // private resident bytes when it started serving (max_rss)
  // Test hooks for the scheduler's crash tests (tests/ipc/scheduler_test.cc): the worker stops
  // itself (SIGSTOP) just before / just after claiming its n-th task message, so that a test can
  // SIGKILL it exactly there. Set from BRINE_TEST_STOP_BEFORE_CLAIM / _AFTER_CLAIM = "n" or
  // "n:token"; 0: off. With a token (a file), only the worker process that removes the file arms
  // the hook: replacements forked by a fork server (or spawned) inherit the variable too.
  uint32_t stop_before_claim_ = env_count("BRINE_TEST_STOP_BEFORE_CLAIM");
  uint32_t stop_after_claim_ = env_count("BRINE_TEST_STOP_AFTER_CLAIM");

  static uint32_t env_count(const char* name) {
    const char* v = std::getenv(name);
    if (v == nullptr) return 0;
    char* rest = nullptr;
    const auto n = static_cast<uint32_t>(std::strtoul(v, &rest, 10));
    if (rest != nullptr && *rest == ':' && unlink(rest + 1) != 0) return 0;  // another worker took it
    return n;
  }
};

// A task that calls exit(n): flush stdio and leave with n at once. The exit handlers
// registered before this one belong to the parent's image (static destructors, and a
// sanitizer's leak check over a heap that is only a copy of the parent's): they must not run
// in a worker.
void leave_now(int status, void*) {
  std::fflush(nullptr);
  _exit(status);
}

// Maps the whole segment read-only in this worker, then reopens for writing only what the
// worker writes (layout.h): the doorbell page, the slot headers, the result envelopes, its own
// WorkerControl page and its own ring pair. Arguments, other tasks' blocks, the block table,
// the free lists and the heap's bookkeeping stay read-only, so a task's stray write there
// faults in this worker alone. False if the segment is not laid out for this page size.
bool protect_for_worker(std::byte* base, const ipc::SegmentHeader& h, uint32_t w) noexcept {
  if (sysconf(_SC_PAGESIZE) != static_cast<long>(ipc::kPageSize)) return false;
  const auto writable = [base](uint64_t offset, uint64_t size) {
    return size == 0 || mprotect(base + offset, size, PROT_READ | PROT_WRITE) == 0;
  };
  if (mprotect(base, h.total_size, PROT_READ) != 0) return false;
  const bool ok = writable(offsetof(ipc::SegmentHeader, doorbell), ipc::kPageSize) &&
                  writable(h.slots_offset, h.task_data_offset - h.slots_offset) &&
                  writable(h.result_data_offset, h.workers_offset - h.result_data_offset) &&
                  writable(h.workers_offset + std::size_t{w} * sizeof(ipc::WorkerControl), sizeof(ipc::WorkerControl)) &&
                  writable(h.rings_offset + std::size_t{w} * h.ring_pair_size, h.ring_pair_size);
  if (!ok) _exit(kWorkerExitBadParent);  // half-protected: better no worker than a wrong one
  return true;
}

}  // namespace

void WorkerProcess::run(std::byte* base, ipc::SegmentHeader* header, uint32_t index, const ReducerTable* reducers,
                        int parent) {
  // Die with the parent (SIGKILL included). The parent-death signal follows the thread that
  // forked us, which brine keeps alive as long as the pool; then check for a parent that died
  // before prctl took effect.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(kWorkerExitBadParent);
  on_exit(leave_now, nullptr);
  // Ctrl-C reaches the whole process group: the parent decides, workers carry on.
  signal(SIGINT, SIG_IGN);
  if (header->config.pin != 0) {
    const unsigned ncpu = std::max(1u, std::thread::hardware_concurrency());
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(index % ncpu, &set);
    sched_setaffinity(0, sizeof set, &set);
  }
  const bool is_protected = protect_for_worker(base, *header, index);
  try {
    Worker(base, header, index, reducers, is_protected).serve();
  } catch (...) {
  }
  _exit(3);
}

}  // namespace brine::detail

namespace brine::this_worker {

std::span<std::byte> allocate(std::size_t bytes) {
  if (detail::tls_worker == nullptr) {
    throw Error(ErrorCode::kUnknown, "brine::this_worker::allocate called outside a worker process; in the parent "
                                     "use Pool::shared_vector");
  }
  return detail::tls_worker->allocate(bytes);
}

}  // namespace brine::this_worker
