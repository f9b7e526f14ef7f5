// Segment: one pool's shared memory, an anonymous memfd mapped MAP_SHARED.
//
// The memfd has no name in /dev/shm: it lives as long as an fd or a mapping of it exists, so
// when the parent and its workers are gone — however they died — the kernel frees it. Workers
// inherit the mapping (fork) or the fd (spawn). Tools find live pools through /proc/<pid>/fd
// links named "memfd:brine-<owner pid>-<64 random bits>".
//
// Ownership: move-only; the destructor unmaps and closes. Thread safety: the object itself is
// immutable after construction; what lives inside the mapping documents its own rules.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace brine::ipc {

class Segment {
 public:
  // Creates a fresh memfd of `size` bytes (zero-filled, mode 0600, close-on-exec) and maps it.
  // Throws brine::SegmentError.
  static Segment create(std::size_t size);
  // Maps an existing segment fd (dup'ed; the caller keeps its own). Throws brine::SegmentError.
  static Segment attach(int fd, bool read_only = false);

  Segment() = default;
  Segment(Segment&& other) noexcept;
  Segment& operator=(Segment&& other) noexcept;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment();

  std::byte* base() const noexcept { return base_; }
  std::size_t size() const noexcept { return size_; }
  int fd() const noexcept { return fd_; }
  const std::string& name() const noexcept { return name_; }

  template <class T>
  T* at(uint64_t offset) const noexcept {
    return reinterpret_cast<T*>(base_ + offset);
  }

 private:
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
  int fd_ = -1;
  std::string name_;
};

}  // namespace brine::ipc
