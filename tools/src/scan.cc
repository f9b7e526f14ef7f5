#include "brine/tools/scan.h"

#include <dirent.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>

#include "brine/core/error.h"
#include "brine/tools/segment_reader.h"

namespace brine::tools {

namespace {

constexpr std::string_view kMemfdPrefix = "memfd:";
constexpr std::string_view kNamePrefix = "brine-";

// Names of the entries of `dir`, or nothing if it cannot be read.
std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') out.emplace_back(e->d_name);
    }
    closedir(d);
  }
  return out;
}

std::optional<pid_t> parse_pid(const std::string& s) {
  if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return static_cast<pid_t>(std::stol(s));
}

// The brine segment name in a /proc fd link or maps path ("/memfd:brine-1-ab (deleted)").
std::optional<std::string> segment_name(std::string_view text) {
  const auto at = text.find(std::string(kMemfdPrefix) + std::string(kNamePrefix));
  if (at == std::string_view::npos) return std::nullopt;
  std::string name(text.substr(at + kMemfdPrefix.size()));
  name = name.substr(0, name.find(' '));
  if (!owner_from_name(name)) return std::nullopt;
  return name;
}

std::string read_link(const std::string& path) {
  char buf[512];
  const ssize_t n = readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

// Does `pid` still hold segment `name` through an fd?
bool holds(pid_t pid, const std::string& name) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  for (const std::string& fd : list_dir(dir)) {
    if (segment_name(read_link(dir + "/" + fd)) == name) return true;
  }
  return false;
}

int pidfd_open(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }
int pidfd_send_signal(int pidfd, int sig) { return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0)); }

// SIGKILLs `pid` if it still holds `name` (checked after pinning the process with a pidfd, so
// a recycled pid is never signalled).
bool kill_holder(pid_t pid, const std::string& name, std::ostream& err) {
  const int pidfd = pidfd_open(pid);
  if (pidfd < 0) return false;  // already gone
  bool killed = false;
  if (holds(pid, name)) {
    killed = pidfd_send_signal(pidfd, SIGKILL) == 0;
    if (!killed) err << "brine clean: cannot kill pid " << pid << ": " << std::strerror(errno) << "\n";
  }
  close(pidfd);
  return killed;
}

}  // namespace

std::optional<pid_t> owner_from_name(const std::string& name) {
  if (name.rfind(kNamePrefix, 0) != 0) return std::nullopt;
  const std::string rest = name.substr(kNamePrefix.size());
  const auto dash = rest.find('-');
  if (dash == std::string::npos || dash + 1 == rest.size()) return std::nullopt;
  const std::string tail = rest.substr(dash + 1);
  if (!std::all_of(tail.begin(), tail.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); })) {
    return std::nullopt;
  }
  return parse_pid(rest.substr(0, dash));
}

bool process_alive(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return false;
  const auto close = line.rfind(')');
  return close != std::string::npos && line.size() > close + 2 && line[close + 2] != 'Z';
}

std::vector<FoundSegment> find_segments() {
  std::map<std::string, FoundSegment> found;
  for (const std::string& entry : list_dir("/proc")) {
    const std::optional<pid_t> pid = parse_pid(entry);
    if (!pid) continue;
    const std::string proc = "/proc/" + entry;
    std::set<std::string> held;
    for (const std::string& fd : list_dir(proc + "/fd")) {
      const std::string path = proc + "/fd/" + fd;
      if (auto name = segment_name(read_link(path))) {
        if (found[*name].path.empty()) found[*name].path = path;
        held.insert(*name);
      }
    }
    std::ifstream maps(proc + "/maps");
    for (std::string line; std::getline(maps, line);) {
      if (auto name = segment_name(line)) held.insert(*name);
    }
    for (const std::string& name : held) found[name].holders.push_back(*pid);
  }
  std::vector<FoundSegment> out;
  for (auto& [name, seg] : found) {
    seg.name = name;
    seg.owner = *owner_from_name(name);
    seg.owner_alive = std::find(seg.holders.begin(), seg.holders.end(), seg.owner) != seg.holders.end();
    out.push_back(std::move(seg));
  }
  return out;
}

std::vector<ShmEntry> find_shm_entries(const std::string& dir) {
  std::vector<ShmEntry> out;
  for (const std::string& name : list_dir(dir)) {
    if (name.rfind(kNamePrefix, 0) != 0) continue;
    ShmEntry e;
    e.path = dir + "/" + name;
    e.owner = owner_from_name(name).value_or(0);
    e.owner_alive = e.owner != 0 && process_alive(e.owner);
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const ShmEntry& a, const ShmEntry& b) { return a.path < b.path; });
  return out;
}

int clean(const CleanOptions& options, std::ostream& out, std::ostream& err) {
  const char* verb = options.dry_run ? "would " : "";
  int actions = 0;
  for (const ShmEntry& e : find_shm_entries(options.shm_dir)) {
    if (e.owner == 0 || e.owner_alive) continue;
    out << verb << "remove " << e.path << " (owner pid " << e.owner << " is gone)\n";
    ++actions;
    if (!options.dry_run && unlink(e.path.c_str()) != 0) {
      err << "brine clean: cannot remove " << e.path << ": " << std::strerror(errno) << "\n";
    }
  }
  for (const FoundSegment& seg : find_segments()) {
    if (seg.owner_alive || seg.path.empty()) continue;
    // Only processes the segment itself lists as its workers: never a tool that has it open.
    std::set<pid_t> workers;
    try {
      for (const WorkerSnapshot& w : SegmentReader::open(seg.path).snapshot().workers) workers.insert(w.pid);
    } catch (const Error& e) {
      err << "brine clean: skipping " << seg.name << ": " << e.what() << "\n";
      continue;
    }
    for (pid_t pid : seg.holders) {
      if (workers.count(pid) == 0) continue;
      out << verb << "kill pid " << pid << " (orphaned worker of " << seg.name << ", owner pid " << seg.owner
          << " is gone)\n";
      ++actions;
      if (!options.dry_run) kill_holder(pid, seg.name, err);
    }
  }
  if (actions == 0) out << "nothing to clean\n";
  return actions;
}

}  // namespace brine::tools
