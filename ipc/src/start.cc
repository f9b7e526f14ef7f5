#include "start.h"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "brine/core/error.h"
#include "brine/ipc/layout.h"
#include "brine/ipc/pool.h"
#include "brine/ipc/segment.h"
#include "worker.h"

extern char** environ;

namespace brine::detail {

namespace {

// Server -> parent.
struct ServerMessage {
  int32_t kind;  // kSpawned or kExited
  int32_t pid;
  int32_t status;
};
constexpr int32_t kSpawned = 1;
constexpr int32_t kExited = 2;

constexpr const char* kWorkerEnv = "BRINE_WORKER";

[[noreturn]] void serve_forks(int fd, const std::function<void(uint32_t, pid_t)>& run_worker) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGINT, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, nullptr);
  const int sfd = signalfd(-1, &chld, SFD_CLOEXEC);
  pollfd fds[2] = {{fd, POLLIN, 0}, {sfd, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents != 0) {
      signalfd_siginfo info;
      while (read(sfd, &info, sizeof info) == sizeof info && false) {
      }
      int status = 0;
      pid_t p;
      while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
        const ServerMessage m{kExited, p, status};
        [[maybe_unused]] ssize_t r = send(fd, &m, sizeof m, MSG_NOSIGNAL);
      }
    }
    if (fds[0].revents != 0) {
      uint32_t index = 0;
      if (recv(fd, &index, sizeof index, 0) != sizeof index) _exit(0);  // the pool is gone
      // The server's pid, taken before the fork: a worker that reads getppid() after the
      // server died would see its new parent and never notice it was orphaned.
      const pid_t server = getpid();
      const pid_t pid = fork();
      if (pid == 0) {
        close(fd);
        close(sfd);
        sigprocmask(SIG_UNBLOCK, &chld, nullptr);
        run_worker(index, server);  // never returns
      }
      const ServerMessage m{kSpawned, pid, pid < 0 ? errno : 0};
      [[maybe_unused]] ssize_t r = send(fd, &m, sizeof m, MSG_NOSIGNAL);
    }
  }
}

// argv of this process, from /proc/self/cmdline: a spawned worker sees the same command line.
std::vector<std::string> own_argv() {
  std::ifstream f("/proc/self/cmdline", std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::string> out;
  for (std::size_t i = 0; i < all.size();) {
    const std::size_t end = all.find('\0', i);
    out.push_back(all.substr(i, end - i));
    if (end == std::string::npos) break;
    i = end + 1;
  }
  return out;
}

}  // namespace

ForkServer::ForkServer(std::function<void(uint32_t, pid_t)> run_worker) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    throw SegmentError(std::string("brine: socketpair for the fork server failed: ") + std::strerror(errno));
  }
  pid_ = fork();
  if (pid_ < 0) throw SegmentError(std::string("brine: fork of the fork server failed: ") + std::strerror(errno));
  if (pid_ == 0) {
    close(sv[0]);
    serve_forks(sv[1], run_worker);
  }
  close(sv[1]);
  fd_ = sv[0];
}

ForkServer::~ForkServer() {
  close(fd_);  // the server exits when its end of the socket closes
  int status;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

bool ForkServer::read_message() {
  ServerMessage m{};
  if (recv(fd_, &m, sizeof m, 0) != sizeof m) return false;
  if (m.kind == kExited) exits_[m.pid] = m.status;
  if (m.kind == kSpawned) spawned_ = m.pid;
  if (m.kind == kSpawned && m.pid < 0) errno = m.status;
  return true;
}

pid_t ForkServer::spawn(uint32_t index) {
  if (send(fd_, &index, sizeof index, MSG_NOSIGNAL) != sizeof index) return -1;
  spawned_ = 0;
  while (spawned_ == 0) {
    if (!read_message()) return -1;
  }
  return spawned_;
}

int ForkServer::exit_status(pid_t worker) {
  while (exits_.find(worker) == exits_.end()) {
    if (!read_message()) return 0;
  }
  const int status = exits_[worker];
  exits_.erase(worker);
  return status;
}

pid_t spawn_worker(int segment_fd, uint32_t index, const std::vector<std::string>& command) {
  const std::vector<std::string> args = command.empty() ? own_argv() : command;
  const char* program = command.empty() ? "/proc/self/exe" : command.front().c_str();
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const std::string spec = std::string(kWorkerEnv) + "=" + std::to_string(segment_fd) + ":" + std::to_string(index) +
                           ":" + std::to_string(getpid());
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "BRINE_WORKER=", 13) != 0) envp.push_back(*e);
  }
  envp.push_back(const_cast<char*>(spec.c_str()));
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // dup2 onto itself clears close-on-exec: the segment survives the exec, nothing else does.
  posix_spawn_file_actions_adddup2(&actions, segment_fd, segment_fd);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, program, &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    errno = rc;
    return -1;
  }
  return pid;
}

}  // namespace brine::detail

namespace brine {

void run_if_worker() {
  // `BRINE_PRINT_SCHEMA=NAME ./app` (or `brine schema ./app NAME`): the .fbs of a registered
  // function's call, then exit, as a worker would, before main() does anything else.
  if (const char* want = std::getenv("BRINE_PRINT_SCHEMA")) {
    try {
      const std::string text = FunctionRegistry::global().schema(want);
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
      _exit(0);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
      _exit(2);
    }
  }
  const char* spec = std::getenv(detail::kWorkerEnv);
  if (spec == nullptr) return;
  int fd = -1, parent = -1;
  unsigned index = 0;
  if (std::sscanf(spec, "%d:%u:%d", &fd, &index, &parent) != 3) _exit(detail::kWorkerExitBadParent);
  unsetenv(detail::kWorkerEnv);
  try {
    ipc::Segment segment = ipc::Segment::attach(fd);
    close(fd);
    auto* header = segment.at<ipc::SegmentHeader>(0);
    if (segment.size() < sizeof(ipc::SegmentHeader) || header->magic != ipc::kSegmentMagic ||
        header->version != ipc::kLayoutVersion || index >= header->max_workers ||
        header->total_size != segment.size()) {
      _exit(detail::kWorkerExitBadParent);
    }
    detail::WorkerProcess::run(segment.base(), header, index, nullptr, parent);
  } catch (...) {
    _exit(detail::kWorkerExitBadParent);
  }
}

}  // namespace brine
