#include "brine/ipc/segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "brine/core/error.h"

namespace brine::ipc {

namespace {

[[noreturn]] void fail(const std::string& what) {
  throw SegmentError("brine: " + what + ": " + std::strerror(errno));
}

std::string random_name() {
  uint64_t r = 0;
  if (getrandom(&r, sizeof r, 0) != sizeof r) fail("cannot read 64 random bits for a segment name");
  char buf[64];
  std::snprintf(buf, sizeof buf, "brine-%d-%016llx", static_cast<int>(getpid()), static_cast<unsigned long long>(r));
  return buf;
}

}  // namespace

Segment Segment::create(std::size_t size) {
  Segment s;
  s.name_ = random_name();
  s.fd_ = memfd_create(s.name_.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (s.fd_ < 0) fail("memfd_create failed for the pool segment");
  fchmod(s.fd_, 0600);
  if (ftruncate(s.fd_, static_cast<off_t>(size)) != 0) {
    fail("cannot size the pool segment to " + std::to_string(size) + " bytes (lower PoolOptions::arena_bytes?)");
  }
  fcntl(s.fd_, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, s.fd_, 0);
  if (p == MAP_FAILED) fail("cannot map the pool segment of " + std::to_string(size) + " bytes");
  s.base_ = static_cast<std::byte*>(p);
  s.size_ = size;
  return s;
}

Segment Segment::attach(int fd, bool read_only) {
  struct stat st;
  if (fstat(fd, &st) != 0) fail("cannot stat the segment fd");
  Segment s;
  s.fd_ = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (s.fd_ < 0) fail("cannot duplicate the segment fd");
  s.size_ = static_cast<std::size_t>(st.st_size);
  void* p = mmap(nullptr, s.size_, read_only ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED, s.fd_, 0);
  if (p == MAP_FAILED) fail("cannot map the segment");
  s.base_ = static_cast<std::byte*>(p);
  return s;
}

Segment::Segment(Segment&& o) noexcept
    : base_(std::exchange(o.base_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      fd_(std::exchange(o.fd_, -1)),
      name_(std::move(o.name_)) {}

Segment& Segment::operator=(Segment&& o) noexcept {
  if (this != &o) {
    this->~Segment();
    new (this) Segment(std::move(o));
  }
  return *this;
}

Segment::~Segment() {
  if (base_ != nullptr) munmap(base_, size_);
  if (fd_ >= 0) close(fd_);
}

}  // namespace brine::ipc
