// The parent of a pool is SIGKILLed: its workers must exit within a second (parent-death
// signal) and its memfd segment must vanish with them, so `brine ls` shows nothing of it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "brine/ipc/pool.h"
#include "brine/tools/cli.h"
#include "brine/tools/scan.h"

namespace {

struct Report {
  pid_t workers[2];
  char segment[64];
};

TEST(ParentKillTest, WorkersExitWithinASecondAndNoSegmentRemains) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t owner = fork();
  if (owner == 0) {
    brine::Pool pool({.workers = 2, .arena_bytes = std::size_t{4} << 20, .slot_count = 16});
    Report r{};
    const std::vector<pid_t> pids = pool.worker_pids();
    for (std::size_t i = 0; i < 2 && i < pids.size(); ++i) r.workers[i] = pids[i];
    for (const auto& s : brine::tools::find_segments()) {
      if (s.owner == getpid()) std::strncpy(r.segment, s.name.c_str(), sizeof r.segment - 1);
    }
    [[maybe_unused]] const ssize_t n = write(fds[1], &r, sizeof r);
    for (;;) pause();
  }
  close(fds[1]);
  Report r{};
  ASSERT_EQ(read(fds[0], &r, sizeof r), static_cast<ssize_t>(sizeof r));
  close(fds[0]);
  ASSERT_GT(r.workers[0], 0);
  ASSERT_GT(r.workers[1], 0);
  ASSERT_NE(r.segment[0], '\0');
  for (pid_t w : r.workers) ASSERT_TRUE(brine::tools::process_alive(w));

  ASSERT_EQ(kill(owner, SIGKILL), 0);
  const auto killed_at = std::chrono::steady_clock::now();
  ASSERT_EQ(waitpid(owner, nullptr, 0), owner);
  auto any_alive = [&] { return brine::tools::process_alive(r.workers[0]) || brine::tools::process_alive(r.workers[1]); };
  while (any_alive() && std::chrono::steady_clock::now() - killed_at < std::chrono::seconds(1)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_FALSE(any_alive()) << "workers outlived their SIGKILLed parent by a second";
  for (const auto& s : brine::tools::find_segments()) EXPECT_NE(s.name, r.segment) << "its segment is still held";
  std::ostringstream out, err;
  EXPECT_EQ(brine::tools::run_cli({"ls", "--json"}, out, err), 0);
  EXPECT_EQ(out.str().find(r.segment), std::string::npos) << out.str();
  for (pid_t w : r.workers) waitpid(w, nullptr, WNOHANG);  // in case they were reparented to us
}

}  // namespace
