// 8-byte round trips between a parent and a forked child, over each of
// brine's alternatives, in one run. Each benchmark forks its own child,
// pins both processes (to different CPUs when it can), and times the
// parent's send-then-receive loop in wall-clock time.
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#ifdef BRINE_BENCH_WITH_BOOST_INTERPROCESS
#include <boost/interprocess/ipc/message_queue.hpp>
#endif

#include "affinity.h"
#include "transport.h"

namespace brine::bench {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// --- placement --------------------------------------------------------------

struct Placement {
  std::string name;
  int parent_cpu;
  int child_cpu;
};

std::vector<Placement> placements(Wait wait) {
  const std::vector<int> cpus = allowed_cpus();
  std::vector<Placement> result;
  if (cpus.size() >= 2) result.push_back({"cross_cpu", cpus[0], cpus[1]});
  if (wait == Wait::kSleeps) result.push_back({"same_cpu", cpus[0], cpus[0]});
  return result;
}

// --- the ping-pong ----------------------------------------------------------

[[noreturn]] void echo_until_stopped(Channel& channel, int cpu) {
  int status = 0;
  try {
    pin_to(cpu);
    for (std::uint64_t m; (m = channel.to_child->receive()) != kStop;) channel.to_parent->send(m);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "transport child: %s\n", e.what());
    status = 1;
  }
  _exit(status);
}

// Lets the child get scheduled and both sides' caches warm before timing.
constexpr int kWarmUpRoundTrips = 100;

void run_ping_pong(benchmark::State& state, const std::function<Channel()>& make, const Placement& where) {
  Channel channel = make();
  ScopedPin pin(where.parent_cpu);
  const pid_t child = fork();
  if (child < 0) throw_errno("fork");
  if (child == 0) echo_until_stopped(channel, where.child_cpu);

  std::uint64_t sequence = 0;
  auto round_trip = [&] {
    channel.to_child->send(++sequence);
    return channel.to_parent->receive() == sequence;
  };
  for (int i = 0; i < kWarmUpRoundTrips; ++i) round_trip();
  // Besides Google Benchmark's mean, the median over batches of kBatch round trips: on a
  // 2-CPU machine a spinning side is preempted for milliseconds now and then, which moves the
  // mean far more than the typical round trip. Batches keep the clock's cost out of the figure.
  constexpr std::int64_t kBatch = 32;
  std::vector<double> batch_ns;
  auto batch_start = std::chrono::steady_clock::now();
  std::int64_t done = 0;
  for (auto _ : state) {
    if (!round_trip()) {
      state.SkipWithError("reply does not match the message sent");
      break;
    }
    if (++done % kBatch == 0) {
      const auto now = std::chrono::steady_clock::now();
      batch_ns.push_back(std::chrono::duration<double, std::nano>(now - batch_start).count() / kBatch);
      batch_start = now;
    }
  }
  if (!batch_ns.empty()) {
    std::nth_element(batch_ns.begin(), batch_ns.begin() + static_cast<std::ptrdiff_t>(batch_ns.size() / 2), batch_ns.end());
    state.counters["median_ns"] = batch_ns[batch_ns.size() / 2];
  }
  channel.to_child->send(kStop);
  int status = 0;
  waitpid(child, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) state.SkipWithError("the echoing child failed");
  state.SetLabel("cpus " + std::to_string(where.parent_cpu) + "," + std::to_string(where.child_cpu));
}

// --- shared memory links ----------------------------------------------------

// An anonymous shared mapping holding one T, inherited across fork.
template <class T>
class SharedObject {
 public:
  SharedObject() {
    void* p = mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw_errno("mmap");
    object_ = std::construct_at(static_cast<T*>(p));
  }
  ~SharedObject() {
    std::destroy_at(object_);
    munmap(object_, sizeof(T));
  }
  SharedObject(const SharedObject&) = delete;
  SharedObject& operator=(const SharedObject&) = delete;

  T* operator->() const { return object_; }

 private:
  T* object_;
};

struct alignas(64) SpinMailbox {
  std::atomic<std::uint64_t> message{0};
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

class SpinLink final : public Link {
 public:
  void send(std::uint64_t message) override { box_->message.store(message, std::memory_order_release); }
  std::uint64_t receive() override {
    std::uint64_t m;
    while ((m = box_->message.load(std::memory_order_acquire)) == last_) cpu_relax();
    last_ = m;
    return m;
  }

