"""brine.Pool: a concurrent.futures.Executor on brine's C++ pool of worker processes."""

import atexit
import concurrent.futures as cf
import concurrent.futures._base as cf_base
import itertools
import os
import pickle
import sys
import threading
import time
import weakref
from concurrent.futures.process import BrokenProcessPool

from . import _brine, _pickling, _worker_side

# ---- errors ----------------------------------------------------------------------------------


class WorkerCrashed(BrokenProcessPool):
    """The worker running the task died (signal, exit, OOM kill).

    A subclass of ``concurrent.futures.process.BrokenProcessPool`` so that code written for
    ``ProcessPoolExecutor`` or loky (whose ``TerminatedWorkerError`` is one too) catches it.
    Unlike those pools, a brine pool is *not* broken afterwards: only that task failed, the
    worker is replaced, and other tasks keep running.
    """


class InitializerFailed(BrokenProcessPool):
    """The pool's initializer raised in a worker; the pool is broken (as ProcessPoolExecutor's)."""


class TaskTimeout(cf.TimeoutError):
    """The task ran past its timeout; its worker was killed and replaced."""


class PoolClosed(RuntimeError):
    """The pool was shut down before or while the task ran."""


class ArenaExhausted(MemoryError):
    """The pool's shared arena had no room; raise ``arena_bytes``."""


class BrineError(RuntimeError):
    """Any other failure reported by brine (a corrupt envelope, ...)."""


class _RemoteTraceback(Exception):
    """The worker's formatted traceback, attached as ``__cause__`` of the re-raised exception."""

    def __init__(self, tb):
        super().__init__(tb)
        self.tb = tb

    def __str__(self):
        return self.tb


_ERRORS = {
    "brine::WorkerCrashed": WorkerCrashed,
    "brine::TimeoutError": TaskTimeout,
    "brine::PoolClosed": PoolClosed,
    "brine::BrokenPool": BrokenProcessPool,
    "brine::ArenaExhausted": ArenaExhausted,
    "brine::RingFull": BrineError,
}

# ---- futures ---------------------------------------------------------------------------------


class Future(cf.Future):
    """A concurrent.futures.Future completed by brine. It stays PENDING until the task finishes
    (brine does not report the instant a worker starts a task); cancel() succeeds while no
    worker has started it."""

    def __init__(self):
        super().__init__()
        self._brine_task = None

    def _collect(self, timeout):
        # Waits in brine: the waiting thread settles the completion itself (no wake-up of
        # brine's collector thread, then of this one, per result), Ctrl-C still interrupts.
        task = self._brine_task
        if task is not None and self._state == cf_base.PENDING:
            task.wait(-1.0 if timeout is None else max(float(timeout), 0.0))

    def _after_collect(self, get, timeout):
        if timeout is None:
            self._collect(None)
            return get()
        deadline = time.monotonic() + timeout
        self._collect(timeout)
        return get(max(deadline - time.monotonic(), 0.0))

    def result(self, timeout=None):
        return self._after_collect(super().result, timeout)

    def exception(self, timeout=None):
        return self._after_collect(super().exception, timeout)

    def cancel(self):
        with self._condition:
            if self._state == cf_base.FINISHED:
                return False
            if self._state in (cf_base.CANCELLED, cf_base.CANCELLED_AND_NOTIFIED):
                return True
        task = self._brine_task
        if task is not None and not task.cancel():
            return self.cancelled()
        return self._mark_cancelled()

    def _mark_cancelled(self):
        with self._condition:
            if self._state == cf_base.CANCELLED_AND_NOTIFIED:
                return True
            if self._state != cf_base.PENDING:
                return self._state == cf_base.CANCELLED
        if cf.Future.cancel(self):
            try:
                self.set_running_or_notify_cancel()  # wakes wait()/as_completed() waiters
            except RuntimeError:
                pass  # another thread notified first
            return True
        return False


def _complete(fut, codec, pool_ref, status, stream, blocks):
    """Runs on a brine thread with the GIL: unpickles the outcome into the Python future."""
    fut._brine_task = None
    if fut.done():
        return
    try:
        payload = codec.loads(stream, blocks)
    except BaseException as e:  # noqa: BLE001
        err = BrineError(f"brine: could not unpickle the task's result: {type(e).__name__}: {e}")
        err.__cause__ = e
        _set(fut, exception=err)
        return
    if status == 0:
        _set(fut, result=payload)
        return
    exc, tb = payload
    exc.__cause__ = _RemoteTraceback(tb)
    if status == 2:
        pool = pool_ref()
        if pool is not None:
            pool._broken = f"the pool's initializer failed: {type(exc).__name__}: {exc}"
        wrapped = InitializerFailed(f"brine: a worker's initializer failed: {type(exc).__name__}: {exc}")
        wrapped.__cause__ = exc
        exc = wrapped
    _set(fut, exception=exc)


