#include "brine/tools/cli.h"

#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iomanip>
#include <sstream>

#include "brine/core/error.h"
#include "brine/tools/scan.h"
#include "brine/tools/segment_reader.h"

#ifndef BRINE_SOURCE_DIR
#define BRINE_SOURCE_DIR "."
#endif
#ifndef BRINE_BINARY_DIR
#define BRINE_BINARY_DIR "build/release"
#endif

namespace brine::tools {

namespace {

using Args = std::vector<std::string>;

struct Command {
  const char* name;
  const char* summary;
  const char* usage;
  int (*run)(const Args& args, std::ostream& out, std::ostream& err);
};

bool has_flag(const Args& args, std::string_view flag) { return std::find(args.begin(), args.end(), flag) != args.end(); }

// The value after `--name`, or `fallback`.
std::string option(const Args& args, std::string_view name, std::string fallback) {
  auto it = std::find(args.begin(), args.end(), name);
  return it != args.end() && it + 1 != args.end() ? *(it + 1) : fallback;
}

// Arguments that are neither flags nor the value of `--interval`.
Args positional(const Args& args) {
  Args out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--interval") {
      ++i;
    } else if (args[i].rfind("--", 0) != 0) {
      out.push_back(args[i]);
    }
  }
  return out;
}

std::string bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

template <class T, class F>
std::string json_list(const std::vector<T>& items, F&& item) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + item(items[i]);
  return out + "]";
}

// ---- ls ---------------------------------------------------------------------------------------

struct Listed {
  FoundSegment seg;
  std::optional<PoolSnapshot> pool;
  std::string error;
};

std::vector<Listed> list_all() {
  std::vector<Listed> out;
  for (FoundSegment& seg : find_segments()) {
    Listed l{std::move(seg), std::nullopt, ""};
    if (l.seg.path.empty()) {
      l.error = "mapped but no fd to open it";
    } else {
      try {
        l.pool = SegmentReader::open(l.seg.path).snapshot();
      } catch (const Error& e) {
        l.error = e.what();
      }
    }
    out.push_back(std::move(l));
  }
  return out;
}

int cmd_ls(const Args& args, std::ostream& out, std::ostream&) {
  const std::vector<Listed> all = list_all();
  const std::vector<ShmEntry> shm = find_shm_entries();
  auto pids = [](const std::vector<pid_t>& v) { return json_list(v, [](pid_t p) { return std::to_string(p); }); };
  if (has_flag(args, "--json")) {
    out << "{\"segments\":" << json_list(all, [&](const Listed& l) {
      std::string s = "{\"name\":" + json_string(l.seg.name) + ",\"owner_pid\":" + std::to_string(l.seg.owner) +
                      ",\"owner_alive\":" + (l.seg.owner_alive ? "true" : "false") + ",\"holders\":" + pids(l.seg.holders);
      if (l.pool) {
        s += ",\"size\":" + std::to_string(l.pool->total_size) + ",\"arena_used\":" + std::to_string(l.pool->arena_used) +
             ",\"arena_size\":" + std::to_string(l.pool->arena_size) + ",\"live_workers\":" +
             std::to_string(l.pool->live_workers) + ",\"max_workers\":" + std::to_string(l.pool->max_workers);
      } else {
        s += ",\"error\":" + json_string(l.error);
      }
      return s + "}";
    }) << ",\"shm\":" << json_list(shm, [](const ShmEntry& e) {
      return "{\"path\":" + json_string(e.path) + ",\"owner_pid\":" + std::to_string(e.owner) +
             ",\"owner_alive\":" + (e.owner_alive ? "true" : "false") + "}";
    }) << "}\n";
    return 0;
  }
  if (all.empty() && shm.empty()) {
    out << "no brine segments\n";
    return 0;
  }
  out << std::left << std::setw(34) << "NAME" << std::setw(9) << "OWNER" << std::setw(7) << "STATE" << std::setw(11)
      << "SIZE" << std::setw(22) << "ARENA USED" << std::setw(9) << "WORKERS" << "HOLDERS\n";
  for (const Listed& l : all) {
    std::string holders;
    for (pid_t p : l.seg.holders) holders += (holders.empty() ? "" : ",") + std::to_string(p);
    out << std::setw(34) << l.seg.name << std::setw(9) << l.seg.owner << std::setw(7)
        << (l.seg.owner_alive ? "alive" : "dead");
    if (l.pool) {
      out << std::setw(11) << bytes(l.pool->total_size) << std::setw(22)
          << (bytes(l.pool->arena_used) + " / " + bytes(l.pool->arena_size)) << std::setw(9)
          << (std::to_string(l.pool->live_workers) + "/" + std::to_string(l.pool->max_workers)) << holders << "\n";
    } else {
      out << holders << "  (" << l.error << ")\n";
    }
  }
  for (const ShmEntry& e : shm) {
    out << std::setw(34) << e.path << std::setw(9) << e.owner << std::setw(7) << (e.owner_alive ? "alive" : "dead")
        << "(named segment in /dev/shm)\n";
  }
  return 0;
}

