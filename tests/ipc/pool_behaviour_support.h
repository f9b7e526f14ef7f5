// Helpers shared by the pool behaviour tests (failure matrix, lifecycle, start methods): files
// a task uses to say "I started" or to wait for a gate (they work whatever the start method,
// spawn included), naming a caught error, and scanning /proc for what a pool left behind.
#pragma once

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <typeinfo>
#include <vector>

#include "brine/core/error.h"

namespace brine::testing {

using namespace std::chrono_literals;

// A fresh directory for one test's marker files, removed by the destructor.
class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/brine-behaviour-XXXXXX";
    const char* p = mkdtemp(tmpl);
    path_ = p != nullptr ? p : "/tmp";
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Writes `pid` to `path` atomically (a task says it started, and where).
inline void announce(const std::string& path) {
  const std::string tmp = path + ".tmp" + std::to_string(getpid());
  {
    std::ofstream f(tmp);
    f << getpid();
  }
  std::rename(tmp.c_str(), path.c_str());
}

// Waits (bounded) for a task's announcement; its pid, or 0 if none came within `limit`.
inline int wait_announced(const std::string& path, std::chrono::milliseconds limit = 60'000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream f(path);
    int pid = 0;
    if (f >> pid && pid > 0) return pid;
    std::this_thread::sleep_for(1ms);
  }
  return 0;
}

// Blocks a task until `path` exists (or `limit` passed: a forgotten gate never hangs a test).
inline bool wait_gate(const std::string& path, std::chrono::milliseconds limit = 60'000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(path)) return true;
    std::this_thread::sleep_for(1ms);
  }
  return false;
}

inline void open_gate(const std::string& path) { std::ofstream(path) << "open"; }

// The public name of a caught exception: its demangled dynamic type (brine's errors are real
// classes, so "brine::WorkerCrashed", not an alias of a template).
inline std::string error_name(const std::exception& e) { return brine::demangle(typeid(e).name()); }

struct Caught {
  bool threw = false;
  std::string type;     // error_name()
  std::string message;  // what()
  bool has(const std::string& s) const { return message.find(s) != std::string::npos; }
};

// Runs `f` and reports what it threw, if anything.
template <class F>
Caught catch_of(F&& f) {
  try {
    f();
    return {};
  } catch (const std::exception& e) {
    return {true, error_name(e), e.what()};
  } catch (...) {
    return {true, "(not a std::exception)", ""};
  }
}

// Fields of /proc/<pid>/stat after the command: [0] state, [1] ppid, [2] pgrp.
inline std::vector<std::string> proc_stat(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return {};
  const auto close = line.rfind(')');
  if (close == std::string::npos) return {};
  std::vector<std::string> out;
  std::string field;
  for (std::size_t i = close + 2; i <= line.size(); ++i) {
    if (i == line.size() || line[i] == ' ') {
      out.push_back(field);
      field.clear();
    } else {
      field += line[i];
    }
  }
  return out;
}

inline int parent_of(int pid) {
  const auto s = proc_stat(pid);
  return s.size() > 1 ? std::atoi(s[1].c_str()) : 0;
}

// Live (non-zombie) processes whose process group is `pgrp`.
inline std::vector<int> processes_in_group(int pgrp) {
  std::vector<int> out;
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      const int pid = std::atoi(e->d_name);
      if (pid <= 0) continue;
      const auto s = proc_stat(pid);
      if (s.size() > 2 && s[0] != "Z" && std::atoi(s[2].c_str()) == pgrp) out.push_back(pid);
    }
    closedir(d);
  }
  return out;
}

// True if process `pid` holds a brine memfd segment (an fd to it, or a mapping of it).
inline bool holds_brine_memfd(int pid) {
  bool found = false;
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      char target[512];
      const ssize_t n = readlink((dir + "/" + e->d_name).c_str(), target, sizeof target - 1);
      if (n > 0) {
        target[n] = 0;
        found = found || std::string(target).find("memfd:brine-") != std::string::npos;
      }
    }
    closedir(d);
  }
  // A mapping without an fd keeps the memfd alive too.
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  for (std::string line; std::getline(maps, line);) found = found || line.find("memfd:brine-") != std::string::npos;
  return found;
}

// Waits (bounded) until `pred` holds; true if it did.
template <class Pred>
bool eventually(Pred&& pred, std::chrono::milliseconds limit = 30'000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

}  // namespace brine::testing