def _fail(fut, kind, message):
    fut._brine_task = None
    if kind == "brine::Cancelled":
        fut._mark_cancelled()
        return
    cls = _ERRORS.get(kind, BrineError)
    _set(fut, exception=cls(message))


def _set(fut, result=None, exception=None):
    try:
        if exception is not None:
            fut.set_exception(exception)
        else:
            fut.set_result(result)
    except cf.InvalidStateError:
        pass  # cancelled meanwhile


# ---- the pool ----------------------------------------------------------------------------------

_live_pools = weakref.WeakSet()
_last_pool = None  # weakref to the most recently made pool (brine.shared_array's default)
_package_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _spawn_command():
    """argv of a spawned worker: this interpreter, with this process's sys.path and native
    libraries, importing brine._worker."""
    from . import _native

    paths = [_package_dir] + [p for p in sys.path if p]
    code = (f"import sys; sys.path[:0] = {paths!r}; import brine; "
            f"[brine.load_native(p) for p in {_native.loaded!r}]; import brine._worker")
    return [sys.executable or "/usr/bin/python3", "-c", code]


def _seconds(name, value):
    if value is None:
        return 0.0
    if value < 0:
        raise ValueError(f"brine: {name} cannot be negative (got {value})")
    return float(value)


class Pool(cf.Executor):
    """A pool of worker processes running Python callables, as a concurrent.futures.Executor.

    Pool(max_workers=None, *, start_method="forkserver", initializer=None, initargs=(),
         max_tasks_per_child=None, task_timeout=None, shutdown_timeout=60, idle_timeout=None,
         pickler=None, reducers=None, job_reducers=None, result_reducers=None,
         arena_bytes=1 GiB, reference_threshold=16 KiB, max_worker_rss=None, mp_context=None)

    - Any callable: lambdas, closures, nested functions, partials, bound methods and functions of
      ``__main__`` are pickled with cloudpickle (``pickler="dill"`` or ``"pickle"`` to choose).
    - Out-of-band buffers (numpy arrays, ``pickle.PickleBuffer``, memoryviews) of at least
      ``reference_threshold`` bytes travel through shared memory; a worker sees a read-only
      view, never a copy. ``shared_array`` allocates an array there directly.
    - ``start_method``: "forkserver" (default; the environment variable ``BRINE_START_METHOD``
      changes the default), "fork" or "spawn". forkserver is the default, as
      in CPython 3.14, because the parent has brine's threads (collector, monitor): a fork of a
      multithreaded process may inherit a lock another thread held and deadlock. brine's fork
      server is forked once, when the pool starts, and forks every worker and replacement.
    - A worker that dies fails only its task, with ``brine.WorkerCrashed``; the pool lives on.
    """

    def __init__(self, max_workers=None, *, workers=None, start_method=None, initializer=None, initargs=(),
                 max_tasks_per_child=None, task_timeout=None, shutdown_timeout=60.0, idle_timeout=None,
                 pickler=None, reducers=None, job_reducers=None, result_reducers=None, arena_bytes=None,
                 reference_threshold=None, max_worker_rss=None, mp_context=None):
        global _last_pool
        if workers is not None and max_workers is not None and workers != max_workers:
            raise ValueError("brine: give max_workers or workers, not both")
        n = workers if workers is not None else max_workers
        if n is None:
            n = os.cpu_count() or 1
        if not isinstance(n, int) or n <= 0:
            raise ValueError(f"brine: max_workers must be a positive int (got {n!r})")
        if mp_context is not None and start_method is None:
            start_method = mp_context if isinstance(mp_context, str) else mp_context.get_start_method()
        start_method = start_method or os.environ.get("BRINE_START_METHOD") or "forkserver"
        if start_method not in ("forkserver", "fork", "spawn"):
            raise ValueError(f"brine: unknown start method {start_method!r}; use 'forkserver', 'fork' or 'spawn' "
                             f"(start_method= or the BRINE_START_METHOD environment variable)")
        if initializer is not None and not callable(initializer):
            raise TypeError("brine: initializer must be callable")
        if max_tasks_per_child is not None and (not isinstance(max_tasks_per_child, int) or max_tasks_per_child < 1):
            raise ValueError("brine: max_tasks_per_child must be a positive int or None")
        threshold = int(reference_threshold) if reference_threshold else _brine.DEFAULT_REFERENCE_THRESHOLD
        pickler = pickler or _pickling.get_pickler()
        self._job_codec = _pickling.Codec(pickler, {**(reducers or {}), **(job_reducers or {})}, threshold)
        self._result_codec = _pickling.Codec(pickler, {**(reducers or {}), **(result_reducers or {})}, threshold)
        settings = {"threshold": threshold}
        if initializer is not None:
            settings["initializer"] = initializer
            settings["initargs"] = tuple(initargs)
        rr = {**(reducers or {}), **(result_reducers or {})}
        if rr:
            settings["result_reducers"] = rr
        try:
            self._config = _pickling.Codec(pickler).dump_bytes(settings)
        except Exception as e:  # noqa: BLE001
            raise self._job_codec.explain(settings, "the pool's initializer/reducers", e) from e
        self._timeout = _seconds("task_timeout", task_timeout)
        self.start_method = start_method
        self.pickler = pickler
        self.reference_threshold = threshold
        self._shutdown_lock = threading.Lock()
        self._shutdown = False
        self._broken = None
        self._options = dict(max_workers=n, start_method=start_method, initializer=initializer, initargs=tuple(initargs),
                             max_tasks_per_child=max_tasks_per_child, task_timeout=task_timeout, pickler=pickler,
                             reducers=reducers, job_reducers=job_reducers, result_reducers=result_reducers,
                             idle_timeout=idle_timeout, arena_bytes=arena_bytes, reference_threshold=reference_threshold)
        self._pool = _brine.Pool(
            workers=n, start_method=start_method, max_tasks_per_child=max_tasks_per_child or 0,
            task_timeout=self._timeout, shutdown_timeout=_seconds("shutdown_timeout", shutdown_timeout),
            arena_bytes=int(arena_bytes or 0), reference_threshold=threshold,
            idle_timeout=_seconds("idle_timeout", idle_timeout),
            worker_command=_spawn_command() if start_method == "spawn" else [],
            max_worker_rss=int(max_worker_rss or 0))
        _live_pools.add(self)
        _last_pool = weakref.ref(self)

    # -- submitting ----------------------------------------------------------------------------

    def submit(self, fn, /, *args, **kwargs):
        """Runs fn(*args, **kwargs) in a worker; returns a concurrent.futures.Future."""
        return self._submit(_worker_side.CALL, fn, args, kwargs, self._timeout)

    def submit_with(self, fn, /, *args, timeout=None, **kwargs):
        """submit() with a per-task run-time limit in seconds (the worker is killed past it)."""
        return self._submit(_worker_side.CALL, fn, args, kwargs, _seconds("timeout", timeout) or self._timeout)

    def _submit(self, kind, fn, args, kwargs, timeout):
        with self._shutdown_lock:
            if self._broken:
                raise BrokenProcessPool(f"brine: {self._broken}")
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            pool = self._pool
        if kind == _worker_side.CALL and not callable(fn):
            raise TypeError(f"brine: {fn!r} is not callable")
        fut = Future()
        codec = self._job_codec
        try:
            stream, buffers = codec.dumps((kind, fn, args, kwargs))
        except Exception as e:  # noqa: BLE001
            fut.set_exception(self._explain(fn, args, kwargs, e))
            return fut
        result_codec = self._result_codec
        pool_ref = weakref.ref(self)
        try:
            fut._brine_task = pool.submit(
                stream, buffers, self._config, codec.id, timeout,
                lambda status, s, blocks: _complete(fut, result_codec, pool_ref, status, s, blocks),
                lambda kind_, message: _fail(fut, kind_, message))
        except RuntimeError as e:
            msg = str(e)
            if "PoolClosed" in msg:
                raise RuntimeError("cannot schedule new futures after shutdown") from e
            if "BrokenPool" in msg:
                raise BrokenProcessPool(msg) from e
            if "ArenaExhausted" in msg:
                raise ArenaExhausted(msg) from e
            raise
        finally:
            stream.release()
        return fut

    def submit_native(self, name, /, *args):
        """Runs the C++ function registered as `name` (BRINE_PYTHON_NATIVE, from a library loaded
        with brine.load_native) on args: numpy arrays travel as std::span<const T> by reference,
        scalars and str as themselves. Returns a concurrent.futures.Future of its result (a numpy
        array for a std::vector or brine::SharedVector result)."""
        from . import _native

        with self._shutdown_lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            pool = self._pool
        prepared = _native.native_args(args)
        fut = Future()

        def on_done(value):
            _set(fut, result=_native.native_result(value))

        try:
            task = pool.submit_native(name, prepared, on_done, lambda kind, message: _fail(fut, kind, message))
        except ValueError as e:  # std::invalid_argument: the arguments do not fit the signature
            raise TypeError(str(e)) from None
        fut._brine_task = task
        return fut

    def _explain(self, fn, args, kwargs, error):
        codec = self._job_codec
        for root, obj in (("the function", fn), ("args", args), ("kwargs", kwargs)):
            try:
                codec._try_one(obj)
            except Exception as e:  # noqa: BLE001
                err = codec.explain(obj, root, e)
                err.__cause__ = error
                return err
        err = codec.explain((fn, args, kwargs), "the call", error)
        err.__cause__ = error
        return err

    def map(self, fn, *iterables, timeout=None, chunksize=1):
        """Like Executor.map: results in order, lazily; chunksize > 1 sends that many calls per task."""
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        end_time = None if timeout is None else timeout + time.monotonic()
        if chunksize == 1:
            fs = [self.submit(fn, *args) for args in zip(*iterables)]
        else:
            # One iterable: its items travel as they are (a list of 1-tuples pickles ~30x slower).
            single = len(iterables) == 1
            items = iter(iterables[0]) if single else zip(*iterables)
            kind = _worker_side.CHUNK_SINGLE if single else _worker_side.CHUNK
            fs = []
            while True:
                chunk = list(itertools.islice(items, chunksize))
                if not chunk:
                    break
                fs.append(self._submit(kind, fn, chunk, {}, self._timeout))

        def results():
            # Yields each call's result (chunksize 1) or each chunk's list of results.
            try:
                fs.reverse()
                while fs:
                    f = fs[-1]
                    r = f.result() if end_time is None else f.result(end_time - time.monotonic())
                    fs.pop()
                    yield r
            finally:
                for f in fs:
                    f.cancel()

        if chunksize == 1:
            return results()
        return itertools.chain.from_iterable(results())  # flattened in C: no Python step per result

    # -- shared memory -------------------------------------------------------------------------

    def shared_array(self, shape, dtype=float):
        """A numpy array allocated in this pool's shared arena: sending it to a task costs O(1)."""
        from ._shared import array_in

        return array_in(self._live().alloc, shape, dtype)

    def in_arena(self, obj):
        """True if obj's buffer lies in this pool's shared arena (it travels by reference)."""
        return self._live().owns(obj)

    # -- lifecycle -----------------------------------------------------------------------------

    def shutdown(self, wait=True, *, cancel_futures=False):
        """Stops accepting tasks. wait: returns once queued tasks ran and workers exited.
        Without wait the same happens in the background. cancel_futures cancels queued tasks."""
        with self._shutdown_lock:
            self._shutdown = True
            pool = self._pool
        if pool is None:
            return
        if wait:
            self._close(pool, cancel_futures)
        else:
            threading.Thread(target=self._close, args=(pool, cancel_futures), daemon=True,
                             name="brine-shutdown").start()

    def __exit__(self, exc_type, exc_val, exc_tb):
        if exc_type is not None and not issubclass(exc_type, Exception):
            # Ctrl-C (KeyboardInterrupt) or SystemExit: don't wait for the queued work.
            self.terminate(0)
        else:
            self.shutdown(wait=True)
        return False

    def _close(self, pool, cancel_futures):
        if not pool.closed():
            pool.shutdown(True, cancel_futures)
        pool.close()

    def terminate(self, timeout=0.0):
        """Shuts down within `timeout` seconds, killing the workers still running then."""
        with self._shutdown_lock:
            self._shutdown = True
            pool = self._pool
        if pool is not None:
            if not pool.closed():
                pool.shutdown_for(timeout, True)
            pool.close()

    def _live(self):
        if self._pool is None or self._shutdown:
            raise RuntimeError("brine: this pool is shut down")
        return self._pool

    def worker_pids(self):
        return list(self._live().worker_pids())

    def stats(self):
        return self._live().stats()

    @property
    def max_workers(self):
        return self._options["max_workers"]

    @property
    def broken(self):
        return self._broken is not None or (self._pool is not None and not self._shutdown and self._pool.broken())

    def __repr__(self):
        state = "shut down" if self._shutdown else "running"
        return f"<brine.Pool {state}, {self._options['max_workers']} workers, {self.start_method}, {self.pickler}>"

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None and not getattr(self, "_shutdown", True):
            # Never destroy the C++ pool on one of its own threads (the collector may drop the
            # last reference): hand it to a thread of its own.
            self._shutdown = True
            threading.Thread(target=self._close, args=(pool, False), daemon=True, name="brine-del").start()


