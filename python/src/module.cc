// brine._brine: the Python binding of brine's pool (pybind11).
//
// A Python task is one registered C++ function, "brine.python.call": its arguments are a pickle
// stream (protocol 5), the stream's out-of-band buffers (each a brine::SharedVector<uint8_t>, so
// it always travels by reference: a buffer already in the arena costs nothing, any other is copied
// once into an arena block), the pool's configuration blob (pickled initializer and reducers) and
// the pickler's id. The worker takes the GIL, hands them to brine._worker_side.run_task, and
// returns what it returns the same way: a status, a pickle stream, and out-of-band buffers.
//
// Threads and the GIL:
//  - every call into brine's C++ pool that may block (construct, submit, shutdown, cancel)
//    releases the GIL first, so brine's threads can take it;
//  - a task's completion runs on whichever brine thread completes it (the collector, or a
//    thread that cancels or shuts down): it takes the GIL to complete the Python future;
//  - brine forks workers (fork, and the fork server) from its monitor thread, a thread Python
//    does not know. A pthread_atfork handler takes the GIL around such a fork, so the child's
//    interpreter is in a consistent state (the forking thread owns it); the child's first task
//    calls PyOS_AfterFork_Child, as os.fork() does.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "brine/brine.h"
#include "brine/python/native.h"

namespace py = pybind11;

namespace brine_python {

// What a Python task returns: status 0 = value, 1 = the task raised (the stream pickles the
// exception and its formatted traceback).
struct Outcome {
  uint8_t status = 0;
  std::vector<uint8_t> stream;
  std::vector<brine::SharedVector<uint8_t>> buffers;
};

Outcome python_call(std::span<const uint8_t> stream, std::vector<brine::SharedVector<uint8_t>> buffers,
                    std::span<const uint8_t> config, uint8_t pickler);

}  // namespace brine_python

namespace brine::python {
namespace {
std::mutex& natives_mu() {
  static std::mutex mu;
  return mu;
}
std::map<std::string, Submitter>& natives() {
  static auto* m = new std::map<std::string, Submitter>();
  return *m;
}
}  // namespace

// Called by BRINE_PYTHON_NATIVE in users' libraries (resolved against this module, loaded
// RTLD_GLOBAL by the brine package).
__attribute__((visibility("default"))) void register_native(const char* name, Submitter submitter) {
  std::lock_guard lock(natives_mu());
  natives()[name] = submitter;
}
}  // namespace brine::python

template <>
struct brine::Reducer<brine_python::Outcome>
    : brine::Fields<&brine_python::Outcome::status, &brine_python::Outcome::stream, &brine_python::Outcome::buffers> {};

BRINE_REGISTER_AS(brine_python::python_call, "brine.python.call");

namespace brine_python {

namespace {

// False once the interpreter is finalizing: a completion then has nobody to tell.
std::atomic<bool> g_python_alive{true};
// Set in a worker started by exec (spawn): its interpreter is its own, nothing to repair.
bool g_spawned_worker = false;
// The process whose interpreter state was last repaired after a fork (see python_call).
pid_t g_repaired_pid = -1;
PyThreadState* g_worker_tstate = nullptr;

bool python_usable() { return g_python_alive.load(std::memory_order_acquire) && Py_IsInitialized() && !_Py_IsFinalizing(); }

// pthread_atfork: a fork by a thread that does not hold the GIL (brine's monitor) takes it
// first, so that the child inherits an interpreter whose every lock is free or held by the
// forking thread, which lives on in the child. A thread that holds it (os.fork(), the fork
// server's single thread) forks as it is.
thread_local bool t_fork_took_gil = false;
thread_local PyGILState_STATE t_fork_gil_state;
void before_fork() {
  if (!python_usable() || PyGILState_Check() != 0) return;
  t_fork_gil_state = PyGILState_Ensure();
  t_fork_took_gil = true;
}
void after_fork_parent() {
  if (!t_fork_took_gil) return;
  t_fork_took_gil = false;
  PyGILState_Release(t_fork_gil_state);
}
void after_fork_child() { t_fork_took_gil = false; }  // the child keeps the GIL; its first task repairs

// Takes the GIL on any thread; a brine thread keeps its Python thread state between calls.
class Gil {
 public:
  Gil() {
    if (!t_kept) {
      acquire_.inc_ref();
      t_kept = true;
    }
  }

