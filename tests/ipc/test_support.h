// Helpers for tests that fork: what a pool leaves behind.
#pragma once

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace brine::testing {

// Names in /dev/shm that mention brine.
inline std::set<std::string> brine_shm_entries() {
  std::set<std::string> out;
  if (DIR* d = opendir("/dev/shm")) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.find("brine") != std::string::npos) out.insert(n);
    }
    closedir(d);
  }
  return out;
}

// Our fds that point at a brine memfd segment.
inline std::vector<std::string> brine_memfds() {
  std::vector<std::string> out;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) {
      char target[512];
      const std::string path = std::string("/proc/self/fd/") + e->d_name;
      const ssize_t n = readlink(path.c_str(), target, sizeof target - 1);
      if (n > 0) {
        target[n] = 0;
        if (std::string(target).find("memfd:brine-") != std::string::npos) out.push_back(target);
      }
    }
    closedir(d);
  }
  return out;
}

// Live children of this process (all threads).
inline std::vector<int> child_pids() {
  std::vector<int> out;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) {
      std::ifstream f(std::string("/proc/self/task/") + e->d_name + "/children");
      int pid;
      while (f >> pid) out.push_back(pid);
    }
    closedir(d);
  }
  return out;
}

inline bool process_exists(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  if (!f) return false;
  std::string line;
  std::getline(f, line);
  const auto close = line.rfind(')');
  return close != std::string::npos && line.size() > close + 2 && line[close + 2] != 'Z';
}

}  // namespace brine::testing