# ---- loky's reusable executor ------------------------------------------------------------------

_reusable = None
_reusable_lock = threading.Lock()


def get_reusable_executor(max_workers=None, context=None, timeout=10, kill_workers=False, reuse="auto",
                          job_reducers=None, result_reducers=None, initializer=None, initargs=(), env=None, **kwargs):
    """The running reusable pool if it is usable and was made with the same arguments, else a new
    one (the old one is shut down, letting queued tasks finish; with kill_workers, at once).

    loky's signature and meaning: ``context`` is a start method name or a multiprocessing context,
    ``timeout`` how long an idle worker lives (seconds; it is restarted on demand), ``env`` a dict
    of environment variables set in each worker before it runs a task. Other keywords are
    brine.Pool's."""
    global _reusable
    kwargs.setdefault("idle_timeout", timeout)
    if context is not None:
        kwargs.setdefault("mp_context", context)
    for key, value in (("job_reducers", job_reducers), ("result_reducers", result_reducers),
                       ("initializer", initializer)):
        if value is not None:
            kwargs.setdefault(key, value)
    if initargs:
        kwargs.setdefault("initargs", tuple(initargs))
    if env:
        kwargs["initializer"] = _EnvInitializer(dict(env), kwargs.get("initializer"), tuple(kwargs.get("initargs", ())))
        kwargs["initargs"] = ()
    with _reusable_lock:
        pool = _reusable
        wanted = max_workers or (pool._options["max_workers"] if pool is not None and reuse == "auto" else None)
        wanted = wanted or os.cpu_count() or 1
        if pool is not None and not pool._shutdown and not pool.broken:
            same = pool._options["max_workers"] == wanted and all(
                pool._options.get(k, None) == v for k, v in kwargs.items() if k in pool._options)
            if same and reuse:
                return pool
        if pool is not None:
            if kill_workers:
                pool.terminate(0)
            else:
                pool.shutdown(wait=True)
        _reusable = Pool(wanted, **kwargs)
        return _reusable


