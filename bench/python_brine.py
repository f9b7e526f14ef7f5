#!/usr/bin/python3
"""brine's Python package against Python's pools, in the same run (issue 14).

Measures, with 2 workers:
  * one empty task, submit and wait: brine.Pool (forkserver, fork), ProcessPoolExecutor,
    multiprocessing.Pool.apply, loky's reusable executor (fork for these three, as in
    python_pools.py), and joblib.Parallel (a kept-open Parallel, one delayed call);
  * a map of N trivial calls: brine with chunks, Pool.map (default chunksize), loky and
    ProcessPoolExecutor with the same chunks as brine, joblib.Parallel (its automatic batching);
  * a closure task (a lambda capturing a value) through brine, loky and joblib, and a
    module-level function through brine and loky, for the closure's cost; multiprocessing and
    ProcessPoolExecutor cannot pickle the lambda, so their row runs functools.partial of a
    module function, the rewrite they force;
  * the sum of a float64 array of 1 MiB / 64 MiB / 1 GiB in a worker: brine with an ordinary
    array (copied once into the shared arena) and with brine.shared_array (no copy), Pool.apply,
    ProcessPoolExecutor, loky, joblib reusing its Parallel (memmapping), and the in-process sum;
  * a native C++ task (BRINE_PYTHON_NATIVE "total", from the tests' example library) on a
    shared array, against the same sum in Python on brine.

Writes Google Benchmark-shaped JSON ({"context": {...}, "benchmarks": [{"name", "real_time",
"time_unit", "iterations", counters...}]}), like python_pools.py. Row names:
  BM_PyBrineRoundTrip/<method>                     us per task
  BM_PyBrineMap/<tasks>/<method>                   ms per map; items_per_second
  BM_PyBrineClosure/<method>                       us per task
  BM_PyBrineArraySum/<MiB>MiB/<method>             ms per sum; payload_bytes, bytes_per_second
                                                   (brine_shared_array_send_only: a task that
                                                   takes the array and does not read it)
  BM_PyBrineNative/<MiB>MiB/<method>               ms per sum; payload_bytes
  BM_PyBrineStart/<start method>                   ms to make a pool and run one task
and "ratios" (a list of {"name", "value", "target", "pass"}) for the issue's targets, computed
from the rows of this run.
"""

import argparse
import concurrent.futures
import functools
import json
import multiprocessing
import os
import platform
import sys

from python_pools import median_seconds, row  # the same folder: one way to time and report

try:
    from joblib import Parallel, delayed
except ImportError:  # main() says what is missing
    Parallel = delayed = None

WORKERS = 2
MIB = 1 << 20


def times(k, x):
    return k * x


def empty_task():
    return None


def identity(x):
    return x


def ignore(a):
    return None


def array_sum(a):
    return float(a.sum())


def bench_start(brine, quick):
    rows = []
    for method in ("forkserver", "fork", "spawn"):
        def start():
            with brine.Pool(WORKERS, start_method=method) as p:
                p.submit(empty_task).result()
        rows.append(row(f"BM_PyBrineStart/{method}", median_seconds(start, 1 if quick else 3), unit="ms"))
    return rows


def bench_round_trips(brine, pools, repeats):
    rows = []
    for method in ("forkserver", "fork"):
        with brine.Pool(WORKERS, start_method=method) as p:
            rows.append(row(f"BM_PyBrineRoundTrip/brine_{method}",
                            median_seconds(lambda: p.submit(empty_task).result(), repeats, warmup=20),
                            iterations=repeats))
    others = {
        "process_pool_executor": lambda: pools["ppe"].submit(empty_task).result(),
        "mp_pool_apply": lambda: pools["mp"].apply(empty_task),
        "loky": lambda: pools["loky"]().submit(empty_task).result(),
    }
    for name, call in others.items():
        rows.append(row(f"BM_PyBrineRoundTrip/{name}", median_seconds(call, repeats, warmup=20), iterations=repeats))
    return rows


