"""brine.Pool as a concurrent.futures.Executor: every kind of callable, in every start method."""

import concurrent.futures as cf
import functools
import os
import subprocess
import sys
import textwrap
import threading

import pytest

import brine
import helpers
from conftest import wait_until


def make_closure(k):
    def scale(x):
        return k * x

    return scale


def test_pool_is_an_executor(pool):
    assert isinstance(pool, cf.Executor)
    f = pool.submit(helpers.square, 7)
    assert isinstance(f, cf.Future)
    assert f.result(timeout=30) == 49
    assert f.done() and not f.cancelled()


@pytest.mark.parametrize("kind", ["module function", "lambda", "closure", "nested function", "partial",
                                  "bound method", "builtin", "class", "kwargs"])
def test_every_kind_of_callable(pool, kind):
    k = 3
    if kind == "module function":
        fn, args, want = helpers.square, (4,), 16
    elif kind == "lambda":
        fn, args, want = (lambda x: k * x + 1), (4,), 13
    elif kind == "closure":
        fn, args, want = make_closure(5), (4,), 20
    elif kind == "nested function":
        def nested(x):
            def inner(y):
                return y - k
            return inner(x) * 2
        fn, args, want = nested, (10,), 14
    elif kind == "partial":
        fn, args, want = functools.partial(helpers.add, 100), (5,), 105
    elif kind == "bound method":
        fn, args, want = helpers.Counter(1000).plus, (7,), 1007
    elif kind == "builtin":
        fn, args, want = sorted, ([3, 1, 2],), [1, 2, 3]
    elif kind == "class":
        fn, args, want = helpers.Counter, (9,), None
    else:
        fn, args, want = (lambda a, *, b: a - b), (10,), None
    if kind == "kwargs":
        assert pool.submit(fn, 10, b=4).result(timeout=30) == 6
    elif kind == "class":
        assert pool.submit(fn, *args).result(timeout=30).start == 9
    else:
        assert pool.submit(fn, *args).result(timeout=30) == want


def test_tasks_run_in_other_processes(pool):
    pids = {pool.submit(helpers.getpid).result(timeout=30) for _ in range(20)}
    assert os.getpid() not in pids
    assert pids <= set(pool.worker_pids())


def test_map_keeps_order_and_chunks(pool):
    assert list(pool.map(helpers.square, range(50))) == [x * x for x in range(50)]
    assert list(pool.map(lambda a, b: a * b, range(20), range(20), chunksize=7)) == [x * x for x in range(20)]
    assert list(pool.map(helpers.square, [], chunksize=4)) == []


def test_map_raises_the_first_error_in_order(pool):
    it = pool.map(lambda x: 1 / x, [1, 2, 0, 4], chunksize=1)
    assert next(it) == 1 and next(it) == 0.5
    with pytest.raises(ZeroDivisionError):
        next(it)


def test_as_completed_and_wait(pool):
    fs = [pool.submit(helpers.sleep_and_return, 0.05 * (3 - i), i) for i in range(3)]
    assert sorted(f.result() for f in cf.as_completed(fs, timeout=30)) == [0, 1, 2]
    done, not_done = cf.wait(fs, timeout=30)
    assert len(done) == 3 and not not_done


def test_functions_of_main_and_of_an_interactive_session(start_method, tmp_path):
    """A script's __main__ functions (and lambdas typed at the interpreter) go by value."""
    program = textwrap.dedent(f"""
        import brine

        def twice(x):
            return 2 * x

        class Box:
            def __init__(self, v):
                self.v = v

        if __name__ == "__main__":
            with brine.Pool(2, start_method={start_method!r}) as pool:
                print(pool.submit(twice, 21).result(timeout=60), pool.submit(lambda b: b.v + 1, Box(9)).result(timeout=60))
    """)
    script = tmp_path / "prog.py"
    script.write_text(program)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["42", "10"]
    # Interactive: the program arrives on stdin (its functions belong to "<stdin>"'s __main__).
    out = subprocess.run([sys.executable, "-i", "-q"], input=program.replace('if __name__ == "__main__":', "if True:") + "\n",
                         capture_output=True, text=True, timeout=120, env=env)
    assert "42 10" in out.stdout, out.stderr