 private:
  SharedObject<SpinMailbox> box_;
  std::uint64_t last_ = 0;  // private to each process
};

struct alignas(64) FutexMailbox {
  std::atomic<std::uint64_t> message{0};
  std::atomic<std::uint32_t> sequence{0};  // the futex word
};
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

// Shared (not FUTEX_PRIVATE) operations: the word is in a MAP_SHARED page.
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, expected, nullptr, nullptr, 0);
}
void futex_wake_one(std::atomic<std::uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

class FutexLink final : public Link {
 public:
  void send(std::uint64_t message) override {
    box_->message.store(message, std::memory_order_relaxed);
    box_->sequence.fetch_add(1, std::memory_order_release);
    futex_wake_one(box_->sequence);
  }
  std::uint64_t receive() override {
    std::uint32_t s;
    while ((s = box_->sequence.load(std::memory_order_acquire)) == seen_) futex_wait(box_->sequence, seen_);
    seen_ = s;
    return box_->message.load(std::memory_order_relaxed);
  }

 private:
  SharedObject<FutexMailbox> box_;
  std::uint32_t seen_ = 0;
};

// --- file descriptor links --------------------------------------------------

class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {
    if (fd_ < 0) throw_errno("creating a file descriptor");
  }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&&) = delete;
  ~UniqueFd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }
  UniqueFd duplicate() const { return UniqueFd(dup(fd_)); }

 private:
  int fd_;
};

// Writes 8 bytes into one descriptor, reads them from another: a pipe's two
// ends, two ends of a socketpair, or the same eventfd twice.
class FdLink final : public Link {
 public:
  FdLink(UniqueFd write_end, UniqueFd read_end) : write_(std::move(write_end)), read_(std::move(read_end)) {}

  void send(std::uint64_t message) override {
    if (write(write_.get(), &message, sizeof message) != sizeof message) throw_errno("write");
  }
  std::uint64_t receive() override {
    std::uint64_t message = 0;
    if (read(read_.get(), &message, sizeof message) != sizeof message) throw_errno("read");
    return message;
  }

 private:
  UniqueFd write_;
  UniqueFd read_;
};

std::unique_ptr<Link> pipe_link() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
  return std::make_unique<FdLink>(UniqueFd(fds[1]), UniqueFd(fds[0]));
}

std::unique_ptr<Link> eventfd_link() {
  UniqueFd fd(eventfd(0, EFD_CLOEXEC));
  UniqueFd same = fd.duplicate();
  return std::make_unique<FdLink>(std::move(fd), std::move(same));
}

Channel socketpair_channel() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw_errno("socketpair");
  UniqueFd parent(fds[0]);
  UniqueFd child(fds[1]);
  UniqueFd parent_copy = parent.duplicate();
  UniqueFd child_copy = child.duplicate();
  return {std::make_unique<FdLink>(std::move(parent), std::move(child)),
          std::make_unique<FdLink>(std::move(child_copy), std::move(parent_copy))};
}

template <class MakeLink>
std::function<Channel()> two(MakeLink make_link) {
  return [make_link] { return Channel{make_link(), make_link()}; };
}

// --- Boost.Interprocess -----------------------------------------------------

#ifdef BRINE_BENCH_WITH_BOOST_INTERPROCESS
namespace bip = boost::interprocess;

// A one-message named queue, removed from /dev/shm by the parent (the child
// leaves through _exit and destroys nothing).
class MessageQueueLink final : public Link {
 public:
  MessageQueueLink() : name_(unique_name()), queue_(bip::create_only, name_.c_str(), 1, sizeof(std::uint64_t)) {}
  ~MessageQueueLink() override { bip::message_queue::remove(name_.c_str()); }

  void send(std::uint64_t message) override { queue_.send(&message, sizeof message, 0); }
  std::uint64_t receive() override {
    std::uint64_t message = 0;
    bip::message_queue::size_type received = 0;
    unsigned int priority = 0;
    queue_.receive(&message, sizeof message, received, priority);
    return message;
  }

 private:
  static std::string unique_name() {
    static int counter = 0;
    return "brine-bench-mq-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
  }

  std::string name_;
  bip::message_queue queue_;
};
#endif

void register_alternatives() {
  register_transport("spin", two([] { return std::make_unique<SpinLink>(); }), Wait::kSpins);
  register_transport("futex", two([] { return std::make_unique<FutexLink>(); }), Wait::kSleeps);
  register_transport("pipe", two(pipe_link), Wait::kSleeps);
  register_transport("socketpair", socketpair_channel, Wait::kSleeps);
  register_transport("eventfd", two(eventfd_link), Wait::kSleeps);
#ifdef BRINE_BENCH_WITH_BOOST_INTERPROCESS
  register_transport("boost_mq", two([] { return std::make_unique<MessageQueueLink>(); }), Wait::kSleeps);
#endif
}

}  // namespace

void register_transport(const std::string& name, std::function<Channel()> make, Wait wait) {
  for (const Placement& where : placements(wait)) {
    benchmark::RegisterBenchmark(("BM_Transport/" + name + "/" + where.name).c_str(),
                                 [make, where](benchmark::State& state) { run_ping_pong(state, make, where); })
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  }
}

}  // namespace brine::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  brine::bench::register_alternatives();
  brine::bench::register_brine_transports();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
