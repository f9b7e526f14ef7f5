// The brine CLI, run in-process over live pools: every command has --help; ls and top show a
// live pool read from its segment; clean removes what a dead owner left (its orphaned
// workers) and touches nothing that is alive.
#include "brine/tools/cli.h"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "brine/ipc/pool.h"
#include "brine/tools/scan.h"

namespace cli_test {

int twice(int x) { return 2 * x; }
BRINE_REGISTER(twice);

}  // namespace cli_test

namespace {

struct CliRun {
  int status;
  std::string out, err;
};

CliRun brine_cli(std::vector<std::string> args) {
  std::ostringstream out, err;
  const int status = brine::tools::run_cli(args, out, err);
  return {status, out.str(), err.str()};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The segment this process owns.
std::string own_segment() {
  for (const auto& s : brine::tools::find_segments()) {
    if (s.owner == getpid()) return s.name;
  }
  return {};
}

const brine::PoolOptions kSmall{.workers = 2, .arena_bytes = std::size_t{4} << 20, .slot_count = 64};

TEST(CliTest, EveryCommandHasHelp) {
  const CliRun all = brine_cli({"--help"});
  EXPECT_EQ(all.status, 0);
  for (const char* cmd : {"ls", "clean", "top", "bench"}) {
    EXPECT_TRUE(contains(all.out, cmd)) << all.out;
    const CliRun one = brine_cli({cmd, "--help"});
    EXPECT_EQ(one.status, 0);
    EXPECT_TRUE(contains(one.out, std::string("usage: brine ") + cmd)) << one.out;
  }
  EXPECT_EQ(brine_cli({}).status, 2);
  const CliRun bad = brine_cli({"frobnicate"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_TRUE(contains(bad.err, "unknown command 'frobnicate'")) << bad.err;
}

TEST(CliTest, LsShowsALivePoolWithItsOwnerSizeAndWorkers) {
  brine::Pool pool(kSmall);
  const std::string name = own_segment();
  ASSERT_FALSE(name.empty());
  const CliRun json = brine_cli({"ls", "--json"});
  EXPECT_EQ(json.status, 0);
  EXPECT_TRUE(contains(json.out, "{\"name\":\"" + name + "\",\"owner_pid\":" + std::to_string(getpid()) +
                                     ",\"owner_alive\":true")) << json.out;
  EXPECT_TRUE(contains(json.out, "\"live_workers\":2")) << json.out;
  const CliRun text = brine_cli({"ls"});
  EXPECT_TRUE(contains(text.out, name)) << text.out;
  EXPECT_TRUE(contains(text.out, "alive")) << text.out;
}

TEST(CliTest, TopOnceShowsEveryWorkerAndTheTaskCounters) {
  brine::Pool pool(kSmall);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(pool.submit(cli_test::twice, i).get(), 2 * i);
  const std::string me = std::to_string(getpid());
  const CliRun json = brine_cli({"top", me, "--once", "--json", "--interval", "0.05"});
  ASSERT_EQ(json.status, 0) << json.err;
  EXPECT_TRUE(contains(json.out, "\"tasks_completed\":100")) << json.out;
  for (pid_t pid : pool.worker_pids()) EXPECT_TRUE(contains(json.out, "\"pid\":" + std::to_string(pid))) << json.out;
  for (pid_t pid : pool.worker_pids()) {  // each live worker's resident memory is shown
    const auto at = json.out.find("\"pid\":" + std::to_string(pid));
    const auto rss = json.out.find("\"rss\":", at);
    ASSERT_NE(rss, std::string::npos) << json.out;
    EXPECT_GT(std::atoll(json.out.c_str() + rss + 6), 0) << json.out;
  }
  const CliRun text = brine_cli({"top", own_segment(), "--once", "--interval", "0.05"});
  ASSERT_EQ(text.status, 0) << text.err;
  EXPECT_TRUE(contains(text.out, "100 completed")) << text.out;
  EXPECT_TRUE(contains(text.out, "idle")) << text.out;
  EXPECT_TRUE(contains(text.out, "RSS")) << text.out;

  const CliRun none = brine_cli({"top", "999999999", "--once"});
  EXPECT_EQ(none.status, 1);
  EXPECT_TRUE(contains(none.err, "no live pool")) << none.err;
}

TEST(CliTest, BenchSaysClearlyWhenTheReportScriptIsMissing) {
  setenv("BRINE_BENCH_SCRIPT", "/nonexistent/run_report.sh", 1);
  const CliRun r = brine_cli({"bench"});
  unsetenv("BRINE_BENCH_SCRIPT");
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(contains(r.err, "/nonexistent/run_report.sh is missing")) << r.err;
}

// A dead owner whose segment is still held by a process its worker table lists: `clean`
// must kill that process (and say so), and leave every live pool alone.
TEST(CliTest, CleanKillsOrphanedWorkersOfADeadOwnerAndNothingAlive) {
  // The owner is forked before this process starts a pool of its own (threads): a child of a
  // multithreaded process may not start threads under ThreadSanitizer, and the owner must.
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);  // orphans come back to us, to be reaped
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t owner = fork();
  if (owner == 0) {
    brine::Pool pool({.workers = 1, .arena_bytes = std::size_t{1} << 20, .slot_count = 8});
    pool.submit(cli_test::twice, 1).get();  // the worker has written its own pid by now
    const pid_t orphan = fork();  // inherits the segment fd, outlives the owner
    if (orphan == 0) {
      for (;;) pause();
    }
    // List it as the pool's worker, as a worker of another start method could be.
    const brine::ipc::SegmentHeader* header = pool.arena().header();
    reinterpret_cast<brine::ipc::WorkerControl*>(pool.arena().base() + header->workers_offset)[0].pid.store(orphan);
    [[maybe_unused]] const ssize_t n = write(fds[1], &orphan, sizeof orphan);
    _exit(0);
  }
  close(fds[1]);
  pid_t orphan = 0;
  ASSERT_EQ(read(fds[0], &orphan, sizeof orphan), static_cast<ssize_t>(sizeof orphan));
  close(fds[0]);
  ASSERT_EQ(waitpid(owner, nullptr, 0), owner);
  brine::Pool alive(kSmall);
  const std::string alive_name = own_segment();

  const std::string kill_line = "kill pid " + std::to_string(orphan) + " (orphaned worker of brine-" + std::to_string(owner);
  const CliRun dry = brine_cli({"clean", "--dry-run"});
  EXPECT_TRUE(contains(dry.out, "would " + kill_line)) << dry.out << dry.err;
  EXPECT_FALSE(contains(dry.out, alive_name)) << dry.out;
  EXPECT_TRUE(brine::tools::process_alive(orphan)) << "--dry-run killed it";

  const CliRun real = brine_cli({"clean"});
  EXPECT_TRUE(contains(real.out, kill_line)) << real.out << real.err;
  int status = 0;
  ASSERT_EQ(waitpid(orphan, &status, 0), orphan);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  for (const auto& s : brine::tools::find_segments()) EXPECT_NE(s.owner, owner) << s.name << " survived clean";
  EXPECT_EQ(alive.submit(cli_test::twice, 21).get(), 42) << "clean touched a live pool";
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
}

}  // namespace
