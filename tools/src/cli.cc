#include "brine/tools/cli.h"

#include <poll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <memory>
#include <nlohmann/json.hpp>
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

// Keys in the order they are set, so `--json` reads like the table beside it.
using Json = nlohmann::ordered_json;

// Where a command writes, and the status it leaves for run_cli() to return.
struct Io {
  std::ostream& out;
  std::ostream& err;
  int status = 0;
};

void print_json(const Json& j, std::ostream& out) {
  out << j.dump(-1, ' ', false, Json::error_handler_t::replace) << "\n";
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

// Runs a command with its output copied to `out` as it comes (a long run shows its progress);
// its stderr is ours. Returns its exit status, 128 + signal if it was killed, -1 if it did not run.
int run_process(const std::vector<std::string>& argv, std::ostream& out) {
  std::string line;
  for (const std::string& a : argv) {  // quoted for sh: '...' with each ' as '\''
    std::string quoted;
    for (char c : a) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    line += (line.empty() ? "'" : " '") + quoted + "'";
  }
  FILE* child = popen(line.c_str(), "r");
  if (child == nullptr) return -1;
  char buf[4096];
  for (ssize_t n; (n = read(fileno(child), buf, sizeof buf)) != 0;) {
    if (n > 0) out.write(buf, n).flush();
    if (n < 0 && errno != EINTR) break;
  }
  const int status = pclose(child);
  return status == -1 ? -1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
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

struct LsOptions {
  bool json = false;
};

int cmd_ls(const LsOptions& o, Io& io) {
  const std::vector<Listed> all = list_all();
  const std::vector<ShmEntry> shm = find_shm_entries();
  std::ostream& out = io.out;
  if (o.json) {
    Json segments = Json::array(), entries = Json::array();
    for (const Listed& l : all) {
      Json s = {{"name", l.seg.name}, {"owner_pid", l.seg.owner}, {"owner_alive", l.seg.owner_alive},
                {"holders", l.seg.holders}};
      if (l.pool) {
        s.update({{"size", l.pool->total_size}, {"arena_used", l.pool->arena_used}, {"arena_size", l.pool->arena_size},
                  {"live_workers", l.pool->live_workers}, {"max_workers", l.pool->max_workers}});
      } else {
        s["error"] = l.error;
      }
      segments.push_back(std::move(s));
    }
    for (const ShmEntry& e : shm) entries.push_back({{"path", e.path}, {"owner_pid", e.owner}, {"owner_alive", e.owner_alive}});
    print_json({{"segments", segments}, {"shm", entries}}, out);
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

// One worker's rates between two snapshots; zero if the worker was respawned in between.
struct WorkerRates {
  double tasks_per_second = 0;
  double busy = 0;  // fraction of the interval
};

WorkerRates rates(const WorkerSnapshot& was, const WorkerSnapshot& w, uint64_t dt) {
  if (was.pid != w.pid || dt == 0) return {};
  return {per_second(w.tasks_done, was.tasks_done, dt), static_cast<double>(w.busy_ns - was.busy_ns) / static_cast<double>(dt)};
}

void render_json(const std::string& name, const PoolSnapshot& a, const PoolSnapshot& b, std::ostream& out) {
  const uint64_t dt = b.time_ns - a.time_ns;
  Json workers = Json::array();
  for (std::size_t i = 0; i < b.workers.size(); ++i) {
    const WorkerSnapshot& w = b.workers[i];
    const WorkerRates r = rates(a.workers[i], w, dt);
    workers.push_back({{"index", w.index}, {"pid", w.pid}, {"state", to_string(w.state)}, {"tasks_done", w.tasks_done},
                       {"tasks_per_second", r.tasks_per_second}, {"busy", r.busy},
                       {"current_slot", w.current_slot == 0 ? -1 : static_cast<int64_t>(w.current_slot) - 1},
                       {"queued", w.queued}, {"ring_capacity", w.ring_capacity}, {"completions", w.completions},
                       {"rss", w.rss_bytes}});
  }
  print_json({{"name", name}, {"owner_pid", b.owner_pid}, {"size", b.total_size}, {"arena_used", b.arena_used},
              {"arena_size", b.arena_size}, {"live_workers", b.live_workers}, {"max_workers", b.max_workers},
              {"tasks_submitted", b.tasks_submitted}, {"tasks_completed", b.tasks_completed},
              {"workers_crashed", b.workers_crashed},
              {"tasks_per_second", per_second(b.tasks_completed, a.tasks_completed, dt)}, {"workers", workers}},
             out);
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
    const WorkerRates r = rates(a.workers[i], w, dt);
    s << std::setw(8) << w.index << std::setw(9) << w.pid << std::setw(10) << to_string(w.state) << std::setw(12)
      << w.tasks_done << std::setw(12) << r.tasks_per_second << std::setw(7) << std::min(100 * r.busy, 100.0)
      << std::setw(7) << (w.current_slot == 0 ? "-" : std::to_string(w.current_slot - 1)) << std::setw(11)
      << (std::to_string(w.queued) + "/" + std::to_string(w.ring_capacity)) << std::setw(13) << w.completions
      << (w.rss_bytes != 0 ? bytes(w.rss_bytes) : std::string("-")) << "\n";
  }
  out << s.str();
}

struct TopOptions {
  std::string pool;
  bool once = false;
  bool json = false;
  double interval_s = 1;
};

int cmd_top(const TopOptions& o, Io& io) {
  const std::optional<FoundSegment> seg = pick_pool(o.pool, io.err);
  if (!seg) return 1;
  const int owner = pidfd_open(seg->owner);
  if (owner < 0) {
    io.err << "brine top: the owner of " << seg->name << " is gone\n";
    return 1;
  }
  int status = 0;
  try {
    const SegmentReader reader = SegmentReader::open(seg->path);
    PoolSnapshot before = reader.snapshot();
    for (;;) {
      pollfd p{owner, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(o.interval_s * 1000)) > 0) {  // the owner exited
        io.err << "brine top: pool " << seg->name << " is gone (owner " << seg->owner << " exited)\n";
        break;
      }
      const PoolSnapshot now = reader.snapshot();
      if (!o.once && !o.json) io.out << "\x1b[H\x1b[2J";
      (o.json ? render_json : render_text)(seg->name, before, now, io.out);
      io.out.flush();
      if (o.once) break;
      before = now;
    }
  } catch (const Error& e) {
    io.err << "brine top: " << e.what() << "\n";
    status = 1;
  }
  close(owner);
  return status;
}

// ---- bench ------------------------------------------------------------------------------------

// Google Benchmark's comparison tool, from Debian's libbenchmark-tools.
constexpr const char* kCompareScript = "/usr/share/benchmark/compare.py";

struct BenchOptions {
  std::string build = BRINE_BINARY_DIR;
  bool quick = false;
  std::vector<std::string> compare;  // OLD.json NEW.json
};

int cmd_compare(const BenchOptions& o, Io& io) {
  struct stat st;
  if (stat(kCompareScript, &st) != 0) {
    io.err << "brine bench --compare: Google Benchmark's " << kCompareScript
           << " is missing; install libbenchmark-tools and python3-scipy (tools/install-deps.sh --bench)\n";
    return 1;
  }
  std::vector<std::string> argv = {"/usr/bin/python3", kCompareScript};
  if (&io.out != &std::cout || isatty(STDOUT_FILENO) == 0) argv.push_back("--no-color");
  argv.insert(argv.end(), {"benchmarks", o.compare[0], o.compare[1]});
  const int status = run_process(argv, io.out);
  if (status != 0) {
    io.err << "brine bench --compare: " << kCompareScript << " failed (exit " << status
           << "); it needs python3-scipy (tools/install-deps.sh --bench)\n";
  }
  return status == 0 ? 0 : 1;
}

int cmd_bench(const BenchOptions& o, Io& io) {
  if (!o.compare.empty()) return cmd_compare(o, io);
  const char* env_script = std::getenv("BRINE_BENCH_SCRIPT");
  const std::string script = env_script != nullptr ? env_script : BRINE_SOURCE_DIR "/bench/run_report.sh";
  struct stat st;
  if (stat(script.c_str(), &st) != 0) {
    io.err << "brine bench: the benchmark report script " << script
           << " is missing; set BRINE_BENCH_SCRIPT to it, or run from a brine source tree that has bench/\n";
    return 1;
  }
  std::vector<std::string> argv = {"bash", script, o.build};
  if (o.quick) argv.push_back("--quick");
  io.out << "brine bench: running " << script << " " << o.build << (o.quick ? " --quick" : "") << "\n";
  io.out.flush();
  // The script prints a line per suite and, at the end, the targets' PASS/MISS list.
  return run_process(argv, io.out) == 0 ? 0 : 1;
}

// ---- schema -----------------------------------------------------------------------------------

struct SchemaOptions {
  std::string program;
  std::string function = "*";
};

int cmd_schema(const SchemaOptions& o, Io& io) {
  const int status = run_process({"env", "BRINE_PRINT_SCHEMA=" + o.function, o.program}, io.out);
  if (status == 0) return 0;
  io.err << "brine schema: " << o.program << " exited with status " << status
         << "; it must call brine::run_if_worker() first in main() (which prints the schema and exits) and register "
         << (o.function == "*" ? std::string("its functions") : "'" + o.function + "'") << " with BRINE_REGISTER\n";
  return 1;
}

// ---- the command line -------------------------------------------------------------------------
//
// A command is a CLI11 subcommand: its options live in a struct the callback owns, and the
// callback leaves the command's exit status in Io. Adding one is a function like these.

void add_ls(CLI::App& app, Io& io) {
  auto o = std::make_shared<LsOptions>();
  CLI::App* c = app.add_subcommand("ls", "list every brine segment on this machine");
  c->footer(
      "Lists every brine pool segment (memfd brine-<owner pid>-<random>) held by a process: name, owner pid,\n"
      "whether the owner is alive, size, arena use, live workers, and the pids that hold it; then the\n"
      "brine-* entries of /dev/shm.");
  c->add_flag("--json", o->json, "one JSON object: {\"segments\": [...], \"shm\": [...]}");
  c->callback([o, &io] { io.status = cmd_ls(*o, io); });
}

void add_clean(CLI::App& app, Io& io) {
  auto o = std::make_shared<CleanOptions>();
  CLI::App* c = app.add_subcommand("clean", "remove what dead pools left behind");
  c->footer(
      "Removes /dev/shm/brine-* entries whose owner is gone, and kills the worker processes (as listed in\n"
      "the segment's worker table) that still hold the segment of a dead owner. Nothing else.");
  c->add_flag("--dry-run", o->dry_run, "print what would be done, do nothing");
  c->callback([o, &io] {
    clean(*o, io.out, io.err);
    io.status = 0;
  });
}

void add_top(CLI::App& app, Io& io) {
  auto o = std::make_shared<TopOptions>();
  CLI::App* c = app.add_subcommand("top", "live view of one pool");
  c->footer(
      "Shows per worker: pid, state, tasks done, tasks/s, busy %, current slot, submission ring\n"
      "occupancy, pending completions; and the pool's arena use and task counters. Refreshes every\n"
      "interval until the pool exits or Ctrl-C. Without a pool argument, the only live pool.");
  c->add_option("POOL", o->pool, "owner pid or segment name")->type_name("OWNER_PID|SEGMENT_NAME");
  c->add_flag("--once", o->once, "print one frame (rates over one interval) and exit");
  c->add_flag("--json", o->json, "print frames as JSON objects, one per line");
  c->add_option("--interval", o->interval_s, "seconds between frames, e.g. 0.5")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 3600.0));
  c->callback([o, &io] { io.status = cmd_top(*o, io); });
}