 private:
  static thread_local bool t_kept;
  py::gil_scoped_acquire acquire_;
};
thread_local bool Gil::t_kept = false;

// A block of shared memory seen from Python through the buffer protocol. `owner` keeps it alive
// (an arena block's handle in the parent; nullptr for memory owned by the running task).
struct Block {
  std::shared_ptr<const void> owner;
  uint8_t* data = nullptr;
  std::size_t size = 0;
  bool readonly = true;
};

// The bytes of any object exporting a contiguous buffer, held (exported) while this lives.
// Destroy it with the GIL.
class ByteView {
 public:
  explicit ByteView(const py::handle& obj) {
    if (PyObject_GetBuffer(obj.ptr(), &view_, PyBUF_ANY_CONTIGUOUS) != 0) throw py::error_already_set();
  }
  ~ByteView() { PyBuffer_Release(&view_); }
  ByteView(const ByteView&) = delete;
  ByteView& operator=(const ByteView&) = delete;
  uint8_t* data() const { return static_cast<uint8_t*>(view_.buf); }
  std::size_t size() const { return static_cast<std::size_t>(view_.len); }

 private:
  Py_buffer view_{};
};

std::unique_ptr<ByteView> byte_view(const py::handle& obj) { return std::make_unique<ByteView>(obj); }

// What the worker keeps for the encoder after python_call returns: the buffers' exports.
std::vector<std::unique_ptr<ByteView>>& worker_keepalive() {
  static auto* keep = new std::vector<std::unique_ptr<ByteView>>();
  return *keep;
}

}  // namespace

Outcome python_call(std::span<const uint8_t> stream, std::vector<brine::SharedVector<uint8_t>> buffers,
                    std::span<const uint8_t> config, uint8_t pickler) {
  if (!g_spawned_worker && g_repaired_pid != getpid()) {
    // The first task in a forked worker: this thread owns the GIL it inherited. Repair the
    // interpreter as os.fork() does in its child, then let the GIL go between tasks.
    PyOS_AfterFork_Child();
    g_repaired_pid = getpid();
    g_worker_tstate = PyEval_SaveThread();
  }
  py::gil_scoped_acquire gil;
  worker_keepalive().clear();
  Outcome out;
  try {
    static py::object run_task = py::module_::import("brine._worker_side").attr("run_task");
    py::list views;
    for (auto& b : buffers) {
      // A read-only exporter of its own: arrays built on it hold a reference to it, which is how
      // brine._worker_side tells that a task kept one (memoryviews would hide that).
      views.append(py::cast(Block{nullptr, b.data(), b.size(), true}));
    }
    py::object s = py::memoryview::from_memory(const_cast<uint8_t*>(stream.data()), static_cast<py::ssize_t>(stream.size()), true);
    py::object c = py::memoryview::from_memory(const_cast<uint8_t*>(config.data()), static_cast<py::ssize_t>(config.size()), true);
    py::tuple r = run_task(s, views, c, pickler);
    out.status = r[0].cast<uint8_t>();
    {
      auto v = byte_view(r[1]);
      out.stream.assign(v->data(), v->data() + v->size());
    }
    for (const py::handle b : r[2].cast<py::list>()) {
      auto v = byte_view(b);
      out.buffers.emplace_back(nullptr, v->data(), v->size());
      worker_keepalive().push_back(std::move(v));
    }
    // Releasing the views' memoryviews is fine: the exports above pin the memory until the next task.
  } catch (py::error_already_set& e) {
    throw std::runtime_error(std::string("brine's Python worker failed outside the task: ") + e.what());
  }
  return out;
}

namespace {

// Waits for a task with the GIL released, through its future's wait_for, which settles
// completions on this thread as a C++ future's wait does: the result is delivered here, with no
// wake-up of brine's collector thread in between. False once `timeout` seconds passed
// (negative: no limit). Wakes every 50 ms to run Python's signal handlers, so Ctrl-C raises
// KeyboardInterrupt in the waiting thread.
bool wait_interruptibly(const std::function<bool(std::chrono::nanoseconds)>& wait_for, double timeout) {
  using namespace std::chrono;
  const auto deadline = steady_clock::now() + duration_cast<steady_clock::duration>(duration<double>(std::max(timeout, 0.0)));
  for (;;) {
    nanoseconds slice = milliseconds(50);
    if (timeout >= 0) slice = std::min(slice, duration_cast<nanoseconds>(std::max(deadline - steady_clock::now(), steady_clock::duration::zero())));
    bool finished = false;
    {
      py::gil_scoped_release release;
      finished = wait_for(slice);
    }
    if (finished) return true;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (timeout >= 0 && steady_clock::now() >= deadline) return false;
  }
}

// The Python side of one submitted task: cancel() and the brine future.
class Task {
 public:
  explicit Task(brine::Future<Outcome> f) : future_(std::move(f)) {}
  bool cancel() { return future_.cancel(); }
  bool done() const { return future_.done(); }
  bool wait(double timeout) {
    return wait_interruptibly([this](std::chrono::nanoseconds t) { return future_.wait_for(t); }, timeout);
  }

