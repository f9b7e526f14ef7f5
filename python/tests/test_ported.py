"""Cases ported from CPython's Lib/test/test_concurrent_futures.py (3.11) and loky's
tests/_test_process_executor.py and tests/test_reusable_executor.py, rewritten for brine.
Each test names the case it ports."""

import concurrent.futures as cf
import gc
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import weakref

import pytest

import brine
import helpers
from conftest import alive, wait_until


def mul(x, y):
    return x * y


def capture(*args, **kwargs):
    return args, kwargs


class MyObject:
    def my_method(self):
        pass


# ---- CPython: ExecutorTest ---------------------------------------------------------------------


def test_submit_keyword(pool):
    """CPython ExecutorTest.test_submit_keyword."""
    assert pool.submit(mul, 2, y=8).result(timeout=60) == 16
    assert pool.submit(capture, 1, self=2, fn=3).result(timeout=60) == ((1,), {"self": 2, "fn": 3})
    with pytest.raises(TypeError):
        pool.submit(fn=capture, arg=1)


def test_map_exception(pool):
    """CPython ExecutorTest.test_map_exception."""
    i = pool.map(divmod, [1, 1, 1, 1], [2, 3, 0, 5])
    assert next(i) == (0, 1)
    assert next(i) == (0, 1)
    with pytest.raises(ZeroDivisionError):
        next(i)


def test_map_timeout(pool):
    """CPython ExecutorTest.test_map_timeout."""
    results = []
    with pytest.raises(cf.TimeoutError):
        for i in pool.map(time.sleep, [0, 0, 6], timeout=1):
            results.append(i)
    assert results == [None, None]


def test_map_chunksize(pool):
    """CPython ProcessPoolExecutorTest.test_map_chunksize."""
    ref = list(map(pow, range(40), range(40)))
    assert list(pool.map(pow, range(40), range(40), chunksize=6)) == ref
    assert list(pool.map(pow, range(40), range(40), chunksize=50)) == ref
    assert list(pool.map(pow, range(40), range(40), chunksize=40)) == ref
    with pytest.raises(ValueError):
        list(pool.map(pow, range(40), range(40), chunksize=-1))


def test_free_reference(pool):
    """CPython ExecutorTest.test_free_reference: the pool keeps no reference to arguments."""
    for _ in range(5):
        obj = MyObject()
        wr = weakref.ref(obj)
        pool.submit(id, obj).result(timeout=60)
        del obj
        gc.collect()
        assert wr() is None


def test_traceback(pool):
    """CPython ProcessPoolExecutorTest.test_traceback: the remote traceback is the cause."""
    with pytest.raises(ValueError) as info:
        pool.submit(helpers.raise_value_error, "oops").result(timeout=60)
    cause = info.value.__cause__
    assert type(cause).__name__ == "_RemoteTraceback"
    assert "raise ValueError(msg)" in cause.tb


def test_shutdown_race_issue12456():
    """CPython ExecutorShutdownTest.test_shutdown_race_issue12456."""
    p = brine.Pool(2)
    p.submit(pow, 2, 2)
    p.shutdown(wait=False)
    p.shutdown(wait=True)


def test_hang_issue12364():
    """CPython ExecutorShutdownTest.test_hang_issue12364."""
    p = brine.Pool(2)
    fs = [p.submit(time.sleep, 0.02) for _ in range(50)]
    p.shutdown()
    for f in fs:
        f.result(timeout=0)


def test_del_shutdown():
    """CPython ProcessPoolShutdownTest.test_del_shutdown: dropping the executor ends its workers."""
    p = brine.Pool(2)
    list(p.map(abs, range(-5, 5)))
    pids = p.worker_pids()
    del p
    gc.collect()
    assert wait_until(lambda: not any(alive(x) for x in pids), 30)