void add_bench(CLI::App& app, Io& io) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* c = app.add_subcommand("bench", "run the benchmark report, or compare two runs");
  c->footer(
      "Runs bench/run_report.sh BUILD_DIR, which runs every benchmark suite (a line per suite) and renders\n"
      "bench/report/REPORT.md, then prints the targets' PASS/MISS list. BRINE_BENCH_SCRIPT overrides the\n"
      "script. With --compare, prints the change per row between two Google Benchmark JSON files (e.g. two\n"
      "copies of bench/report/raw/serialization.json) with Google Benchmark's compare.py: negative is faster.");
  CLI::Option* build = c->add_option("BUILD_DIR", o->build, "the build to run (default: the one this CLI came from)");
  CLI::Option* quick = c->add_flag("--quick", o->quick, "every benchmark about once, on tiny sizes");
  c->add_option("--compare", o->compare, "compare two runs instead of running one")
      ->expected(2)
      ->type_name("OLD.json NEW.json")
      ->check(CLI::ExistingFile)
      ->excludes(build)
      ->excludes(quick);
  c->callback([o, &io] { io.status = cmd_bench(*o, io); });
}

void add_schema(CLI::App& app, Io& io) {
  auto o = std::make_shared<SchemaOptions>();
  CLI::App* c = app.add_subcommand("schema", "print the FlatBuffers schema of a program's registered functions");
  c->footer(
      "Runs PROGRAM with BRINE_PRINT_SCHEMA=FUNCTION: brine::run_if_worker() prints the .fbs of the call's\n"
      "signature table (field i is argument i; the root of brine::dump_call's bytes) and of its result, then\n"
      "exits. Without FUNCTION, every function registered by name. flatc compiles it into readers of brine's\n"
      "bytes for any language. For one type, print brine::schema_of<T>() in your program.");
  c->add_option("PROGRAM", o->program, "a program linked with brine")->required()->check(CLI::ExistingFile);
  c->add_option("FUNCTION", o->function, "a registered name (default: all of them)");
  c->callback([o, &io] { io.status = cmd_schema(*o, io); });
}

