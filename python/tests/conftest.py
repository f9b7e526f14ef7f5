"""Shared fixtures: every test runs against real worker processes, and leaves none behind."""

import os
import time

import pytest

# BRINE_TEST_START_METHODS (comma-separated) narrows the start methods the tests run with. The
# AddressSanitizer run uses "spawn" only: GCC 12's libasan allocator is not fork-safe, and a fork
# server forked while another pool's threads allocate can inherit its lock and hang a worker.
START_METHODS = [m for m in os.environ.get("BRINE_TEST_START_METHODS", "forkserver,fork,spawn").split(",") if m]


def children(pid=None):
    """Direct children of a process (from /proc/<pid>/task/*/children)."""
    pid = pid or os.getpid()
    out = set()
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    out.update(int(x) for x in f.read().split())
            except OSError:
                pass
    except OSError:
        pass
    return out


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def wait_until(predicate, timeout=10.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def describe(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")[:100]
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().split(")")[-1].split()[0]
        return f"{state} {cmd}"
    except OSError:
        return "gone"


def brine_shm():
    return sorted(n for n in os.listdir("/dev/shm") if n.startswith("brine"))


@pytest.fixture(params=START_METHODS)
def start_method(request):
    return request.param


@pytest.fixture(autouse=True, scope="module")
def no_leaks():
    """After each test module (its pools closed): no worker or fork server left running, no
    /dev/shm segment left."""
    shm_before = brine_shm()
    yield
    import gc

    gc.collect()
    assert wait_until(lambda: not {p for p in children() if alive(p)}, 15), \
        f"processes left behind: {[(p, describe(p)) for p in sorted(children())]}"
    assert brine_shm() == shm_before


@pytest.fixture(scope="module", params=START_METHODS)
def pool(request, no_leaks):
    """One pool of 2 workers per start method, shared by a module's tests."""
    import brine

    p = brine.Pool(2, start_method=request.param)
    yield p
    p.shutdown(wait=True)