 private:
  brine::Future<Outcome> future_;
};

brine::StartMethod parse_start_method(const std::string& m) {
  if (m == "forkserver") return brine::StartMethod::kForkServer;
  if (m == "fork") return brine::StartMethod::kFork;
  if (m == "spawn") return brine::StartMethod::kSpawn;
  throw py::value_error("brine: unknown start method '" + m + "'; use 'forkserver', 'fork' or 'spawn'");
}

// Owns a brine::Pool for the Python side: the PyPool and every view of the pool's arena (a
// shared_array, a result's buffer) hold it, so the segment stays mapped while Python can still
// reach its memory, even after the pool was shut down. Never destroyed on one of the pool's own
// threads (a completion may drop the last view): that case hands the pool to a thread of its own.
thread_local int t_in_completion = 0;
struct Keeper {
  std::unique_ptr<brine::Pool> pool;
  ~Keeper() {
    if (!pool) return;
    if (t_in_completion != 0) {
      std::thread([p = std::move(pool)]() mutable { p.reset(); }).detach();
    } else if (Py_IsInitialized() && PyGILState_Check() != 0) {
      py::gil_scoped_release release;
      pool.reset();
    } else {
      pool.reset();
    }
  }
};

// A view of the arena that keeps its block and its pool alive.
Block arena_block(const std::shared_ptr<Keeper>& keeper, const brine::SharedVector<uint8_t>& v) {
  auto owner = std::make_shared<std::pair<std::shared_ptr<Keeper>, brine::SharedVector<uint8_t>>>(keeper, v);
  return Block{owner, const_cast<uint8_t*>(v.data()), v.size(), false};
}

// Delivers a finished task to Python: on_done(status, stream, blocks) or on_error(kind, message).
void deliver(brine::Future<Outcome>& f, const std::weak_ptr<Keeper>& weak_keeper, const py::object& on_done,
             const py::object& on_error) {
  std::string kind, message;
  std::optional<Outcome> value;
  try {
    value.emplace(f.get());
  } catch (const brine::Error& e) {
    kind = e.name();
    message = e.what();
  } catch (const std::exception& e) {
    kind = "std::exception";
    message = e.what();
  }
  if (!python_usable()) return;
  std::shared_ptr<Keeper> keeper = weak_keeper.lock();
  if (value && !keeper) {
    kind = "brine::PoolClosed";
    message = "brine::PoolClosed: the pool was closed while the task's result was delivered";
    value.reset();
  }
  Gil gil;
  ++t_in_completion;
  try {
    if (value) {
      py::list blocks;
      for (auto& b : value->buffers) {
        // The SharedVector's owner pins the arena block for as long as Python keeps the view.
        blocks.append(py::cast(arena_block(keeper, b)));
      }
      py::bytes stream(reinterpret_cast<const char*>(value->stream.data()), value->stream.size());
      const uint8_t status = value->status;
      value.reset();
      on_done(static_cast<int>(status), stream, blocks);
    } else {
      on_error(kind, message);
    }
  } catch (py::error_already_set& e) {
    e.discard_as_unraisable("brine: completing a future");
  }
  keeper.reset();
  --t_in_completion;
}

struct NativeTask {
  brine::python::TaskHandle handle;
  bool wait(double timeout) { return wait_interruptibly(handle.wait_for, timeout); }
};

void deliver_native(brine::python::Value v, std::string kind, std::string message, const std::weak_ptr<Keeper>& weak,
                    std::shared_ptr<std::pair<py::object, py::object>>& callbacks) {
  if (!python_usable()) return;
  std::shared_ptr<Keeper> keeper = weak.lock();
  Gil gil;
  ++t_in_completion;
  try {
    if (!kind.empty()) {
      callbacks->second(kind, message);
    } else if (auto* a = std::get_if<brine::python::ArrayValue>(&v)) {
      auto owner = std::make_shared<std::pair<std::shared_ptr<Keeper>, std::shared_ptr<const void>>>(keeper, a->owner);
      Block b{owner, static_cast<uint8_t*>(const_cast<void*>(a->data)), a->count * a->itemsize, false};
      callbacks->first(py::make_tuple(std::string(1, a->kind), a->itemsize, a->count, py::cast(std::move(b))));
    } else if (std::holds_alternative<std::monostate>(v)) {
      callbacks->first(py::none());
    } else if (auto* b = std::get_if<bool>(&v)) {
      callbacks->first(py::bool_(*b));
    } else if (auto* i = std::get_if<int64_t>(&v)) {
      callbacks->first(py::int_(*i));
    } else if (auto* d = std::get_if<double>(&v)) {
      callbacks->first(py::float_(*d));
    } else {
      callbacks->first(py::str(std::get<std::string>(v)));
    }
  } catch (py::error_already_set& e) {
    e.discard_as_unraisable("brine: completing a native task's future");
  }
  callbacks.reset();
  keeper.reset();
  --t_in_completion;
}

class PyPool {
 public:
  PyPool(unsigned workers, const std::string& start_method, uint32_t max_tasks_per_child, double task_timeout,
         double shutdown_timeout, std::size_t arena_bytes, std::size_t reference_threshold, double idle_timeout,
         std::vector<std::string> worker_command, std::size_t max_worker_rss) {
    brine::PoolOptions o;
    o.workers = workers;
    o.start_method = parse_start_method(start_method);
    o.max_tasks_per_child = max_tasks_per_child;
    o.task_timeout = to_ms(task_timeout);
    o.shutdown_timeout = to_ms(shutdown_timeout);
    o.idle_timeout = to_ms(idle_timeout);
    if (arena_bytes != 0) o.arena_bytes = arena_bytes;
    if (reference_threshold != 0) o.reference_threshold = reference_threshold;
    o.worker_command = std::move(worker_command);
    o.max_worker_rss = max_worker_rss;
    keeper_ = std::make_shared<Keeper>();
    py::gil_scoped_release release;
    keeper_->pool = std::make_unique<brine::Pool>(std::move(o));
  }
  ~PyPool() { close(); }

