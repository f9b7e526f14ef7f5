#include "brine/tools/segment_reader.h"

#include <fstream>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "brine/core/error.h"
#include "brine/ipc/spsc_ring.h"
#include "brine/ipc/wait.h"

namespace brine::tools {

namespace {

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// [offset, offset + count * each) lies inside `size` bytes, without overflow.
bool fits(uint64_t offset, uint64_t count, uint64_t each, uint64_t size) {
  if (offset > size) return false;
  return each == 0 || count <= (size - offset) / each;
}

}  // namespace

const char* to_string(ipc::WorkerState state) noexcept {
  switch (state) {
    case ipc::WorkerState::kEmpty: return "empty";
    case ipc::WorkerState::kStarting: return "starting";
    case ipc::WorkerState::kInitializing: return "initializing";
    case ipc::WorkerState::kIdle: return "idle";
    case ipc::WorkerState::kBusy: return "busy";
    case ipc::WorkerState::kExited: return "exited";
  }
  return "invalid";
}

void validate_segment(const std::byte* base, std::size_t size, const std::string& what) {
  auto fail = [&](const std::string& why) { throw SegmentError("brine: " + what + " " + why); };
  if (size < sizeof(ipc::SegmentHeader)) {
    fail("is " + std::to_string(size) + " bytes, smaller than a segment header (" +
         std::to_string(sizeof(ipc::SegmentHeader)) + "): not a brine pool segment");
  }
  ipc::SegmentHeader h;  // a copy: the owner may still be writing the original
  std::memcpy(static_cast<void*>(&h), base, sizeof h);
  if (h.magic == 0) fail("is not formatted yet (a pool still starting?); try again");
  if (h.magic != ipc::kSegmentMagic) {
    fail("starts with magic " + hex(h.magic) + ", not brine's " + hex(ipc::kSegmentMagic) +
         ": not a brine pool segment");
  }
  if (h.version != ipc::kLayoutVersion) {
    fail("has layout version " + std::to_string(h.version) + " and this tool reads version " +
         std::to_string(ipc::kLayoutVersion) + "; use the brine CLI built with the pool's brine release");
  }
  if (h.header_size != sizeof(ipc::SegmentHeader)) {
    fail("has a header of " + std::to_string(h.header_size) + " bytes, expected " +
         std::to_string(sizeof(ipc::SegmentHeader)) + " for layout version " + std::to_string(h.version));
  }
  if (h.total_size != size) {
    fail("claims " + std::to_string(h.total_size) + " bytes but its mapping has " + std::to_string(size));
  }
  const bool regions_fit = fits(h.workers_offset, h.max_workers, sizeof(ipc::WorkerControl), size) &&
                           fits(h.slots_offset, h.slot_count, h.slot_size, size) &&
                           fits(h.blocks_offset, h.max_blocks, sizeof(ipc::BlockDesc), size) &&
                           fits(h.slot_links_offset, h.slot_count, sizeof(uint32_t), size) &&
                           fits(h.block_links_offset, h.max_blocks, sizeof(uint32_t), size) &&
                           fits(h.arena_offset, h.arena_size, 1, size);
  if (!regions_fit) fail("has a region (workers, slots, blocks or arena) that lies outside its " + std::to_string(size) + " bytes");
}

SegmentReader SegmentReader::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw SegmentError("brine: cannot open segment " + path + ": " + std::strerror(errno) +
                       (errno == EACCES || errno == EPERM ? " (it belongs to another user: run as that user)" : ""));
  }
  try {
    SegmentReader r = attach(fd, path);
    ::close(fd);
    return r;
  } catch (...) {
    ::close(fd);
    throw;
  }
}

SegmentReader SegmentReader::attach(int fd, const std::string& what) {
  ipc::Segment s = ipc::Segment::attach(fd, /*read_only=*/true);
  validate_segment(s.base(), s.size(), what);
  return SegmentReader(std::move(s));
}

namespace {

// Resident bytes of process `pid` (shared pages included, as top shows them); 0 if unreadable.
uint64_t resident_bytes(int32_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/statm");
  uint64_t size = 0, resident = 0;
  if (!(f >> size >> resident)) return 0;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace

PoolSnapshot SegmentReader::snapshot() const {
  const ipc::SegmentHeader& h = header();
  PoolSnapshot p;
  p.time_ns = ipc::monotonic_ns();
  p.owner_pid = h.owner_pid;
  p.total_size = h.total_size;
  p.arena_used = h.arena_used.load(std::memory_order_relaxed);
  p.arena_size = h.arena_size;
  p.live_workers = h.live_workers.load(std::memory_order_relaxed);
  p.max_workers = h.max_workers;
  p.tasks_submitted = h.tasks_submitted.load(std::memory_order_relaxed);
  p.tasks_completed = h.tasks_completed.load(std::memory_order_relaxed);
  p.workers_crashed = h.workers_crashed.load(std::memory_order_relaxed);
  const auto* controls = segment_.at<const ipc::WorkerControl>(h.workers_offset);
  auto ring_size = [&](uint64_t offset, uint32_t& capacity) -> uint64_t {
    if (!fits(offset, 1, sizeof(ipc::SpscRingControl), segment_.size())) return 0;
    const auto* c = segment_.at<const ipc::SpscRingControl>(offset);
    capacity = c->capacity;
    return c->write.load(std::memory_order_relaxed) - c->read.load(std::memory_order_relaxed);
  };
  for (uint32_t i = 0; i < h.max_workers; ++i) {
    const ipc::WorkerControl& c = controls[i];
    WorkerSnapshot w;
    w.index = i;
    w.pid = c.pid.load(std::memory_order_relaxed);
    w.state = ipc::WorkerState(c.state.load(std::memory_order_relaxed));
    w.tasks_done = c.tasks_done.load(std::memory_order_relaxed);
    w.busy_ns = c.busy_ns.load(std::memory_order_relaxed);
    w.current_slot = c.current_slot.load(std::memory_order_relaxed);
    uint32_t unused = 0;
    w.queued = ring_size(c.submit_ring, w.ring_capacity);
    w.completions = ring_size(c.complete_ring, unused);
    if (w.pid > 0 && w.state != ipc::WorkerState::kExited && w.state != ipc::WorkerState::kEmpty) {
      w.rss_bytes = resident_bytes(w.pid);
    }
    p.workers.push_back(w);
  }
  return p;
}

}  // namespace brine::tools
