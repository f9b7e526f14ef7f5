"""joblib integration: after ``brine.register_joblib()`` (done on ``import brine`` when joblib is
installed), ``with joblib.parallel_backend("brine"): Parallel(n_jobs=2)(delayed(f)(x) for x in xs)``
runs on a brine pool.

Each Parallel call reuses one brine pool per worker count (``get_reusable_executor``), as joblib's
default loky backend does; batches are cloudpickled and numpy arrays inside them travel through
the shared arena (no temporary memmap files).
"""

import concurrent.futures as cf
import functools

_registered = False


def _backend_class():
    from joblib._parallel_backends import AutoBatchingMixin, ParallelBackendBase, SequentialBackend, FallbackToBackend
    from joblib._parallel_backends import SafeFunction
    from joblib import cpu_count

    from . import _pool

    class BrineBackend(AutoBatchingMixin, ParallelBackendBase):
        """joblib backend running batches on a reusable brine pool."""

        supports_timeout = True
        supports_sharedmem = False

        def __init__(self, nesting_level=None, inner_max_num_threads=None, **pool_kwargs):
            super().__init__(nesting_level=nesting_level, inner_max_num_threads=inner_max_num_threads)
            self._pool_kwargs = pool_kwargs
            self._workers = None
            self.parallel = None

        def effective_n_jobs(self, n_jobs):
            if n_jobs == 0:
                raise ValueError("n_jobs == 0 in Parallel has no meaning")
            if n_jobs is None:
                return 1
            if n_jobs < 0:
                return max(cpu_count() + 1 + n_jobs, 1)
            return n_jobs

        def configure(self, n_jobs=1, parallel=None, prefer=None, require=None, **kwargs):
            n_jobs = self.effective_n_jobs(n_jobs)
            if n_jobs == 1:
                raise FallbackToBackend(SequentialBackend(nesting_level=self.nesting_level))
            # joblib's loky backend keeps idle workers 300 s (idle_worker_timeout); so does this one.
            self._workers = _pool.get_reusable_executor(n_jobs, **{"timeout": 300, **self._pool_kwargs})
            self.parallel = parallel
            return n_jobs

        def apply_async(self, func, callback=None):
            future = self._workers.submit(SafeFunction(func))
            future.get = functools.partial(self._result, future)
            if callback is not None:
                future.add_done_callback(callback)
            return future

        @staticmethod
        def _result(future, timeout=None):
            try:
                return future.result(timeout=timeout)
            except cf.TimeoutError as e:
                if isinstance(e, _pool.TaskTimeout):
                    raise
                raise TimeoutError from e

        def terminate(self):
            self._workers = None  # the pool is reused by the next Parallel call
            self.reset_batch_stats()

        def abort_everything(self, ensure_ready=True):
            if self._workers is not None:
                self._workers.terminate(0)
            self._workers = None
            if ensure_ready and self.parallel is not None:
                self.configure(n_jobs=self.parallel.n_jobs, parallel=self.parallel)

    return BrineBackend


def register_joblib():
    """Registers the "brine" backend with joblib (idempotent). Returns the backend class."""
    global _registered
    import joblib

    cls = _backend_class()
    joblib.register_parallel_backend("brine", cls)
    _registered = True
    return cls
