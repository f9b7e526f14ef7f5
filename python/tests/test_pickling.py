"""Picklers (cloudpickle, dill, pickle), reducers=, wrap_non_picklable_objects,
get_reusable_executor."""

import functools
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import brine
import helpers


@pytest.mark.parametrize("pickler", ["cloudpickle", "dill"])
def test_closures_with_cloudpickle_and_dill(pickler, start_method):
    k = 7
    with brine.Pool(1, start_method=start_method, pickler=pickler) as p:
        assert p.pickler == pickler
        assert p.submit(lambda x: k * x, 6).result(timeout=60) == 42
        assert p.submit(functools.partial(helpers.add, b=1), 1).result(timeout=60) == 2
        a = np.arange(100_000.0)
        assert p.submit(lambda v: float(v.sum()), a).result(timeout=60) == a.sum()


def test_plain_pickle_takes_functions_by_name_and_refuses_lambdas_clearly():
    with brine.Pool(1, pickler="pickle") as p:
        assert p.submit(helpers.square, 5).result(timeout=60) == 25
        with pytest.raises(brine.NotPicklable, match="the function.*with pickle"):
            p.submit(lambda: 1).result(timeout=60)


def test_set_pickler_changes_the_default_for_new_pools():
    previous = brine.set_pickler("pickle")
    try:
        assert previous == "cloudpickle"
        with brine.Pool(1) as p:
            assert p.pickler == "pickle"
        with pytest.raises(ValueError, match="unknown pickler"):
            brine.set_pickler("yaml")
    finally:
        brine.set_pickler(None)
    assert brine.get_pickler() == "cloudpickle"


class Meters:
    def __init__(self, value):
        self.value = value


def reduce_meters(m):
    # travels as centimetres and comes back as a plain float: proof the reducer ran
    return float, (m.value * 100,)


def test_reducers_apply_per_pool(start_method):
    with brine.Pool(1, start_method=start_method, reducers={Meters: reduce_meters}) as p:
        assert p.submit(lambda x: x, Meters(2)).result(timeout=60) == 200.0  # both ways: job and result
        assert p.submit(lambda: Meters(3)).result(timeout=60) == 300.0       # made in the worker
    with brine.Pool(1, start_method=start_method, job_reducers={Meters: reduce_meters}) as p:
        assert p.submit(lambda x: x, Meters(2)).result(timeout=60) == 200.0
        assert isinstance(p.submit(lambda: Meters(3)).result(timeout=60), Meters)
    with brine.Pool(1, start_method=start_method) as p:  # other pools are untouched
        assert isinstance(p.submit(lambda x: x, Meters(2)).result(timeout=60), Meters)
    with pytest.raises(TypeError, match="reducers"):
        brine.Pool(1, reducers={"Meters": reduce_meters})


def test_wrap_non_picklable_objects_lets_plain_pickle_send_closures():
    k = 3

    @brine.wrap_non_picklable_objects
    def times_k(x):
        return k * x

    with brine.Pool(1, pickler="pickle") as p:
        assert p.submit(times_k, 5).result(timeout=60) == 15
        unwrapped = brine.wrap_non_picklable_objects(lambda: "bare", keep_wrapper=False)
        assert p.submit(helpers.add, "x", "y").result(timeout=60) == "xy"
        assert p.submit(unwrapped).result(timeout=60) == "bare"
    assert times_k(2) == 6 and times_k.__name__ == "times_k"


def test_get_reusable_executor_reuses_until_arguments_change():
    e1 = brine.get_reusable_executor(max_workers=2)
    e2 = brine.get_reusable_executor(max_workers=2)
    assert e1 is e2
    pids = set(e1.worker_pids())
    assert e1.submit(helpers.square, 4).result(timeout=60) == 16
    e3 = brine.get_reusable_executor(max_workers=1)
    assert e3 is not e1 and e1._shutdown
    e3.shutdown(wait=True)
    e4 = brine.get_reusable_executor(max_workers=1)
    assert e4 is not e3
    assert e4.submit(helpers.getpid).result(timeout=60) not in pids
    e5 = brine.get_reusable_executor(max_workers=1, kill_workers=True, reuse=False)
    assert e5 is not e4
    # loky's positional order: (max_workers, context, timeout, ...)
    e6 = brine.get_reusable_executor(1, "spawn", 5)
    assert e6 is not e5 and e6.start_method == "spawn" and e6._options["idle_timeout"] == 5
    assert brine.get_reusable_executor(1, "spawn", 5) is e6
    e6.shutdown(wait=True)


LOKY_STYLE = textwrap.dedent('''
    # Written for loky; the only change is the import line (loky -> brine).
    import os
    from brine import get_reusable_executor, set_loky_pickler, wrap_non_picklable_objects

    def make_scaler(factor):
        @wrap_non_picklable_objects
        def scale(x):
            return factor * x
        return scale

    class Accumulator:
        def __init__(self):
            self.total = 0
        def add(self, x):
            self.total += x
            return self.total

    @wrap_non_picklable_objects
    def add_to(acc, x):
        return acc.add(x)

    @wrap_non_picklable_objects
    def read_env(_):
        return os.environ.get("LOKY_STYLE_FLAG")

    if __name__ == "__main__":
        set_loky_pickler("pickle")    # the standard pickler: only what is wrapped goes by value
        executor = get_reusable_executor(max_workers=2, timeout=2, env={"LOKY_STYLE_FLAG": "set"})
        scale = make_scaler(3)
        print(list(executor.map(scale, range(5))))
        acc = wrap_non_picklable_objects(Accumulator())
        print(executor.submit(add_to, acc, 5).result(), acc.total)   # the worker adds to a copy
        print(executor.submit(scale, 14).result())
        again = get_reusable_executor(max_workers=2, timeout=2, env={"LOKY_STYLE_FLAG": "set"})
        print(again is executor, sorted(set(executor.map(read_env, range(4)))))
        print(sorted(set(executor.map(wrap_non_picklable_objects(lambda _: "ok"), range(4)))))
''')


def test_a_program_written_for_loky(tmp_path):
    script = tmp_path / "loky_style.py"
    script.write_text(LOKY_STYLE)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["[0, 3, 6, 9, 12]", "5 0", "42", "True ['set']", "['ok']"]
