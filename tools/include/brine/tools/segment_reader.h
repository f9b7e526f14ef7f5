// SegmentReader: a read-only, validated view of a pool segment that some other process owns,
// for the brine CLI (ls, top, clean) and for tests.
//
// The bytes are untrusted: open() checks the magic, the layout version, the header size and
// that every region the header names lies inside the mapping, and snapshot() checks each
// ring offset before following it. A mismatch is a brine::SegmentError that says what was
// found and what was expected; nothing is ever read outside the mapping.
//
// Ownership: move-only; holds a read-only mapping and a dup of the fd (which keeps the
// memfd alive while the reader lives). Thread safety: snapshot() may be called from any
// thread; the values are a racy but tear-free view (every counter is an aligned atomic).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "brine/ipc/layout.h"
#include "brine/ipc/segment.h"

namespace brine::tools {

struct WorkerSnapshot {
  uint32_t index = 0;
  int32_t pid = 0;
  ipc::WorkerState state = ipc::WorkerState::kEmpty;
  uint64_t tasks_done = 0;
  uint64_t busy_ns = 0;
  uint32_t current_slot = 0;  // slot + 1 of the running task, 0 when idle
  uint64_t queued = 0;        // messages in the submission ring
  uint64_t completions = 0;   // messages in the completion ring
  uint32_t ring_capacity = 0;
  uint64_t rss_bytes = 0;     // resident memory of the worker process (/proc/<pid>/statm); 0 if gone
};

struct PoolSnapshot {
  uint64_t time_ns = 0;  // CLOCK_MONOTONIC when taken
  int32_t owner_pid = 0;
  uint64_t total_size = 0;
  uint64_t arena_used = 0;
  uint64_t arena_size = 0;
  uint32_t live_workers = 0;
  uint32_t max_workers = 0;
  uint64_t tasks_submitted = 0;
  uint64_t tasks_completed = 0;
  uint64_t workers_crashed = 0;
  std::vector<WorkerSnapshot> workers;
};

const char* to_string(ipc::WorkerState state) noexcept;

// Checks that [base, base + size) holds a formatted segment of this layout version whose
// regions lie inside it. `what` names the segment in the message. Throws brine::SegmentError.
void validate_segment(const std::byte* base, std::size_t size, const std::string& what);

class SegmentReader {
 public:
  // Opens `path` (e.g. /proc/<pid>/fd/<n> of a memfd, or /dev/shm/<name>) read-only, maps it
  // and validates it. Throws brine::SegmentError (permission, not a brine segment, wrong
  // version, truncated).
  static SegmentReader open(const std::string& path);
  // Same for a mapping the caller already holds.
  static SegmentReader attach(int fd, const std::string& what);

  PoolSnapshot snapshot() const;
  const ipc::SegmentHeader& header() const noexcept { return *segment_.at<ipc::SegmentHeader>(0); }
  std::size_t size() const noexcept { return segment_.size(); }

 private:
  explicit SegmentReader(ipc::Segment segment) : segment_(std::move(segment)) {}
  ipc::Segment segment_;
};

}  // namespace brine::tools