// ---- clean ------------------------------------------------------------------------------------

int cmd_clean(const Args& args, std::ostream& out, std::ostream& err) {
  CleanOptions options;
  options.dry_run = has_flag(args, "--dry-run");
  clean(options, out, err);
  return 0;
}

// ---- top --------------------------------------------------------------------------------------

int pidfd_open(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

// The live segment `which` names (owner pid or segment name), or the only one if empty.
std::optional<FoundSegment> pick_pool(const std::string& which, std::ostream& err) {
  std::vector<FoundSegment> live;
  for (FoundSegment& s : find_segments()) {
    if (s.owner_alive && !s.path.empty() && (which.empty() || which == s.name || which == std::to_string(s.owner))) {
      live.push_back(std::move(s));
    }
  }
  if (live.size() == 1) return live.front();
  if (live.empty()) {
    err << "brine top: no live pool" << (which.empty() ? "" : " matches '" + which + "'") << "; see `brine ls`\n";
  } else {
    err << "brine top: " << live.size() << " live pools; name one (owner pid or segment name):\n";
    for (const FoundSegment& s : live) err << "  " << s.name << "  (owner " << s.owner << ")\n";
  }
  return std::nullopt;
}

double per_second(uint64_t now, uint64_t before, uint64_t dt_ns) {
  return dt_ns == 0 ? 0.0 : static_cast<double>(now - before) * 1e9 / static_cast<double>(dt_ns);
}

void render_json(const std::string& name, const PoolSnapshot& a, const PoolSnapshot& b, std::ostream& out) {
  const uint64_t dt = b.time_ns - a.time_ns;
  std::ostringstream s;
  s << "{\"name\":" << json_string(name) << ",\"owner_pid\":" << b.owner_pid << ",\"size\":" << b.total_size
    << ",\"arena_used\":" << b.arena_used << ",\"arena_size\":" << b.arena_size << ",\"live_workers\":" << b.live_workers
    << ",\"max_workers\":" << b.max_workers << ",\"tasks_submitted\":" << b.tasks_submitted
    << ",\"tasks_completed\":" << b.tasks_completed << ",\"workers_crashed\":" << b.workers_crashed
    << ",\"tasks_per_second\":" << per_second(b.tasks_completed, a.tasks_completed, dt) << ",\"workers\":[";
  for (std::size_t i = 0; i < b.workers.size(); ++i) {
    const WorkerSnapshot& w = b.workers[i];
    const WorkerSnapshot& was = a.workers[i];
    const bool same = was.pid == w.pid;
    s << (i ? "," : "") << "{\"index\":" << w.index << ",\"pid\":" << w.pid << ",\"state\":\"" << to_string(w.state)
      << "\",\"tasks_done\":" << w.tasks_done << ",\"tasks_per_second\":"
      << (same ? per_second(w.tasks_done, was.tasks_done, dt) : 0.0)
      << ",\"busy\":" << (same && dt ? static_cast<double>(w.busy_ns - was.busy_ns) / static_cast<double>(dt) : 0.0)
      << ",\"current_slot\":" << (w.current_slot == 0 ? -1 : static_cast<int64_t>(w.current_slot) - 1)
      << ",\"queued\":" << w.queued << ",\"ring_capacity\":" << w.ring_capacity << ",\"completions\":" << w.completions
      << ",\"rss\":" << w.rss_bytes << "}";
  }
  s << "]}\n";
  out << s.str();
}

void render_text(const std::string& name, const PoolSnapshot& a, const PoolSnapshot& b, std::ostream& out) {
  const uint64_t dt = b.time_ns - a.time_ns;
  std::ostringstream s;
  s << std::fixed << std::setprecision(1);
  s << name << "  owner " << b.owner_pid << "  workers " << b.live_workers << "/" << b.max_workers << "  arena "
    << bytes(b.arena_used) << " / " << bytes(b.arena_size) << "\n"
    << "tasks " << b.tasks_submitted << " submitted, " << b.tasks_completed << " completed, "
    << b.tasks_submitted - b.tasks_completed << " in flight, " << b.workers_crashed << " crashed, "
    << per_second(b.tasks_completed, a.tasks_completed, dt) << " tasks/s\n\n";
  s << std::left << std::setw(8) << "WORKER" << std::setw(9) << "PID" << std::setw(10) << "STATE" << std::setw(12)
    << "DONE" << std::setw(12) << "TASKS/S" << std::setw(7) << "BUSY%" << std::setw(7) << "SLOT" << std::setw(11)
    << "QUEUED" << std::setw(13) << "COMPLETIONS" << "RSS\n";
  for (std::size_t i = 0; i < b.workers.size(); ++i) {
    const WorkerSnapshot& w = b.workers[i];
    const WorkerSnapshot& was = a.workers[i];
    const bool same = was.pid == w.pid;
    const double busy = same && dt ? 100.0 * static_cast<double>(w.busy_ns - was.busy_ns) / static_cast<double>(dt) : 0.0;
    s << std::setw(8) << w.index << std::setw(9) << w.pid << std::setw(10) << to_string(w.state) << std::setw(12)
      << w.tasks_done << std::setw(12) << (same ? per_second(w.tasks_done, was.tasks_done, dt) : 0.0) << std::setw(7)
      << std::min(busy, 100.0) << std::setw(7) << (w.current_slot == 0 ? "-" : std::to_string(w.current_slot - 1))
      << std::setw(11) << (std::to_string(w.queued) + "/" + std::to_string(w.ring_capacity)) << std::setw(13)
      << w.completions << (w.rss_bytes != 0 ? bytes(w.rss_bytes) : std::string("-")) << "\n";
  }
  out << s.str();
}

int cmd_top(const Args& args, std::ostream& out, std::ostream& err) {
  const Args pos = positional(args);
  const bool once = has_flag(args, "--once");
  const bool json = has_flag(args, "--json");
  const double interval_s = std::strtod(option(args, "--interval", "1").c_str(), nullptr);
  if (!(interval_s > 0 && interval_s < 3600)) {
    err << "brine top: --interval takes seconds, e.g. 0.5\n";
    return 2;
  }
  const std::optional<FoundSegment> seg = pick_pool(pos.empty() ? "" : pos[0], err);
  if (!seg) return 1;
  const int owner = pidfd_open(seg->owner);
  if (owner < 0) {
    err << "brine top: the owner of " << seg->name << " is gone\n";
    return 1;
  }
  int status = 0;
  try {
    const SegmentReader reader = SegmentReader::open(seg->path);
    PoolSnapshot before = reader.snapshot();
    for (;;) {
      pollfd p{owner, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(interval_s * 1000)) > 0) {  // the owner exited
        err << "brine top: pool " << seg->name << " is gone (owner " << seg->owner << " exited)\n";
        break;
      }
      const PoolSnapshot now = reader.snapshot();
      if (!once && !json) out << "\x1b[H\x1b[2J";
      (json ? render_json : render_text)(seg->name, before, now, out);
      out.flush();
      if (once) break;
      before = now;
    }
  } catch (const Error& e) {
    err << "brine top: " << e.what() << "\n";
    status = 1;
  }
  close(owner);
  return status;
}

