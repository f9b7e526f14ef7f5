// Finding brine segments on this machine, and what `brine clean` may remove.
//
// A pool's segment is a memfd named "brine-<owner pid>-<64 random bits>" (see
// brine/ipc/segment.h): it has no file, so it is found through the processes that hold it,
// by their /proc/<pid>/fd links and /proc/<pid>/maps lines. It dies with its last holder.
// Named segments in /dev/shm ("brine-<owner pid>-...") outlive their processes and are what
// clean() unlinks once their owner is gone.
//
// Thread safety: free functions over /proc; the machine changes while they run, so every
// answer is a snapshot, and clean() re-checks each process before it signals it.
#pragma once

#include <sys/types.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace brine::tools {

// "brine-<pid>-<hex>" -> pid, for names made by brine::ipc::Segment; nullopt otherwise.
std::optional<pid_t> owner_from_name(const std::string& name);

struct FoundSegment {
  std::string name;          // brine-<pid>-<hex>
  pid_t owner = 0;           // from the name
  std::vector<pid_t> holders;  // processes with an fd or a mapping of it
  std::string path;          // /proc/<pid>/fd/<n> to open it; empty if only mapped
  bool owner_alive = false;  // the owner is one of the holders
};

// Every brine memfd segment held by a process we may inspect, sorted by name.
std::vector<FoundSegment> find_segments();

struct ShmEntry {
  std::string path;
  pid_t owner = 0;  // 0 if the name carries none
  bool owner_alive = false;
};

// Entries of `dir` named brine-*.
std::vector<ShmEntry> find_shm_entries(const std::string& dir = "/dev/shm");

bool process_alive(pid_t pid);

struct CleanOptions {
  bool dry_run = false;
  std::string shm_dir = "/dev/shm";
};

// Removes what dead owners left: /dev/shm entries of owners that are gone, and the worker
// processes (as listed in the segment's own worker table) still holding the memfd of a dead
// owner. Nothing else is touched. Writes one line per action to `out`; returns the number of
// actions taken (or that would be, with dry_run).
int clean(const CleanOptions& options, std::ostream& out, std::ostream& err);

}  // namespace brine::tools
