"""numpy arrays that live in a pool's shared arena (brine.shared_array)."""

import math

from . import _brine, _worker_side


def array_in(alloc, shape, dtype):
    import numpy as np

    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise TypeError(f"brine: a shared array holds plain data; dtype {dtype} holds Python objects")
    shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"brine: negative dimension in shape {shape}")
    n = math.prod(shape)
    block = alloc(max(n * dtype.itemsize, 1))
    # The array's base is the block: the arena block lives as long as any view of it.
    return np.frombuffer(block, dtype=dtype, count=n).reshape(shape)


def shared_array(shape, dtype=float, pool=None):
    """A numpy array allocated in shared memory; sending it to a task (or returning it from one)
    costs O(1) whatever its size.

    In the parent it lives in `pool`'s arena (default: the most recently made pool still
    running). Inside a task it lives in the arena of the pool running the task: fill it and
    return it, and the caller's result is a view of the same memory, not a copy. Elements
    start uninitialized (like numpy.empty). The memory is freed when the last view of it goes.
    """
    if _worker_side.IN_WORKER and pool is None:
        return array_in(_brine.worker_alloc, shape, dtype)
    if pool is None:
        from . import _pool

        ref = _pool._last_pool
        pool = ref() if ref is not None else None
        if pool is None or pool._shutdown:
            raise RuntimeError("brine.shared_array: no running pool; pass pool=, or call pool.shared_array(...)")
    return pool.shared_array(shape, dtype)


