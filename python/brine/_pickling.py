"""How Python values become bytes for a worker, and back.

Every value is pickled with protocol 5 (PEP 574). A buffer exposed out of band (a numpy
array's data, a ``pickle.PickleBuffer``, or a ``memoryview`` through brine's reducer) of at least
``threshold`` bytes is not written into the pickle stream: it is handed to brine, which places
it in the pool's shared arena (or finds it there already, for a ``shared_array``) and sends only
a reference. Smaller buffers stay in the stream, where copying is cheaper than a block.

The pickler is a choice, like loky's ``set_loky_pickler``: ``"cloudpickle"`` (the default:
lambdas, closures, functions of ``__main__``), ``"dill"`` (pathos' pickler) or ``"pickle"``.
"""

import copyreg
import functools
import io
import pickle
import threading

PICKLERS = ("cloudpickle", "dill", "pickle")
_default_pickler = "cloudpickle"
_lock = threading.Lock()


class NotPicklable(pickle.PicklingError, TypeError):
    """An argument (or a result) could not be pickled; the message names it and its path."""


def set_pickler(name=None):
    """Chooses the pickler of pools made from now on (loky's ``set_loky_pickler``).

    ``name`` is ``"cloudpickle"`` (default), ``"dill"`` or ``"pickle"``; ``None`` restores the
    default. Returns the previous choice.
    """
    global _default_pickler
    name = "cloudpickle" if name is None else name
    check_pickler(name)
    with _lock:
        previous, _default_pickler = _default_pickler, name
    return previous


def get_pickler():
    return _default_pickler


def check_pickler(name):
    if name not in PICKLERS:
        raise ValueError(f"brine: unknown pickler {name!r}; choose one of {', '.join(PICKLERS)}")
    if name == "cloudpickle":
        import cloudpickle  # noqa: F401
    elif name == "dill":
        import dill  # noqa: F401


def pickler_id(name):
    return PICKLERS.index(name)


# ---- buffers: bytes, bytearray and memoryview travel out of band too ---------------------------


def _rebuild_memoryview(buffer, fmt, shape):
    view = memoryview(buffer)
    return view.cast("B").cast(fmt, shape) if shape else view.cast("B").cast(fmt)


class _BufferReducers:
    """copyreg-style reducers that expose large byte containers as out-of-band buffers."""

    def __init__(self, threshold):
        self.threshold = threshold

    def memoryview_(self, m):
        if not m.contiguous:
            m = memoryview(m.tobytes()).cast(m.format, m.shape)
        shape = m.shape if m.ndim > 1 else None
        return _rebuild_memoryview, (pickle.PickleBuffer(m), m.format, shape)


def _dispatch(reducers, threshold):
    table = {}
    br = _BufferReducers(threshold)
    # bytes and bytearray have fixed in-band opcodes in the C pickler (wrap one in
    # pickle.PickleBuffer to send it out of band); a memoryview, which pickle refuses, travels
    # out of band and arrives as a read-only memoryview of shared memory.
    table[memoryview] = br.memoryview_
    if reducers:
        for t, fn in reducers.items():
            if not isinstance(t, type) or not callable(fn):
                raise TypeError(f"brine: reducers maps types to callables (obj -> (rebuild, args)); got {t!r}: {fn!r}")
            table[t] = fn
    return table


