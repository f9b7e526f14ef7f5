// Private: starting worker processes other than by a plain fork of the parent.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace brine::detail {

// StartMethod::kForkServer: a single-threaded process forked once, early, that forks every
// worker on request and reports their exits. Workers are its children, so their parent-death
// signal follows it; it follows the pool's monitor thread in turn.
class ForkServer {
 public:
  // Forks the server. `run_worker(index, server_pid)` runs in each worker and never returns.
  explicit ForkServer(std::function<void(uint32_t, pid_t)> run_worker);
  ~ForkServer();
  ForkServer(const ForkServer&) = delete;
  ForkServer& operator=(const ForkServer&) = delete;

  pid_t spawn(uint32_t index);     // the new worker's pid, or -1
  int exit_status(pid_t worker);   // waits for the server to report that worker's exit

 private:
  bool read_message();
  pid_t pid_ = -1;
  int fd_ = -1;
  std::map<pid_t, int> exits_;
  pid_t spawned_ = 0;
};

// StartMethod::kSpawn: execs `command` (argv; empty: /proc/self/exe with this process's own
// command line) with the segment fd inherited; the new process's brine::run_if_worker()
// attaches and serves as worker `index`. Returns the pid, or -1.
pid_t spawn_worker(int segment_fd, uint32_t index, const std::vector<std::string>& command);

}  // namespace brine::detail
