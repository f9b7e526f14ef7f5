"""Native C++ tasks called from Python: pool.submit_native (tests/native/native_example.cc)."""

import os

import numpy as np
import pytest

import brine
from conftest import START_METHODS

LIB = os.environ.get("BRINE_NATIVE_EXAMPLE")
pytestmark = pytest.mark.skipif(not LIB, reason="BRINE_NATIVE_EXAMPLE (the example library) is not set")


@pytest.fixture(scope="module", params=START_METHODS)
def native_pool(request, no_leaks):
    names = brine.load_native(LIB)
    assert {"total", "count_above", "ramp", "halves", "greet", "where"} <= set(names)
    p = brine.Pool(2, start_method=request.param)
    yield p
    p.shutdown()


def test_a_numpy_array_reaches_a_native_function_as_a_span(native_pool):
    a = np.arange(1 << 20, dtype=np.float64)
    assert native_pool.submit_native("total", a).result(timeout=60) == a.sum()
    xs = np.array([1, 5, 9, 12], dtype=np.int32)
    assert native_pool.submit_native("count_above", xs, 6).result(timeout=60) == 2


def test_a_shared_array_is_not_copied(native_pool):
    s = native_pool.shared_array(1 << 16, np.float64)
    s[:] = 2.0
    first = native_pool.submit_native("where", s).result(timeout=60)
    second = native_pool.submit_native("where", s).result(timeout=60)
    assert first == second  # both tasks read the same bytes of the arena
    assert native_pool.submit_native("total", s).result(timeout=60) == 2.0 * (1 << 16)


def test_results_come_back_as_python_objects(native_pool):
    r = native_pool.submit_native("ramp", 100_000).result(timeout=60)
    assert isinstance(r, np.ndarray) and r.dtype == np.float64 and r[-1] == 99_999 and native_pool.in_arena(r)
    h = native_pool.submit_native("halves", np.array([2, 4], dtype=np.float32)).result(timeout=60)
    assert h.tolist() == [1.0, 2.0] and h.dtype == np.float32
    assert native_pool.submit_native("greet", "brine").result(timeout=60) == "hello, brine"


def test_native_errors_are_clear(native_pool):
    with pytest.raises(brine.BrineError, match="greet: empty name"):
        native_pool.submit_native("greet", "").result(timeout=60)
    with pytest.raises(KeyError, match="no native function 'nope'"):
        native_pool.submit_native("nope", 1)
    with pytest.raises(TypeError, match="argument 0 .* must be a contiguous numpy array"):
        native_pool.submit_native("total", np.arange(3, dtype=np.int32))
    with pytest.raises(TypeError, match="takes 2 arguments, 1 given"):
        native_pool.submit_native("count_above", np.arange(3, dtype=np.int32))