class Codec:
    """dumps/loads with one pickler, one set of reducers and one out-of-band threshold."""

    def __init__(self, pickler="cloudpickle", reducers=None, threshold=16 * 1024):
        check_pickler(pickler)
        self.pickler = pickler
        self.id = pickler_id(pickler)
        self.threshold = threshold
        self.table = _dispatch(reducers, threshold)
        self._pickler_class = self._make_class()

    def _make_class(self):
        table = self.table
        if self.pickler == "cloudpickle":
            import cloudpickle

            base = cloudpickle.CloudPickler
            chained = dict(copyreg.dispatch_table)
            chained.update(getattr(base, "dispatch_table", {}))
        elif self.pickler == "dill":
            import dill

            base = dill.Pickler
            chained = dict(copyreg.dispatch_table)
        else:
            base = pickle.Pickler
            chained = dict(copyreg.dispatch_table)
        chained.update(table)

        class _Pickler(base):
            dispatch_table = chained
        return _Pickler

    def dumps(self, obj):
        """Returns (stream, buffers): buffers are contiguous byte memoryviews, each >= threshold."""
        buffers = []
        threshold = self.threshold

        def on_buffer(pb):
            raw = pb.raw()
            if raw.nbytes < threshold:
                return True  # in band
            buffers.append(raw)
            return False

        f = io.BytesIO()
        p = self._pickler_class(f, protocol=5, buffer_callback=on_buffer)
        p.dump(obj)
        return f.getbuffer(), buffers

    def dump_bytes(self, obj):
        f = io.BytesIO()
        self._pickler_class(f, protocol=5).dump(obj)
        return f.getvalue()

    def loads(self, stream, buffers):
        if self.pickler == "dill":
            import dill  # noqa: F401  (dill's streams name its helpers)
        return pickle.loads(stream, buffers=buffers)

    def explain(self, obj, root, error):
        """A NotPicklable naming the first part of `obj` (reached from `root`) that fails."""
        path, culprit, cause = find_unpicklable(obj, root, self._try_one)
        if path is None:
            path, culprit, cause = root, obj, error
        what = _short_repr(culprit)
        msg = (f"brine: cannot pickle {path} ({what}, of type {type(culprit).__module__}.{type(culprit).__qualname__}) "
               f"with {self.pickler}: {type(cause).__name__}: {cause}")
        return NotPicklable(msg)

    def _try_one(self, obj):
        f = io.BytesIO()
        self._pickler_class(f, protocol=5, buffer_callback=lambda pb: False).dump(obj)


def _short_repr(obj, limit=120):
    try:
        r = repr(obj)
    except Exception:  # noqa: BLE001
        r = f"<{type(obj).__name__} object>"
    return r if len(r) <= limit else r[: limit - 3] + "..."


def _children(obj, path):
    if isinstance(obj, (tuple, list)):
        return [(f"{path}[{i}]", v) for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        return [(f"{path}[{k!r}]", v) for k, v in obj.items()]
    if isinstance(obj, (set, frozenset)):
        return [(f"{path}{{{_short_repr(v, 40)}}}", v) for v in obj]
    if isinstance(obj, functools.partial):
        out = [(f"{path}.func", obj.func)]
        out += [(f"{path}.args[{i}]", v) for i, v in enumerate(obj.args)]
        out += [(f"{path}.keywords[{k!r}]", v) for k, v in obj.keywords.items()]
        return out
    code = getattr(obj, "__code__", None)
    closure = getattr(obj, "__closure__", None)
    if code is not None:
        out = []
        if closure:
            for name, cell in zip(code.co_freevars, closure):
                try:
                    out.append((f"{path} (closure variable {name!r})", cell.cell_contents))
                except ValueError:
                    pass
        globs = getattr(obj, "__globals__", {})
        for name in code.co_names:
            if name in globs:
                out.append((f"{path} (global {name!r})", globs[name]))
        return out
    self_ = getattr(obj, "__self__", None)
    if self_ is not None and getattr(obj, "__func__", None) is not None:
        return [(f"{path}.__self__", self_)]
    d = getattr(obj, "__dict__", None)
    if isinstance(d, dict):
        return [(f"{path}.{k}", v) for k, v in d.items()]
    return []


def find_unpicklable(obj, path, try_one, depth=0, seen=None):
    """(path, object, error) of the innermost part of `obj` that fails to pickle, or Nones."""
    seen = set() if seen is None else seen
    if depth > 8 or id(obj) in seen:
        return None, None, None
    seen.add(id(obj))
    for child_path, child in _children(obj, path):
        try:
            try_one(child)
        except Exception as e:  # noqa: BLE001
            deeper = find_unpicklable(child, child_path, try_one, depth + 1, seen)
            if deeper[0] is not None:
                return deeper
            return child_path, child, e
    return None, None, None
