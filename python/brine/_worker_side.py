"""What a worker process does with one Python task (called by brine._brine with the GIL held).

run_task(stream, buffers, config, pickler) -> (status, stream, buffers)
  stream, buffers: the task, pickled by the parent; `buffers` are read-only memoryviews of the
    shared arena, so numpy arrays unpickled from them are read-only views, not copies. They are
    valid while the task runs: keep a copy (``a.copy()``) of anything you keep after it.
  config: the pool's settings, pickled once per pool (initializer, reducers, threshold).
  status 0: the stream pickles the value; 1: it pickles (exception, formatted traceback);
    2: the pool's initializer failed (same payload as 1).
"""

import traceback

from . import _pickling

# Set in a worker process (brine.shared_array then allocates from the running task's arena).
IN_WORKER = False

# The pool configurations this process has seen: config bytes -> Codec for results.
_configs = {}
_failed_initializers = {}
# The previous task's views of shared memory, released when the next task starts: one still in
# use then (a task kept an argument's array) is reported, once.
_previous_views = []
_warned_kept_view = False

CALL = 0
CHUNK = 1         # calls fn(*a) for each tuple a of args
CHUNK_SINGLE = 2  # calls fn(x) for each x of args (a map over one iterable: no tuples to pickle)


class _Config:
    def __init__(self, data, pickler):
        import pickle

        settings = pickle.loads(data) if data else {}
        self.threshold = settings.get("threshold", 16 * 1024)
        self.codec = _pickling.Codec(_pickling.PICKLERS[pickler], settings.get("result_reducers"), self.threshold)
        self.initializer = settings.get("initializer")
        self.initargs = settings.get("initargs", ())


def _config(config, pickler):
    key = (bytes(config), pickler)
    c = _configs.get(key)
    if c is None:
        c = _Config(key[0], pickler)
        _configs[key] = c
        if c.initializer is not None:
            try:
                c.initializer(*c.initargs)
            except BaseException as e:  # noqa: BLE001
                _failed_initializers[key] = e
    return c, _failed_initializers.get(key)


def _error_payload(codec, exc):
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    exc.__traceback__ = None
    try:
        stream, buffers = codec.dumps((exc, tb))
        return bytes(stream), buffers
    except Exception as e:  # noqa: BLE001  (the exception itself does not pickle)
        fallback = RuntimeError(f"{type(exc).__module__}.{type(exc).__qualname__}: {exc} "
                                f"(the original exception could not be pickled: {e})")
        stream, buffers = codec.dumps((fallback, tb))
        return bytes(stream), buffers


def _release_previous_views():
    """Reports (once) a task that kept a view of its arguments: numpy keeps a reference to the
    memoryview it was built on (not a buffer export), so a reference count tells."""
    global _warned_kept_view
    import sys

    kept = 0
    for view in _previous_views:
        if sys.getrefcount(view) > 3:  # the list, the loop variable and getrefcount's argument
            kept += 1
    _previous_views.clear()
    if kept and not _warned_kept_view:
        _warned_kept_view = True
        print(f"brine: a task kept {kept} view(s) of its arguments' shared memory after it returned (a numpy array "
              f"stored in a global, say). That memory belongs to the task and is reused by later tasks: keep a copy "
              f"(array.copy()) instead. (Reported once per worker.)", file=sys.stderr, flush=True)


def run_task(stream, buffers, config, pickler):
    global IN_WORKER
    IN_WORKER = True
    _release_previous_views()
    _previous_views.extend(buffers)
    c, init_error = _config(config, pickler)
    codec = c.codec
    if init_error is not None:
        s, b = _error_payload(codec, init_error)
        return 2, s, b
    try:
        kind, fn, args, kwargs = codec.loads(stream, buffers)
        if kind == CALL:
            value = fn(*args, **kwargs)
        elif kind == CHUNK_SINGLE:
            value = list(map(fn, args))
        elif kind == CHUNK:
            value = [fn(*a) for a in args]
        else:
            raise ValueError(f"brine: unknown task kind {kind}")
        del args, kwargs, fn
    except BaseException as e:  # noqa: BLE001  (SystemExit and KeyboardInterrupt fail the task too)
        s, b = _error_payload(codec, e)
        return 1, s, b
    try:
        s, b = codec.dumps(value)
        return 0, bytes(s), b
    except Exception as e:  # noqa: BLE001
        err = codec.explain(value, "the result", e)
        s, b = _error_payload(codec, err)
        return 1, s, b