  std::shared_ptr<Task> submit(const py::object& stream, const py::list& buffers, const py::bytes& config, uint8_t pickler,
                               double timeout, py::object on_done, py::object on_error) {
    brine::Pool& pool = get();
    auto s = byte_view(stream);
    std::vector<std::unique_ptr<ByteView>> views;
    std::vector<brine::SharedVector<uint8_t>> refs;
    for (const py::handle b : buffers) {
      views.push_back(byte_view(b));
      refs.emplace_back(nullptr, views.back()->data(), views.back()->size());
    }
    const std::string_view cfg = config;
    const std::span<const uint8_t> stream_span(s->data(), s->size());
    const std::span<const uint8_t> config_span(reinterpret_cast<const uint8_t*>(cfg.data()), cfg.size());
    // The callbacks are Python objects: only touched with the GIL (deliver), and dropped with it.
    auto callbacks = std::make_shared<std::pair<py::object, py::object>>(std::move(on_done), std::move(on_error));
    std::shared_ptr<Task> task;
    {
      py::gil_scoped_release release;
      brine::Future<Outcome> f =
          pool.submit_with({.timeout = to_ms(timeout)}, &python_call, stream_span, refs, config_span, pickler);
      task = std::make_shared<Task>(f);
      f.add_done_callback([f, callbacks, weak = std::weak_ptr<Keeper>(keeper_)]() mutable {
        deliver(f, weak, callbacks->first, callbacks->second);
        if (python_usable()) {
          Gil gil;
          callbacks.reset();
        }
      });
    }
    return task;
  }