def test_submit_after_interpreter_shutdown(tmp_path):
    """CPython ExecutorShutdownTest.test_submit_after_interpreter_shutdown."""
    program = textwrap.dedent("""
        import atexit, brine
        @atexit.register
        def run_last():
            try:
                pool.submit(print, "hello")
            except RuntimeError as e:
                print("runtime-error:", e)
        pool = brine.Pool(1)
        pool.submit(print, "submitted").result()
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert "runtime-error: cannot schedule new futures after shutdown" in out.stdout


# ---- CPython: WaitTests and AsCompletedTests ---------------------------------------------------


def finished_future(result=None, exception=None):
    f = cf.Future()
    f.set_exception(exception) if exception else f.set_result(result)
    return f


def test_wait_first_completed(pool):
    """CPython WaitTests.test_first_completed."""
    future1 = pool.submit(mul, 21, 2)
    future2 = pool.submit(time.sleep, 1.5)
    done, not_done = cf.wait([future1, future2], return_when=cf.FIRST_COMPLETED, timeout=60)
    assert done == {future1} and not_done == {future2}
    future2.result(timeout=60)


def test_wait_first_exception(start_method):
    """CPython WaitTests.test_first_exception, on a pool of its own as in CPython."""
    with brine.Pool(2, start_method=start_method) as pool:
        _first_exception(pool)


def test_wait_first_exception_beside_a_long_task(pool):
    """The same on the module's pool, which may still run test_map_timeout's 6 s task: the
    tasks must start in submission order on the other worker, none stranded behind the long
    one (the order inversion this port once found)."""
    _first_exception(pool)


def _first_exception(pool):
    future1 = pool.submit(mul, 2, 21)
    future2 = pool.submit(helpers.sleep_and_return, 0.2, None)
    future3 = pool.submit(helpers.raise_value_error, "x")
    future4 = pool.submit(time.sleep, 3)
    done, not_done = cf.wait([future1, future2, future3, future4], return_when=cf.FIRST_EXCEPTION, timeout=60)
    assert future3 in done and future4 in not_done
    future4.result(timeout=60)


def test_wait_all_completed_with_a_cancelled_future():
    """CPython WaitTests.test_all_completed (with a future cancelled in the queue)."""
    with brine.Pool(1) as p:
        blocker = p.submit(time.sleep, 0.5)
        queued = p.submit(mul, 2, 3)
        assert queued.cancel()
        ok = p.submit(mul, 6, 7)
        done, not_done = cf.wait([blocker, queued, ok, finished_future(1)], return_when=cf.ALL_COMPLETED, timeout=60)
        assert not not_done and queued.cancelled() and ok.result() == 42


def test_as_completed_duplicate_futures(pool):
    """CPython AsCompletedTests.test_duplicate_futures."""
    f = pool.submit(time.sleep, 0.1)
    assert len(list(cf.as_completed([f, f], timeout=60))) == 1


def test_as_completed_zero_timeout(pool):
    """CPython AsCompletedTests.test_zero_timeout."""
    slow = pool.submit(time.sleep, 2)
    done_already = finished_future(3)
    seen = set()
    with pytest.raises(cf.TimeoutError):
        for f in cf.as_completed([done_already, slow], timeout=0):
            seen.add(f)
    assert seen == {done_already}
    slow.result(timeout=60)


def test_done_callbacks_run_with_the_result(pool):
    """CPython FutureTests.test_done_callback_with_result / _with_exception, on brine's futures."""
    got = []
    f = pool.submit(mul, 5, 5)
    f.add_done_callback(lambda fut: got.append(fut.result()))
    g = pool.submit(helpers.raise_value_error, "cb")
    g.add_done_callback(lambda fut: got.append(type(fut.exception()).__name__))
    cf.wait([f, g], timeout=60)
    assert wait_until(lambda: len(got) == 2, 10)
    assert sorted(map(str, got)) == ["25", "ValueError"]


# ---- loky: ExecutorDeadlockTest (crashes and errors at each stage of a task's trip) -----------


class ErrorAtPickle:
    def __reduce__(self):
        raise pickle.PicklingError("Error in pickle")


class ExitAtUnpickle:
    def __reduce__(self):
        return os._exit, (7,)


class ErrorAtUnpickle:
    def __reduce__(self):
        return helpers.raise_value_error, ("Error in unpickle",)


class ExitAtPickle:
    def __reduce__(self):
        os._exit(9)


def return_instance(cls):
    return cls()


def kill_self():
    os.kill(os.getpid(), signal.SIGSEGV)


def test_loky_crashes_and_errors_at_every_stage(start_method):
    """loky ExecutorDeadlockTest.test_crashes / test_errors, less the parent-side exits."""
    with brine.Pool(2, start_method=start_method) as p:
        cases = [
            ("error at pickling the call", (id, ErrorAtPickle()), brine.NotPicklable),
            ("exit at unpickling in the worker", (id, ExitAtUnpickle()), brine.WorkerCrashed),
            ("error at unpickling in the worker", (id, ErrorAtUnpickle()), ValueError),
            ("crash (SIGSEGV) in the function", (kill_self,), brine.WorkerCrashed),
            ("error at pickling the result", (return_instance, ErrorAtPickle), brine.NotPicklable),
            ("exit at pickling the result", (return_instance, ExitAtPickle), brine.WorkerCrashed),
            ("error at unpickling the result", (return_instance, ErrorAtUnpickle), brine.BrineError),
        ]
        for what, call, error in cases:
            with pytest.raises(error):
                p.submit(*call).result(timeout=60)
            # the pool serves on after each one (loky checks the executor can be reused)
            assert p.submit(mul, 6, 7).result(timeout=60) == 42, what


# ---- loky: test_reusable_executor and worker timeouts -----------------------------------------


def test_idle_workers_time_out_and_come_back():
    """loky test_worker_timeout: idle workers exit after `timeout` and are restarted on demand."""
    with brine.Pool(2, idle_timeout=0.2) as p:
        first = set(p.submit(helpers.getpid).result(timeout=60) for _ in range(4))
        assert wait_until(lambda: not any(alive(x) for x in first), 15)
        again = p.submit(helpers.getpid).result(timeout=60)
        assert again not in first


def test_reusable_executor_kill_workers_on_new_options():
    """loky test_reusable_executor: test_kill_workers_on_new_options / test_reusing_executor."""
    e = brine.get_reusable_executor(max_workers=2)
    assert e.submit(mul, 2, 3).result(timeout=60) == 6
    f = e.submit(time.sleep, 30)
    e2 = brine.get_reusable_executor(max_workers=1, kill_workers=True)
    assert e2 is not e
    with pytest.raises((brine.PoolClosed, cf.CancelledError)):
        f.result(timeout=30)
    assert e2.submit(mul, 3, 3).result(timeout=60) == 9
    e2.shutdown(wait=True)


def test_interpreter_exit_with_pending_work(tmp_path):
    """loky test_interpreter_exit: a program that ends with work queued and no shutdown exits
    cleanly once the work is done, leaving no process behind."""
    program = textwrap.dedent("""
        import time, brine
        pool = brine.Pool(2)
        futures = [pool.submit(time.sleep, 0.05) for _ in range(10)]
        print("ok", flush=True)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0 and out.stdout == "ok\n", out.stderr
