// brine's own rows for the transport suite: its SpscRing (the ring a pool's submission and
// completion queues use), one ring per direction in MAP_SHARED anonymous memory inherited by
// the forked child, each receiver waiting with a brine::ipc::WaitPolicy:
//   brine_ring_spin   pure spinning (pinned to different CPUs by the harness);
//   brine_ring_sleep  brine's default: spin ~2 µs, then sleep on the ring's futex.
#include <sys/mman.h>

#include <cerrno>
#include <system_error>

#include "brine/ipc/spsc_ring.h"
#include "brine/ipc/wait.h"
#include "transport.h"

namespace brine::bench {
namespace {

constexpr std::uint32_t kRingCapacity = 64;

class RingLink final : public Link {
 public:
  explicit RingLink(ipc::WaitPolicy policy) : policy_(policy) {
    memory_ = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (memory_ == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
    ring_ = ipc::SpscRing::create(memory_, kRingCapacity);
  }
  ~RingLink() override { munmap(memory_, kBytes); }
  RingLink(const RingLink&) = delete;
  RingLink& operator=(const RingLink&) = delete;

  void send(std::uint64_t message) override {
    while (!ring_.push_and_notify(message)) ipc::cpu_relax();  // never full: one message in flight
  }
  std::uint64_t receive() override {
    std::uint64_t message = 0;
    ring_.consumer_wake().wait([&] { return ring_.try_pop(message); }, policy_);
    return message;
  }

 private:
  static constexpr std::size_t kBytes = ipc::SpscRing::bytes_for(kRingCapacity);
  ipc::WaitPolicy policy_;
  void* memory_ = nullptr;
  ipc::SpscRing ring_;
};

std::function<Channel()> ring_channel(ipc::WaitPolicy policy) {
  return [policy] { return Channel{std::make_unique<RingLink>(policy), std::make_unique<RingLink>(policy)}; };
}

// The policy of a pinned, spinning pool: with sleep = false a wait never sleeps.
constexpr ipc::WaitPolicy kSpinForever{.spin_ns = 1'000'000'000, .sleep = false};

}  // namespace

void register_brine_transports() {
  register_transport("brine_ring_spin", ring_channel(kSpinForever), Wait::kSpins);
  register_transport("brine_ring_sleep", ring_channel(ipc::WaitPolicy{}), Wait::kSleeps);
}

}  // namespace brine::bench