  // pool.submit_native(name, args): each arg is None/bool/int/float/str, or a tuple
  // (kind, itemsize, count, buffer) for a contiguous numpy array (brine._native prepares them).
  std::shared_ptr<NativeTask> submit_native(const std::string& name, const py::list& args, py::object on_done,
                                            py::object on_error) {
    brine::Pool& pool = get();
    brine::python::Submitter submitter = nullptr;
    {
      std::lock_guard lock(brine::python::natives_mu());
      auto it = brine::python::natives().find(name);
      if (it != brine::python::natives().end()) submitter = it->second;
    }
    if (submitter == nullptr) {
      throw py::key_error("brine: no native function '" + name + "' is registered: define it with BRINE_PYTHON_NATIVE in a "
                          "library loaded with brine.load_native(path) before the pool starts");
    }
    std::vector<std::unique_ptr<ByteView>> views;
    std::vector<brine::python::Value> values;
    for (const py::handle a : args) {
      if (a.is_none()) {
        values.emplace_back(std::monostate{});
      } else if (py::isinstance<py::bool_>(a)) {
        values.emplace_back(a.cast<bool>());
      } else if (py::isinstance<py::int_>(a)) {
        values.emplace_back(a.cast<int64_t>());
      } else if (py::isinstance<py::float_>(a)) {
        values.emplace_back(a.cast<double>());
      } else if (py::isinstance<py::str>(a)) {
        values.emplace_back(a.cast<std::string>());
      } else {
        auto t = a.cast<py::tuple>();
        views.push_back(byte_view(t[3]));
        values.emplace_back(brine::python::ArrayValue{nullptr, views.back()->data(), t[2].cast<std::size_t>(),
                                                      t[0].cast<std::string>().at(0), t[1].cast<std::size_t>()});
      }
    }
    auto callbacks = std::make_shared<std::pair<py::object, py::object>>(std::move(on_done), std::move(on_error));
    std::weak_ptr<Keeper> weak(keeper_);
    auto task = std::make_shared<NativeTask>();
    {
      py::gil_scoped_release release;
      task->handle = submitter(pool, values, [callbacks, weak](brine::python::Value v, std::string kind, std::string message) mutable {
        deliver_native(std::move(v), std::move(kind), std::move(message), weak, callbacks);
      });
    }
    return task;
  }

  Block alloc(std::size_t nbytes) {
    brine::SharedVector<uint8_t> v;
    {
      py::gil_scoped_release release;
      v = get().shared_vector<uint8_t>(nbytes);
    }
    return arena_block(keeper_, v);
  }

  void shutdown(bool wait, bool cancel_futures) {
    brine::Pool& pool = get();
    py::gil_scoped_release release;
    pool.shutdown(wait, cancel_futures);
  }
  bool shutdown_for(double timeout, bool cancel_futures) {
    brine::Pool& pool = get();
    py::gil_scoped_release release;
    return pool.shutdown(to_ms(timeout), cancel_futures);
  }
  // Destroys the C++ pool (its threads, workers and segment), without the GIL.
  // Shuts the pool down (if it was not) and lets go of it: it is destroyed now, or with the
  // last view of its arena that Python still holds.
  void close() {
    if (!keeper_) return;
    if (!keeper_->pool->closed()) {
      py::gil_scoped_release release;
      keeper_->pool->shutdown(true, false);
    }
    keeper_.reset();
  }
  std::vector<pid_t> worker_pids() { return get().worker_pids(); }
  py::dict stats() {
    brine::PoolStats s;
    {
      py::gil_scoped_release release;
      s = get().stats();
    }
    py::dict d;
    d["submitted"] = s.submitted;
    d["completed"] = s.completed;
    d["workers_crashed"] = s.workers_crashed;
    d["idle_workers_crashed"] = s.idle_workers_crashed;
    d["arena_used"] = s.arena_used;
    d["arena_capacity"] = s.arena_capacity;
    d["arena_blocks"] = s.arena_blocks;
    return d;
  }
  unsigned size() { return get().size(); }
  bool broken() { return get().broken(); }
  bool closed() { return !keeper_ || keeper_->pool->closed(); }
  void resize(unsigned n) {
    brine::Pool& pool = get();
    py::gil_scoped_release release;
    pool.resize(n);
  }
  bool owns(const py::object& obj) {
    auto v = byte_view(obj);
    py::gil_scoped_release release;
    return get().arena().locate(v->data(), v->size()).has_value();
  }