def bench_maps(brine, pools, tasks):
    chunk = max(1, tasks // (WORKERS * 4))
    with brine.Pool(WORKERS) as p:
        mappers = {
            f"brine_chunksize_{chunk}": lambda: list(p.map(identity, range(tasks), chunksize=chunk)),
            "mp_pool_map": lambda: pools["mp"].map(identity, range(tasks)),
            f"process_pool_executor_chunksize_{chunk}":
                lambda: list(pools["ppe"].map(identity, range(tasks), chunksize=chunk)),
            f"loky_chunksize_{chunk}": lambda: list(pools["loky"]().map(identity, range(tasks), chunksize=chunk)),
        }
        rows = []
        for name, call in mappers.items():
            seconds = median_seconds(call, 3)
            rows.append(row(f"BM_PyBrineMap/{tasks}/{name}", seconds, unit="ms", iterations=3,
                            items_per_second=tasks / seconds))
    return rows


def bench_closures(brine, pools, repeats):
    k = 3.0
    closure = lambda x: k * x  # noqa: E731  (the point: a lambda capturing a local)
    rows = []
    with brine.Pool(WORKERS) as p:
        rows.append(row("BM_PyBrineClosure/brine_closure", median_seconds(lambda: p.submit(closure, 2.0).result(),
                                                                            repeats, warmup=20), iterations=repeats))
        rows.append(row("BM_PyBrineClosure/brine_module_function",
                        median_seconds(lambda: p.submit(identity, 2.0).result(), repeats, warmup=20),
                        iterations=repeats))
    rows.append(row("BM_PyBrineClosure/loky_closure",
                    median_seconds(lambda: pools["loky"]().submit(closure, 2.0).result(), repeats, warmup=20),
                    iterations=repeats))
    rows.append(row("BM_PyBrineClosure/loky_module_function",
                    median_seconds(lambda: pools["loky"]().submit(identity, 2.0).result(), repeats, warmup=20),
                    iterations=repeats))
    # multiprocessing and ProcessPoolExecutor cannot pickle the lambda; the closest they can run is
    # a module function bound with functools.partial, measured here as theirs.
    bound = functools.partial(times, k)
    for name, call in (("mp_pool_apply_partial", lambda: pools["mp"].apply(bound, (2.0,))),
                       ("process_pool_executor_partial", lambda: pools["ppe"].submit(bound, 2.0).result())):
        rows.append(row(f"BM_PyBrineClosure/{name}", median_seconds(call, repeats, warmup=20), iterations=repeats))
    return rows


def bench_joblib(tasks, repeats):
    """joblib.Parallel (its loky backend) on the round trip, the closure and the map; run last, once
    loky's own reusable executor is shut down (joblib would take it over and fail)."""
    k = 3.0
    closure = lambda x: k * x  # noqa: E731  (joblib pickles it with cloudpickle)
    few = max(5, repeats // 20)
    rows = []
    with Parallel(n_jobs=WORKERS) as parallel:  # kept open: its workers are reused between calls
        rows.append(row("BM_PyBrineRoundTrip/joblib_parallel",
                        median_seconds(lambda: parallel(delayed(empty_task)() for _ in range(1)), few, warmup=5),
                        iterations=few))
        rows.append(row("BM_PyBrineClosure/joblib_closure",
                        median_seconds(lambda: parallel(delayed(closure)(2.0) for _ in range(1)), few, warmup=5),
                        iterations=few))
        seconds = median_seconds(lambda: parallel(delayed(identity)(i) for i in range(tasks)), 3)
        rows.append(row(f"BM_PyBrineMap/{tasks}/joblib_parallel", seconds, unit="ms", iterations=3,
                        items_per_second=tasks / seconds))
    return rows


def bench_array_sums(brine, pools, sizes, np, native_lib):
    rows = []

    def measure(method, size, send, repeats):
        seconds = median_seconds(send, repeats)
        rows.append(row(f"BM_PyBrineArraySum/{size // MIB}MiB/{method}", seconds, unit="ms", iterations=repeats,
                        payload_bytes=size, bytes_per_second=size / seconds))

    with brine.Pool(WORKERS, arena_bytes=max(sizes) * 3 + (256 << 20)) as p:
        for size in sizes:
            repeats = 5 if size <= 64 * MIB else 3
            a = np.ones(size // 8, dtype=np.float64)
            s = p.shared_array(size // 8, np.float64)
            s[:] = 1.0
            measure("in_process", size, lambda: array_sum(a), repeats)
            measure("brine_array", size, lambda: p.submit(array_sum, a).result(), repeats)
            measure("brine_shared_array", size, lambda: p.submit(array_sum, s).result(), repeats)
            # The send alone: a task that takes the shared array and does not read it.
            measure("brine_shared_array_send_only", size, lambda: p.submit(ignore, s).result(), repeats)
            if native_lib:
                seconds = median_seconds(lambda: p.submit_native("total", s).result(), repeats)
                rows.append(row(f"BM_PyBrineNative/{size // MIB}MiB/native_total_shared_array", seconds, unit="ms",
                                iterations=repeats, payload_bytes=size))
                seconds = median_seconds(lambda: p.submit_native("total", a).result(), repeats)
                rows.append(row(f"BM_PyBrineNative/{size // MIB}MiB/native_total_array", seconds, unit="ms",
                                iterations=repeats, payload_bytes=size))
            del s
    for size in sizes:
        repeats = 5 if size <= 64 * MIB else 3
        a = np.ones(size // 8, dtype=np.float64)
        measure("mp_pool_apply", size, lambda: pools["mp"].apply(array_sum, (a,)), repeats)
        measure("process_pool_executor", size, lambda: pools["ppe"].submit(array_sum, a).result(), repeats)
        measure("loky", size, lambda: pools["loky"]().submit(array_sum, a).result(), repeats)
    pools["loky"]().shutdown(wait=True)
    with Parallel(n_jobs=WORKERS, max_nbytes="1M", mmap_mode="r") as parallel:
        for size in sizes:
            repeats = 5 if size <= 64 * MIB else 3
            a = np.ones(size // 8, dtype=np.float64)
            measure("joblib_parallel_memmap", size, lambda: parallel(delayed(array_sum)(a) for _ in range(1)), repeats)
    return rows


def ratios(rows, tasks, sizes):
    t = {r["name"]: r["real_time"] for r in rows}
    out = []

    def add(name, num, den, target, higher_is_better=True):
        if num in t and den in t and t[num] > 0 and t[den] > 0:
            value = t[den] / t[num] if higher_is_better else t[num] / t[den]
            ok = value >= target if higher_is_better else value <= target
            out.append({"name": name, "value": round(value, 3), "target": target, "pass": ok,
                        "numerator": num, "denominator": den})

    add("round trip, ProcessPoolExecutor / brine (x faster)", "BM_PyBrineRoundTrip/brine_forkserver",
        "BM_PyBrineRoundTrip/process_pool_executor", 5.0)
    big = max(sizes) // MIB
    add(f"{big} MiB shared_array sum, Pool.apply / brine (x faster)", f"BM_PyBrineArraySum/{big}MiB/brine_shared_array",
        f"BM_PyBrineArraySum/{big}MiB/mp_pool_apply", 1000.0)
    add(f"{big} MiB shared_array sum / in-process sum", f"BM_PyBrineArraySum/{big}MiB/brine_shared_array",
        f"BM_PyBrineArraySum/{big}MiB/in_process", 1.2, higher_is_better=False)
    add(f"{big} MiB ordinary array sum / joblib memmapping", f"BM_PyBrineArraySum/{big}MiB/brine_array",
        f"BM_PyBrineArraySum/{big}MiB/joblib_parallel_memmap", 1.2, higher_is_better=False)
    chunk = max(1, tasks // (WORKERS * 4))
    add(f"map of {tasks}, brine / Pool.map throughput", f"BM_PyBrineMap/{tasks}/brine_chunksize_{chunk}",
        f"BM_PyBrineMap/{tasks}/mp_pool_map", 1.0)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few repeats: checks that everything runs")
    parser.add_argument("--brine-path", help="directory holding the brine package (BUILD_DIR/python)")
    parser.add_argument("--native", help="library of native tasks with 'total' (libbrine_native_example.so)")
    parser.add_argument("--tasks", type=int, default=1_000_000, help="calls in the map benchmark")
    parser.add_argument("--max-mib", type=int, default=1024, help="largest array (sizes 1, 64, 1024 MiB up to it)")
    parser.add_argument("--out", help="JSON file to write (default: stdout)")
    args = parser.parse_args()

    if args.brine_path:
        sys.path.insert(0, args.brine_path)
    try:
        import numpy as np
        import joblib
        from joblib.externals.loky import get_reusable_executor
        import brine
    except ImportError as e:
        print(f"skipped: needs numpy, joblib and the brine package ({e}); run with /usr/bin/python3 "
              f"--brine-path BUILD_DIR/python", file=sys.stderr)
        return 0
    native = args.native if args.native and os.path.exists(args.native) else None
    if native:
        brine.load_native(native)

    tasks = 10_000 if args.quick else args.tasks
    max_mib = 1 if args.quick else args.max_mib
    sizes = [mib * MIB for mib in (1, 64, 1024) if mib <= max_mib]
    repeats = 20 if args.quick else 2000

    rows = bench_start(brine, args.quick)
    context = multiprocessing.get_context("fork")
    with context.Pool(WORKERS) as mp_pool, \
            concurrent.futures.ProcessPoolExecutor(WORKERS, mp_context=context) as ppe:
        pools = {"mp": mp_pool, "ppe": ppe, "loky": lambda: get_reusable_executor(max_workers=WORKERS)}
        rows += bench_round_trips(brine, pools, repeats)
        rows += bench_closures(brine, pools, max(20, repeats // 4))
        rows += bench_maps(brine, pools, tasks)
        rows += bench_array_sums(brine, pools, sizes, np, native)  # shuts loky's executor down
        rows += bench_joblib(tasks, repeats)

    report = {
        "context": {
            "executable": "python_brine.py",
            "python": platform.python_version(),
            "numpy": np.__version__,
            "joblib": joblib.__version__,
            "num_cpus": os.cpu_count(),
            "workers": WORKERS,
            "brine_start_method": "forkserver",
            "others_start_method": "fork",
            "load_average": open("/proc/loadavg").read().split()[:3],
        },
        "benchmarks": rows,
        "ratios": ratios(rows, tasks, sizes),
    }
    text = json.dumps(report, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
