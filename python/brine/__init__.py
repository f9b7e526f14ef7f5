"""brine: run Python callables in a pool of worker processes through shared memory.

    import brine
    with brine.Pool(2) as pool:
        k = 10
        print(pool.submit(lambda x: k * x, 4.2).result())   # closures and lambdas travel

numpy arrays travel out of band (pickle protocol 5) through the pool's shared arena: a worker
gets a read-only view, not a copy; ``brine.shared_array`` allocates one there directly.
"""

import os as _os
import sys as _sys

# brine's C++ symbols are made global, so that libraries of native tasks (brine.load_native)
# register into this module's function registry.
_flags = _sys.getdlopenflags()
_sys.setdlopenflags(_flags | _os.RTLD_GLOBAL)
try:
    from . import _brine  # noqa: F401
finally:
    _sys.setdlopenflags(_flags)

from concurrent.futures import as_completed, wait, FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED  # noqa: F401

from ._pickling import NotPicklable, set_pickler, get_pickler
from ._pickling import set_pickler as set_loky_pickler  # loky's name, for code moved from loky
from ._pool import (Pool, Future, WorkerCrashed, InitializerFailed, TaskTimeout, PoolClosed, ArenaExhausted,
                    BrineError, get_reusable_executor)
from ._shared import shared_array
from ._wrap import wrap_non_picklable_objects
from ._native import load_native
from ._joblib import register_joblib

if "joblib" in _sys.modules:  # joblib is loaded already: "brine" is a backend now (else register_joblib())
    register_joblib()

__all__ = ["Pool", "Future", "WorkerCrashed", "InitializerFailed", "TaskTimeout", "PoolClosed", "ArenaExhausted",
           "BrineError", "NotPicklable", "get_reusable_executor", "set_pickler", "set_loky_pickler", "get_pickler",
           "shared_array",
           "as_completed", "wait", "wrap_non_picklable_objects", "register_joblib", "load_native"]
