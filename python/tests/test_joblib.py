"""joblib's Parallel on brine: joblib.parallel_backend("brine")."""

import joblib
import numpy as np
import pytest
from joblib import Parallel, delayed

import brine
import helpers

brine.register_joblib()


def test_parallel_runs_on_brine_workers():
    import os

    with joblib.parallel_backend("brine"):
        pids = Parallel(n_jobs=2)(delayed(helpers.getpid)() for _ in range(20))
        squares = Parallel(n_jobs=2)(delayed(helpers.square)(x) for x in range(100))
    assert squares == [x * x for x in range(100)]
    assert os.getpid() not in pids


def test_closures_and_arrays_through_joblib():
    k = 10
    arrays = [np.full(50_000, i, dtype=np.float64) for i in range(6)]
    with joblib.parallel_backend("brine", n_jobs=2):
        sums = Parallel()(delayed(lambda a: k * float(a.sum()))(a) for a in arrays)
    assert sums == [k * 50_000.0 * i for i in range(6)]


def test_errors_reach_the_caller_and_the_backend_recovers():
    with joblib.parallel_backend("brine"):
        with pytest.raises(ValueError, match="no good"):
            Parallel(n_jobs=2)(delayed(helpers.raise_value_error)("no good") for _ in range(4))
        assert Parallel(n_jobs=2)(delayed(helpers.square)(x) for x in range(10)) == [x * x for x in range(10)]


def test_n_jobs_1_runs_in_process():
    import os

    with joblib.parallel_backend("brine"):
        assert Parallel(n_jobs=1)(delayed(helpers.getpid)() for _ in range(2)) == [os.getpid()] * 2


def teardown_module():
    e = brine.get_reusable_executor()
    e.shutdown(wait=True)