// ---- bench ------------------------------------------------------------------------------------

int cmd_bench(const Args& args, std::ostream& out, std::ostream& err) {
  const char* env_script = std::getenv("BRINE_BENCH_SCRIPT");
  const std::string script = env_script != nullptr ? env_script : BRINE_SOURCE_DIR "/bench/run_report.sh";
  struct stat st;
  if (stat(script.c_str(), &st) != 0) {
    err << "brine bench: the benchmark report script " << script
        << " is missing; set BRINE_BENCH_SCRIPT to it, or run from a brine source tree that has bench/\n";
    return 1;
  }
  const Args pos = positional(args);
  const std::string build = !pos.empty() ? pos[0] : BRINE_BINARY_DIR;
  std::vector<std::string> argv = {"bash", script, build};
  if (has_flag(args, "--quick")) argv.push_back("--quick");
  out << "brine bench: running " << script << " " << build << (has_flag(args, "--quick") ? " --quick" : "") << "\n";
  out.flush();
  std::vector<char*> cargv;
  for (std::string& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  execvp("bash", cargv.data());
  err << "brine bench: cannot run bash: " << std::strerror(errno) << "\n";
  return 1;
}

const Command kCommands[] = {
    {"ls", "list every brine segment on this machine",
     "brine ls [--json]\n"
     "  Lists every brine pool segment (memfd brine-<owner pid>-<random>) held by a process: name, owner pid,\n"
     "  whether the owner is alive, size, arena use, live workers, and the pids that hold it; then the\n"
     "  brine-* entries of /dev/shm.\n"
     "  --json   one JSON object: {\"segments\": [...], \"shm\": [...]}\n",
     cmd_ls},
    {"clean", "remove what dead pools left behind",
     "brine clean [--dry-run]\n"
     "  Removes /dev/shm/brine-* entries whose owner is gone, and kills the worker processes (as listed in\n"
     "  the segment's worker table) that still hold the segment of a dead owner. Nothing else.\n"
     "  --dry-run   print what would be done, do nothing\n",
     cmd_clean},
    {"top", "live view of one pool",
     "brine top [OWNER_PID | SEGMENT_NAME] [--once] [--json] [--interval SECONDS]\n"
     "  Shows per worker: pid, state, tasks done, tasks/s, busy %, current slot, submission ring\n"
     "  occupancy, pending completions, resident memory (RSS); and the pool's arena use and task counters. Refreshes every\n"
     "  interval (default 1 s) until the pool exits or Ctrl-C. Without a pool argument, the only live pool.\n"
     "  --once       print one frame (rates over one interval) and exit\n"
     "  --json       print frames as JSON objects, one per line\n",
     cmd_top},
    {"bench", "run the benchmark report",
     "brine bench [BUILD_DIR] [--quick]\n"
     "  Runs bench/run_report.sh BUILD_DIR (default: the build this CLI came from), which runs every\n"
     "  benchmark suite and renders bench/report/REPORT.md. BRINE_BENCH_SCRIPT overrides the script.\n"
     "  --quick   every benchmark about once, on tiny sizes\n",
     cmd_bench},
};

void usage(std::ostream& out) {
  out << "usage: brine <command> [options]   (brine <command> --help for details)\n\ncommands:\n";
  for (const Command& c : kCommands) out << "  " << std::left << std::setw(8) << c.name << c.summary << "\n";
}

}  // namespace

int run_cli(const Args& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    usage(args.empty() ? err : out);
    return args.empty() ? 2 : 0;
  }
  for (const Command& c : kCommands) {
    if (args[0] != c.name) continue;
    const Args rest(args.begin() + 1, args.end());
    if (has_flag(rest, "--help") || has_flag(rest, "-h")) {
      out << "usage: " << c.usage;
      return 0;
    }
    return c.run(rest, out, err);
  }
  err << "brine: unknown command '" << args[0] << "'\n";
  usage(err);
  return 2;
}

}  // namespace brine::tools
