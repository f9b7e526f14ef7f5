// A small program for the Ctrl-C tests (trust_test.cc): it starts a pool of two workers with
// the start method named by argv[1] (fork, forkserver, spawn), prints "ready <pid> <pid>" and
// blocks in Future::get() (argv[2] = get) or Pool::map() (argv[2] = map) on tasks that never
// end, as an interactive program would when its user presses Ctrl-C. SIGINT keeps its default
// action: the program dies of it, and the pool must leave nothing behind.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "brine/ipc/pool.h"

namespace sigint_child {

int forever(int x) {
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  return x;
}
BRINE_REGISTER_AS(forever, "sigint_child::forever");

}  // namespace sigint_child

int main(int argc, char** argv) {
  brine::run_if_worker();  // spawn: this binary is also its own workers
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s fork|forkserver|spawn get|map\n", argv[0]);
    return 2;
  }
  const brine::StartMethod method = std::strcmp(argv[1], "fork") == 0         ? brine::StartMethod::kFork
                                    : std::strcmp(argv[1], "spawn") == 0      ? brine::StartMethod::kSpawn
                                                                              : brine::StartMethod::kForkServer;
  brine::Pool pool({.workers = 2, .start_method = method});
  const std::vector<pid_t> pids = pool.worker_pids();
  if (std::strcmp(argv[2], "get") == 0) {
    auto f = pool.submit(sigint_child::forever, 1);
    std::printf("ready %d %d\n", pids.at(0), pids.at(1));
    std::fflush(stdout);
    f.get();
  } else {
    std::printf("ready %d %d\n", pids.at(0), pids.at(1));
    std::fflush(stdout);
    pool.map(sigint_child::forever, std::vector<int>(8, 1));
  }
  return 3;  // never reached: the tasks never end
}
