"""Failures as Python users expect them: remote tracebacks, crashed workers, unpicklable values,
timeouts, a killed or interrupted parent."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures.process import BrokenProcessPool

import pytest

import brine
import helpers
from conftest import alive, children, wait_until


def deep_failure(n):
    if n == 0:
        raise KeyError("missing-key-42")
    return deep_failure(n - 1)


def test_remote_exception_keeps_its_type_and_carries_the_remote_traceback(pool):
    with pytest.raises(KeyError, match="missing-key-42") as info:
        pool.submit(deep_failure, 3).result(timeout=60)
    cause = info.value.__cause__
    assert type(cause).__name__ == "_RemoteTraceback"
    text = str(cause)
    assert "deep_failure" in text and "test_failures.py" in text and "KeyError" in text
    assert text.count("deep_failure(n - 1)") == 3
    # the worker lives on
    assert pool.submit(helpers.square, 5).result(timeout=60) == 25


def test_an_exception_that_does_not_pickle_still_reports(pool):
    class Local(Exception):
        def __reduce__(self):
            raise TypeError("no reducing me")

    def raise_it():
        raise Local("local trouble")

    with pytest.raises(RuntimeError, match="local trouble") as info:
        pool.submit(raise_it).result(timeout=60)
    assert "could not be pickled" in str(info.value)


def test_unpicklable_arguments_fail_only_their_future_with_the_path(pool, tmp_path):
    lock = threading.Lock()
    ok = pool.submit(helpers.square, 3)
    f = pool.submit(helpers.add, {"config": [1, 2, lock]})
    with pytest.raises(brine.NotPicklable) as info:
        f.result(timeout=60)
    msg = str(info.value)
    assert "args[0]['config'][2]" in msg and "_thread.lock" in msg
    with open(tmp_path / "out.txt", "w") as handle:  # a file open for writing does not pickle
        g = pool.submit(lambda h: h.write("x"), handle)
        with pytest.raises(brine.NotPicklable, match=r"args\[0\].*TextIOWrapper"):
            g.result(timeout=60)
    assert ok.result(timeout=60) == 9


def test_an_unpicklable_closure_variable_is_named(pool):
    lock = threading.RLock()
    f = pool.submit(lambda: lock.acquire())
    with pytest.raises(brine.NotPicklable, match="closure variable 'lock'"):
        f.result(timeout=60)


def test_an_unpicklable_result_is_named(pool):
    with pytest.raises(brine.NotPicklable, match="the result"):
        pool.submit(threading.Lock).result(timeout=60)


def test_sigkill_of_a_busy_worker_fails_its_task_and_the_pool_lives_on(start_method, tmp_path):
    with brine.Pool(2, start_method=start_method) as p:
        marker = str(tmp_path / "pid")
        victim = p.submit(helpers.write_pid_then_sleep, marker, 60)
        others = [p.submit(helpers.sleep_and_return, 0.1, i) for i in range(6)]
        assert wait_until(lambda: os.path.exists(marker), 60)
        pid = int(open(marker).read())
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(brine.WorkerCrashed) as info:
            victim.result(timeout=60)
        assert isinstance(info.value, BrokenProcessPool)
        assert str(pid) in str(info.value) and "signal 9" in str(info.value)
        assert [f.result(timeout=60) for f in others] == list(range(6))
        assert p.submit(helpers.square, 6).result(timeout=60) == 36
        assert pid not in p.worker_pids()
        assert not p.broken


def test_a_task_that_kills_its_own_worker(pool):
    with pytest.raises(brine.WorkerCrashed):
        pool.submit(os._exit, 3).result(timeout=60)
    assert pool.submit(helpers.square, 2).result(timeout=60) == 4


def test_task_timeout_kills_the_task_not_the_pool():
    with brine.Pool(1, task_timeout=0.5) as p:
        t = time.monotonic()
        with pytest.raises(brine.TaskTimeout):
            p.submit(time.sleep, 30).result(timeout=60)
        assert time.monotonic() - t < 20
        assert p.submit(helpers.square, 3).result(timeout=60) == 9
        with pytest.raises(TimeoutError):  # TaskTimeout is a concurrent.futures.TimeoutError
            p.submit_with(time.sleep, 30, timeout=0.3).result(timeout=60)


def test_result_timeout_is_the_callers(pool):
    f = pool.submit(helpers.sleep_and_return, 0.5, "x")
    with pytest.raises(TimeoutError):
        f.result(timeout=0.01)
    assert f.result(timeout=60) == "x"


def test_a_failing_initializer_breaks_the_pool():
    with brine.Pool(1, initializer=helpers.failing_initializer) as p:
        with pytest.raises(BrokenProcessPool, match="initializer exploded"):
            p.submit(helpers.square, 2).result(timeout=60)
        with pytest.raises(BrokenProcessPool):
            p.submit(helpers.square, 2)


PARENT = textwrap.dedent("""
    import os, signal, sys, time, brine
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as at a terminal (a background job ignores it)
    pool = brine.Pool(2, start_method=sys.argv[1])
    pids = pool.worker_pids()
    futures = [pool.submit(time.sleep, 60) for _ in range(4)]
    print(" ".join(map(str, pids)), flush=True)
    if sys.argv[2] == "wait":
        futures[0].result()
    else:
        list(pool.map(time.sleep, [60] * 4))
""")


def run_parent(tmp_path, start_method, how):
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.Popen([sys.executable, str(script), start_method, how], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    workers = [int(x) for x in proc.stdout.readline().split()]
    assert len(workers) == 2, proc.stderr.read()
    time.sleep(0.3)
    helpers_ = children(proc.pid)  # the fork server, or the workers
    return proc, set(workers) | helpers_


def test_a_parent_killed_by_sigkill_leaves_no_workers_and_no_segments(start_method, tmp_path):
    shm_before = sorted(os.listdir("/dev/shm"))
    proc, family = run_parent(tmp_path, start_method, "wait")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    assert wait_until(lambda: not any(alive(p) for p in family), 15), [p for p in family if alive(p)]
    assert sorted(os.listdir("/dev/shm")) == shm_before


@pytest.mark.parametrize("how", ["wait", "map"])  # blocked in Future.result() (waiting in brine), or in map
def test_ctrl_c_in_the_parent_ends_everything(start_method, tmp_path, how):
    proc, family = run_parent(tmp_path, start_method, how)
    t = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    assert time.monotonic() - t < 15
    assert "KeyboardInterrupt" in proc.stderr.read()
    assert wait_until(lambda: not any(alive(p) for p in family), 15), [p for p in family if alive(p)]