 private:
  static std::chrono::milliseconds to_ms(double seconds) {
    if (seconds < 0) throw py::value_error("brine: a timeout cannot be negative");
    return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0 + 0.5));
  }
  brine::Pool& get() {
    if (!keeper_) throw std::runtime_error("brine: this pool was closed");
    return *keeper_->pool;
  }
  std::shared_ptr<Keeper> keeper_;
};

}  // namespace
}  // namespace brine_python

PYBIND11_MODULE(_brine, m) {
  using namespace brine_python;
  m.doc() = "brine's C++ pool, for the brine package (use brine.Pool)";
  static bool atfork_registered = false;
  if (!atfork_registered) {
    pthread_atfork(&before_fork, &after_fork_parent, &after_fork_child);
    atfork_registered = true;
  }

  py::class_<Block>(m, "Block", py::buffer_protocol())
      .def_buffer([](Block& b) {
        return py::buffer_info(b.data, 1, py::format_descriptor<uint8_t>::format(), 1, {static_cast<py::ssize_t>(b.size)}, {1},
                               b.readonly);
      })
      .def_property_readonly("nbytes", [](const Block& b) { return b.size; })
      .def_property_readonly("address", [](const Block& b) { return reinterpret_cast<std::uintptr_t>(b.data); });

  py::class_<Task, std::shared_ptr<Task>>(m, "Task")
      .def("cancel", &Task::cancel, py::call_guard<py::gil_scoped_release>())
      .def("done", &Task::done)
      .def("wait", &Task::wait, py::arg("timeout"));

  py::class_<NativeTask, std::shared_ptr<NativeTask>>(m, "NativeTask")
      .def("cancel", [](NativeTask& t) { return t.handle.cancel && t.handle.cancel(); }, py::call_guard<py::gil_scoped_release>())
      .def("wait", &NativeTask::wait, py::arg("timeout"));

  py::class_<PyPool>(m, "Pool")
      .def(py::init<unsigned, const std::string&, uint32_t, double, double, std::size_t, std::size_t, double,
                    std::vector<std::string>, std::size_t>(),
           py::arg("workers"), py::arg("start_method"), py::arg("max_tasks_per_child"), py::arg("task_timeout"),
           py::arg("shutdown_timeout"), py::arg("arena_bytes"), py::arg("reference_threshold"), py::arg("idle_timeout"),
           py::arg("worker_command"), py::arg("max_worker_rss"))
      .def("submit", &PyPool::submit)
      .def("submit_native", &PyPool::submit_native)
      .def("alloc", &PyPool::alloc)
      .def("shutdown", &PyPool::shutdown)
      .def("shutdown_for", &PyPool::shutdown_for)
      .def("close", &PyPool::close)
      .def("worker_pids", &PyPool::worker_pids, py::call_guard<py::gil_scoped_release>())
      .def("stats", &PyPool::stats)
      .def("size", &PyPool::size, py::call_guard<py::gil_scoped_release>())
      .def("broken", &PyPool::broken, py::call_guard<py::gil_scoped_release>())
      .def("closed", &PyPool::closed, py::call_guard<py::gil_scoped_release>())
      .def("resize", &PyPool::resize)
      .def("owns", &PyPool::owns);

  m.def("worker_alloc", [](std::size_t nbytes) {
    std::span<std::byte> bytes = brine::this_worker::allocate(nbytes);
    return Block{nullptr, reinterpret_cast<uint8_t*>(bytes.data()), bytes.size(), false};
  });
  // For the spawn start method: a fresh interpreter becomes a worker (never returns).
  m.def("run_worker", [] {
    g_spawned_worker = true;
    py::gil_scoped_release release;
    brine::run_if_worker();
    throw std::runtime_error("brine: this process was not started as a brine worker (BRINE_WORKER is not set)");
  });
  m.def("native_names", [] {
    std::lock_guard lock(brine::python::natives_mu());
    std::vector<std::string> names;
    for (const auto& [name, s] : brine::python::natives()) names.push_back(name);
    return names;
  });
  m.def("_interpreter_exiting", [] { g_python_alive.store(false, std::memory_order_release); });
  m.attr("DEFAULT_REFERENCE_THRESHOLD") = brine::kDefaultReferenceThreshold;
}