// `brine help [COMMAND]`, as `--help`; not listed.
void add_help(CLI::App& app, Io& io) {
  auto topic = std::make_shared<std::string>();
  CLI::App* c = app.add_subcommand("help", "")->group("");
  c->add_option("COMMAND", *topic);
  c->callback([topic, &app, &io] {
    const std::vector<CLI::App*> named = app.get_subcommands([&](CLI::App* sub) { return sub->get_name() == *topic; });
    io.out << (named.empty() ? app.get_formatter()->make_help(&app, app.get_name(), CLI::AppFormatMode::Normal)
                             : named[0]->help(app.get_name()));
    io.status = 0;
  });
}

}  // namespace

int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CLI::App app("Inspect brine pools on this machine, clean up after dead ones, run the benchmarks.", "brine");
  app.get_formatter()->label("Usage", "usage");
  app.footer("brine COMMAND --help for details.");
  app.require_subcommand(0, 1);
  Io io{out, err};
  add_ls(app, io);
  add_clean(app, io);
  add_top(app, io);
  add_bench(app, io);
  add_schema(app, io);
  add_help(app, io);
  try {
    app.parse(std::vector<std::string>(args.rbegin(), args.rend()));  // CLI11 takes them last first
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e, out, err);
    if (app.get_subcommands().empty() && !args.empty() && args[0].rfind('-', 0) != 0) {
      err << "brine: unknown command '" << args[0] << "'\n" << app.help();
    } else {
      app.exit(e, out, err);
    }
    return 2;
  }
  if (app.get_subcommands().empty()) {  // no command: the overview, on stderr
    err << app.help();
    return 2;
  }
  return io.status;
}

}  // namespace brine::tools
