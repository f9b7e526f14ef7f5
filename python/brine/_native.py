"""Calling C++ functions registered with BRINE_PYTHON_NATIVE (brine/python/native.h) from Python."""

import ctypes
import os

from . import _brine

loaded = []  # paths of the libraries loaded so far (spawned workers load them too)


def load_native(path):
    """Loads a shared library of native tasks (built with brine_add_native) into this process.

    Load it before making the pool that calls them: fork and forkserver workers inherit what the
    parent had loaded when the pool started; spawned workers load the same paths. Returns the
    names of every native function now registered."""
    path = os.path.abspath(os.fspath(path))
    if path not in loaded:
        ctypes.CDLL(path, mode=os.RTLD_NOW | os.RTLD_GLOBAL)
        loaded.append(path)
    return sorted(_brine.native_names())


def native_args(args):
    """Python values as the binding takes them: scalars as is, numpy arrays as
    (kind, itemsize, count, buffer)."""
    out = []
    for i, a in enumerate(args):
        if a is None or isinstance(a, (bool, int, float, str)):
            out.append(a)
            continue
        import numpy as np

        if isinstance(a, np.generic):
            out.append(a.item())
            continue
        if not isinstance(a, np.ndarray):
            raise TypeError(f"brine: argument {i} of a native task must be a scalar, a str or a numpy array, "
                            f"not {type(a).__name__}")
        if a.dtype.kind not in "biuf":
            raise TypeError(f"brine: argument {i}: a native task takes arrays of bool, int, uint or float, not {a.dtype}")
        if not a.flags.c_contiguous:
            a = np.ascontiguousarray(a)
        out.append((a.dtype.kind, a.dtype.itemsize, a.size, a.reshape(-1).view(np.uint8)))
    return out


def native_result(value):
    if isinstance(value, tuple):
        import numpy as np

        kind, itemsize, count, block = value
        return np.frombuffer(block, dtype=np.dtype(f"{kind}{itemsize}") if kind != "b" else np.bool_, count=count)
    return value
