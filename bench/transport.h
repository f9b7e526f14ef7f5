// How a transport plugs into the ping-pong benchmark.
//
// A transport is two one-way Links carrying 8-byte messages: one from the
// parent to a forked child and one back. Both processes use the same Link
// objects (the child inherits them through fork), so a Link's state must
// live in memory or kernel objects both processes share; whatever a Link
// keeps in its own members is private to each process after the fork.
//
// Messages are never 0 and never kStop except to stop the child; one message
// is in flight per direction at a time, so a Link needs no queue.
//
// register_transport("name", make, wait) adds BM_Transport/<name>/cross_cpu
// (parent and child pinned to two different CPUs, when there are two) and,
// unless the receiver spins, BM_Transport/<name>/same_cpu. Each reports the
// round-trip time; the report divides by the rows named "brine_*".
#ifndef BRINE_BENCH_TRANSPORT_H_
#define BRINE_BENCH_TRANSPORT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace brine::bench {

inline constexpr std::uint64_t kStop = ~std::uint64_t{0} - 1;  // eventfd cannot carry ~0

class Link {
 public:
  virtual ~Link() = default;
  virtual void send(std::uint64_t message) = 0;
  virtual std::uint64_t receive() = 0;
};

struct Channel {
  std::unique_ptr<Link> to_child;
  std::unique_ptr<Link> to_parent;
};

// Spinning receivers are not run with both processes on one CPU: there each
// spin burns the time slice the other side needs (milliseconds per trip).
enum class Wait { kSleeps, kSpins };

void register_transport(const std::string& name, std::function<Channel()> make, Wait wait);

// brine's own rows (bench/transport_brine.cc).
void register_brine_transports();

}  // namespace brine::bench

#endif  // BRINE_BENCH_TRANSPORT_H_
