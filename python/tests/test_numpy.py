"""Zero-copy numpy: out-of-band buffers through the shared arena, shared_array, view lifetimes."""

import gc

import numpy as np
import pytest

import brine


def describe(a):
    """What the worker sees: read-only? a copy? where?"""
    return {"writeable": a.flags.writeable, "owndata": a.flags.owndata, "sum": float(a.sum()),
            "shape": a.shape, "dtype": str(a.dtype)}


def test_closure_capturing_an_array(pool):
    weights = np.linspace(0, 1, 100_000)
    assert pool.submit(lambda i: float(weights[i] * 2), 99_999).result(timeout=60) == 2.0
    assert pool.submit(lambda: float(weights.sum())).result(timeout=60) == pytest.approx(weights.sum())


@pytest.mark.parametrize("order", ["C", "F"])
def test_a_large_array_arrives_as_a_read_only_view_of_shared_memory(pool, order):
    a = np.asarray(np.arange(200_000, dtype=np.float64).reshape(400, 500), order=order)
    seen = pool.submit(describe, a).result(timeout=60)
    assert seen == {"writeable": False, "owndata": False, "sum": float(a.sum()), "shape": (400, 500), "dtype": "float64"}
    with pytest.raises(ValueError, match="read-only"):
        pool.submit(lambda x: x.__setitem__(0, 1), a).result(timeout=60)


def test_small_arrays_travel_in_the_stream(pool):
    a = np.arange(10, dtype=np.int32)
    seen = pool.submit(describe, a).result(timeout=60)
    assert seen["sum"] == 45 and seen["writeable"]  # small: unpickled from the stream, a private copy


def test_results_come_back_through_the_arena(pool):
    r = pool.submit(lambda n: np.arange(n, dtype=np.float32), 1 << 20).result(timeout=60)
    assert r.shape == (1 << 20,) and r[-1] == (1 << 20) - 1
    assert pool.in_arena(r)
    r[0] = 5  # a result is the caller's, writable


def test_shared_array_costs_nothing_to_send_and_a_view_comes_back_as_the_same_memory(pool):
    s = pool.shared_array((1000, 100), dtype=np.float64)
    s[:] = 1.5
    assert pool.in_arena(s)
    assert pool.submit(lambda x: float(x.sum()), s).result(timeout=60) == 150_000.0
    back = pool.submit(lambda x: x[10:40], s).result(timeout=60)  # a view of the argument (24 KB)
    assert back.__array_interface__["data"][0] == s[10:40].__array_interface__["data"][0]
    s[15, 0] = -1
    assert back[5, 0] == -1  # same bytes, not a copy


def make_ramp(n):
    out = brine.shared_array(n, np.int64)  # in a worker: the running task's arena
    out[:] = np.arange(n)
    return out


def test_shared_array_written_by_one_task_and_read_by_the_next(pool):
    ramp = pool.submit(make_ramp, 300_000).result(timeout=60)
    assert pool.in_arena(ramp)
    assert ramp[-1] == 299_999
    total = pool.submit(lambda x: int(x.sum()), ramp).result(timeout=60)
    assert total == 299_999 * 300_000 // 2


def test_views_outlive_their_task_their_future_and_their_pool(start_method):
    with brine.Pool(1, start_method=start_method) as p:
        f = p.submit(lambda n: np.full(n, 7, dtype=np.int16), 1 << 16)
        r = f.result(timeout=60)
        view = r[100:200]
        s = p.shared_array(50_000, np.uint8)
        s[:] = 3
        del f, r
        gc.collect()
        # more traffic: freed blocks would be reused and overwritten now
        for _ in range(5):
            p.submit(lambda n: np.zeros(n, dtype=np.int16), 1 << 16).result(timeout=60)
        assert (view == 7).all()
    gc.collect()
    assert (view == 7).all() and int(s.sum()) == 150_000  # the pool is shut down; its memory lives on


def test_arrays_inside_structures_and_memoryviews(pool):
    payload = {"a": np.ones(50_000), "b": [np.zeros(30_000, dtype=np.int8), "text"], "m": memoryview(bytes(40_000))}
    got = pool.submit(lambda d: (float(d["a"].sum()), d["b"][0].nbytes, d["b"][1], d["m"].nbytes, d["m"].readonly),
                      payload).result(timeout=60)
    assert got == (50_000.0, 30_000, "text", 40_000, True)


def test_worker_sum_of_64_mib(pool):
    a = np.random.default_rng(0).random(8 << 20)
    assert pool.submit(np.sum, a).result(timeout=120) == pytest.approx(a.sum())


def test_bad_shared_array_arguments_are_refused():
    with brine.Pool(1) as p:
        with pytest.raises(TypeError, match="Python objects"):
            p.shared_array(10, object)
        with pytest.raises(ValueError, match="negative"):
            p.shared_array((-1, 2))
    with pytest.raises(RuntimeError, match="shut down"):
        p.shared_array(10)




def test_a_worker_that_keeps_an_argument_view_is_told(tmp_path):
    import subprocess
    import sys
    import textwrap

    program = textwrap.dedent("""
        import numpy as np, brine, helpers_kept
        with brine.Pool(1) as p:
            a = np.ones(100_000)
            p.submit(helpers_kept.keep_argument, a).result()
            p.submit(helpers_kept.keep_argument, a).result()
    """)
    (tmp_path / "helpers_kept.py").write_text(textwrap.dedent('''
        _kept = []
        def keep_argument(a):
            _kept.append(a)
            return a.shape
    '''))
    env = dict(__import__("os").environ, PYTHONPATH=":".join([str(tmp_path)] + [p for p in sys.path if p]))
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("kept 1 view(s)") == 1