def test_context_manager_and_submit_after_shutdown(start_method):
    with brine.Pool(1, start_method=start_method) as p:
        assert p.submit(helpers.square, 3).result(timeout=60) == 9
    with pytest.raises(RuntimeError, match="after shutdown"):
        p.submit(helpers.square, 3)


def test_shutdown_waits_for_queued_tasks():
    p = brine.Pool(1)
    fs = [p.submit(helpers.sleep_and_return, 0.05, i) for i in range(5)]
    p.shutdown(wait=True)
    assert [f.result(timeout=0) for f in fs] == list(range(5))


def test_shutdown_cancel_futures(tmp_path):
    p = brine.Pool(1)
    marker = str(tmp_path / "started")
    first = p.submit(helpers.write_pid_then_sleep, marker, 0.5)
    rest = [p.submit(helpers.sleep_and_return, 0.5, i) for i in range(20)]
    # Running by the time of the shutdown (a worker may take a while to start: spawn, sanitizers):
    # cancel_futures cancels only what no worker has started.
    assert wait_until(lambda: os.path.exists(marker), 60)
    p.shutdown(wait=True, cancel_futures=True)
    assert first.result(timeout=0) == "finished"
    assert sum(f.cancelled() for f in rest) >= 15
    for f in rest:
        assert f.done()


def test_shutdown_without_wait_returns_at_once():
    import time

    p = brine.Pool(1)
    f = p.submit(helpers.sleep_and_return, 3, "late")
    t = time.monotonic()
    p.shutdown(wait=False)
    assert time.monotonic() - t < 2  # well before the task ends, even on a loaded machine
    assert f.result(timeout=30) == "late"  # still completes, as with ProcessPoolExecutor


def test_cancel_a_queued_task():
    with brine.Pool(1) as p:
        blocker = p.submit(helpers.sleep_and_return, 0.5, 1)
        queued = [p.submit(helpers.square, i) for i in range(200)]
        cancelled = [f for f in queued if f.cancel()]
        assert cancelled, "no queued task could be cancelled"
        for f in cancelled:
            assert f.cancelled()
            with pytest.raises(cf.CancelledError):
                f.result()
        assert blocker.result(timeout=30) == 1
        # cancelled futures are reported by wait()
        done, _ = cf.wait(queued, timeout=30)
        assert len(done) == len(queued)


def test_ten_threads_share_one_pool(pool):
    errors = []

    def client(t):
        try:
            fs = [pool.submit(lambda a, b: (a, b, a * b), t, i) for i in range(40)]
            for i, f in enumerate(fs):
                assert f.result(timeout=60) == (t, i, t * i)
            assert list(pool.map(helpers.add, range(30), [t] * 30, chunksize=4)) == [i + t for i in range(30)]
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=client, args=(t,)) for t in range(10)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not errors, errors


def test_initializer_runs_once_per_worker(start_method):
    with brine.Pool(1, start_method=start_method, initializer=helpers.init_marker, initargs=("ready",)) as p:
        assert p.submit(helpers.read_marker).result(timeout=60) == ["ready"]
        assert p.submit(helpers.read_marker).result(timeout=60) == ["ready"]


def test_max_tasks_per_child_replaces_workers():
    with brine.Pool(1, max_tasks_per_child=2) as p:
        pids = [p.submit(helpers.getpid).result(timeout=60) for _ in range(6)]
    assert len(set(pids)) == 3


def test_bad_options_are_refused_clearly():
    with pytest.raises(ValueError, match="start method"):
        brine.Pool(1, start_method="threads")
    with pytest.raises(ValueError, match="max_workers"):
        brine.Pool(0)
    with pytest.raises(ValueError, match="pickler"):
        brine.Pool(1, pickler="marshal")
    with pytest.raises(TypeError, match="not callable"):
        with brine.Pool(1) as p:
            p.submit(42)