class _EnvInitializer:
    """loky's ``env=``: sets the variables in the worker, then runs the user's initializer. Equal
    when its parts are, so that get_reusable_executor reuses a pool made with the same env."""

    def __init__(self, env, initializer, initargs):
        self.env, self.initializer, self.initargs = env, initializer, initargs

    def __call__(self):
        os.environ.update(self.env)
        if self.initializer is not None:
            self.initializer(*self.initargs)

    def __eq__(self, other):
        return isinstance(other, _EnvInitializer) and (self.env, self.initializer, self.initargs) == (
            other.env, other.initializer, other.initargs)

    __hash__ = None


# ---- process lifecycle ---------------------------------------------------------------------------


def _shutdown_all():
    # A program ending normally lets queued tasks finish (as ProcessPoolExecutor does); one
    # ending on Ctrl-C (an uncaught KeyboardInterrupt) does not wait: running tasks are killed.
    interrupted = isinstance(getattr(sys, "last_value", None), KeyboardInterrupt)
    for pool in list(_live_pools):
        try:
            if interrupted:
                pool.terminate(0)
            else:
                pool.shutdown(wait=True)
        except Exception:  # noqa: BLE001
            pass
    _brine._interpreter_exiting()


# As concurrent.futures does: before atexit's handlers (and before non-daemon threads are joined),
# so a handler that submits gets "cannot schedule new futures after shutdown".
if hasattr(threading, "_register_atexit"):
    threading._register_atexit(_shutdown_all)
else:  # pragma: no cover
    atexit.register(_shutdown_all)

_orphaned = []  # pools inherited by a forked child: their threads are not here; never destroyed


def _after_fork_in_child():
    global _reusable
    for pool in list(_live_pools):
        if pool._pool is not None:
            _orphaned.append(pool._pool)
            pool._pool = None
        pool._shutdown = True
    _reusable = None


os.register_at_fork(after_in_child=_after_fork_in_child)


def _unpickle_pool(*_):
    raise pickle.PicklingError("brine: a Pool cannot be sent to a worker")
