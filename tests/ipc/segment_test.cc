// Segments: created private (mode 0600) under names nobody can guess (64 random bits), and
// validated on attach: a wrong magic, layout version, size or region, or another user's
// segment, is a clear brine::SegmentError, never a crash.
#include "brine/ipc/segment.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <regex>
#include <set>

#include "brine/core/error.h"
#include "brine/ipc/pool.h"
#include "brine/tools/segment_reader.h"
#include "test_support.h"

namespace {

using brine::ipc::Segment;
using brine::ipc::SegmentHeader;
using brine::tools::SegmentReader;

TEST(SegmentTest, IsCreatedMode0600UnderANameWithSixtyFourRandomBits) {
  const std::regex pattern("brine-" + std::to_string(getpid()) + "-([0-9a-f]{16})");
  std::set<std::string> names;
  uint64_t first = 0, differing = 0;
  for (int i = 0; i < 64; ++i) {
    const Segment s = Segment::create(4096);
    struct stat st;
    ASSERT_EQ(fstat(s.fd(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u) << s.name();
    std::smatch m;
    ASSERT_TRUE(std::regex_match(s.name(), m, pattern)) << s.name();
    const uint64_t bits = std::stoull(m[1].str(), nullptr, 16);
    if (i == 0) first = bits;
    differing |= bits ^ first;
    names.insert(s.name());
  }
  EXPECT_EQ(names.size(), 64u);
  EXPECT_EQ(differing, ~uint64_t{0}) << "every one of the 64 name bits should vary";
}

class SegmentAttachTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::vector<std::string> fds = brine::testing::brine_memfds();
    ASSERT_EQ(fds.size(), 1u);
    path_ = fd_path();
    ASSERT_FALSE(path_.empty());
  }

  // /proc/self/fd/<n> of the pool's segment.
  static std::string fd_path() {
    for (int fd = 0; fd < 1024; ++fd) {
      char target[256] = {};
      const std::string p = "/proc/self/fd/" + std::to_string(fd);
      if (readlink(p.c_str(), target, sizeof target - 1) > 0 && std::strstr(target, "memfd:brine-") != nullptr) return p;
    }
    return {};
  }

  // A private copy of the pool's segment, with `edit` applied to its header.
  template <class Edit>
  Segment copy_with(Edit edit) const {
    const int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    const Segment original = Segment::attach(fd, /*read_only=*/true);
    close(fd);
    Segment copy = Segment::create(original.size());
    std::memcpy(copy.base(), original.base(), original.size());
    edit(*copy.at<SegmentHeader>(0));
    return copy;
  }

  void expect_refused(const Segment& s, const std::string& fragment) const {
    try {
      SegmentReader::attach(s.fd(), "segment under test");
      ADD_FAILURE() << "attached to a bad segment";
    } catch (const brine::SegmentError& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  }

  brine::Pool pool_{{.workers = 1, .arena_bytes = std::size_t{1} << 20, .slot_count = 16, .max_blocks = 16}};
  std::string path_;
};

TEST_F(SegmentAttachTest, AValidSegmentAttachesReadOnlyAndShowsItsPool) {
  const SegmentReader reader = SegmentReader::open(path_);
  const brine::tools::PoolSnapshot snap = reader.snapshot();
  EXPECT_EQ(snap.owner_pid, getpid());
  EXPECT_EQ(snap.live_workers, 1u);
  ASSERT_GE(snap.workers.size(), 1u);
  EXPECT_EQ(snap.workers[0].pid, pool_.worker_pids().at(0));
}

TEST_F(SegmentAttachTest, AWrongMagicVersionOrShapeIsRefusedWithAClearError) {
  expect_refused(copy_with([](SegmentHeader& h) { h.magic = 0x1234; }), "not a brine pool segment");
  expect_refused(copy_with([](SegmentHeader& h) { h.magic = 0; }), "not formatted yet");
  expect_refused(copy_with([](SegmentHeader& h) { h.version = 99; }), "layout version 99");
  expect_refused(copy_with([](SegmentHeader& h) { h.header_size = 8; }), "header of 8 bytes");
  expect_refused(copy_with([](SegmentHeader& h) { h.total_size *= 2; }), "but its mapping has");
  expect_refused(copy_with([](SegmentHeader& h) { h.max_workers = 1u << 31; }), "lies outside");
  expect_refused(copy_with([](SegmentHeader& h) { h.arena_offset = ~uint64_t{0} - 1; }), "lies outside");
  expect_refused(Segment::create(64), "smaller than a segment header");
}

TEST_F(SegmentAttachTest, AnotherUserCannotAttach) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch to another user";
  const std::string target = "/proc/" + std::to_string(getpid()) + path_.substr(std::strlen("/proc/self"));
  const pid_t child = fork();
  if (child == 0) {
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(2);
    try {
      SegmentReader::open(target);
    } catch (const brine::SegmentError& e) {
      _exit(std::strstr(e.what(), "another user") != nullptr ? 0 : 3);
    }
    _exit(1);  // attached: the segment is not private
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: attached, 2: could not switch user, 3: unclear error";
}

}  // namespace
