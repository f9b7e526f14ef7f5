#!/usr/bin/python3
"""What Python's process pools cost, for the brine benchmark report.

Measures, with 2 workers started by fork:
  * one empty task, submit and wait: multiprocessing.Pool.apply,
    concurrent.futures.ProcessPoolExecutor, loky's reusable executor;
  * a map of N trivial tasks: Pool.map with its default chunksize, loky with
    a chunksize that gives each worker a few chunks;
  * sending a float64 array to a worker that sums it: Pool.apply (pickle),
    loky (pickle), joblib.Parallel reused across calls (automatic memmapping);
  * uneven work (issue 13): one 2 s sleep then 100 sleeps of 5 ms, time until
    the last short one is done; and a map of 200 sleeps of heavy-tailed
    durations (the same numbers as bench/pool_bench.cc), total time;
  * the start cost of ProcessPoolExecutor per start method (fork, forkserver,
    spawn): constructor to the first result, then shutdown.

Writes Google Benchmark-shaped JSON ({"benchmarks": [{"name", "real_time",
"time_unit", ...}]}) so that the report reads one format. Run it with
Debian's /usr/bin/python3, which has numpy and joblib.
"""

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import platform
import statistics
import sys
import time

WORKERS = 2
MIB = 1 << 20


def empty_task():
    return None


def identity(x):
    return x


def array_sum(a):
    return float(a.sum())


def sleep_us(us):
    time.sleep(us / 1e6)
    return us


def heavy_tail_durations_us(n):
    """Pareto law (shape 1.2, scale 1 ms) capped at 1 s, from a fixed sequence: the same
    durations as heavy_tail_durations_us() in bench/pool_bench.cc."""
    out = []
    for i in range(n):
        h = ((i + 1) * 2654435761) & 0xFFFFFFFF
        u = (h + 1.0) / 4294967297.0
        out.append(int(min(1000.0 / u ** (1.0 / 1.2), 1_000_000.0)))
    return out


def median_seconds(call, repeats, warmup=1):
    """Runs call() `repeats` times (after `warmup` calls) and returns the median."""
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def row(name, seconds, unit="us", iterations=1, **counters):
    scale = {"us": 1e6, "ms": 1e3}[unit]
    result = {"name": name, "run_type": "iteration", "iterations": iterations,
              "real_time": seconds * scale, "cpu_time": seconds * scale, "time_unit": unit}
    result.update(counters)
    return result


def bench_round_trips(pools, repeats):
    submitters = {
        "mp_pool_apply": lambda: pools["mp"].apply(empty_task),
        "process_pool_executor": lambda: pools["ppe"].submit(empty_task).result(),
        "loky": lambda: pools["loky"]().submit(empty_task).result(),
    }
    return [row(f"BM_PyRoundTrip/{name}", median_seconds(call, repeats), iterations=repeats)
            for name, call in submitters.items()]


def bench_pool_starts(repeats):
    """ProcessPoolExecutor with 2 workers per start method: constructor to the first result
    (start_ms), then shutdown(wait=True) (stop_ms); the row's time is the whole cycle, as in
    BM_PoolStart of bench/pool_bench.cc."""
    rows = []
    for method in ("fork", "forkserver", "spawn"):
        context = multiprocessing.get_context(method)
        starts, stops = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            ppe = concurrent.futures.ProcessPoolExecutor(WORKERS, mp_context=context)
            ppe.submit(empty_task).result()
            t1 = time.perf_counter()
            ppe.shutdown(wait=True)
            starts.append(t1 - t0)
            stops.append(time.perf_counter() - t1)
        start, stop = statistics.median(starts), statistics.median(stops)
        rows.append(row(f"BM_PyPoolStart/process_pool_executor/{method}", start + stop, unit="ms",
                        iterations=repeats, start_ms=start * 1e3, stop_ms=stop * 1e3))
    return rows


def bench_maps(pools, tasks):
    loky_chunk = max(1, tasks // (WORKERS * 4))
    mappers = {
        "mp_pool_map": lambda: pools["mp"].map(identity, range(tasks)),
        f"loky_chunksize_{loky_chunk}": lambda: list(pools["loky"]().map(identity, range(tasks), chunksize=loky_chunk)),
    }
    rows = []
    for name, call in mappers.items():
        seconds = median_seconds(call, 3)
        rows.append(row(f"BM_PyMap/{tasks}/{name}", seconds, unit="ms", iterations=3,
                        items_per_second=tasks / seconds))
    return rows


def bench_array_sums(pools, sizes, np):
    """Array sums, one method at a time: loky's reusable executor and joblib's
    Parallel share one global executor, which either replaces when asked for
    different settings."""
    from joblib import Parallel, delayed

    arrays = {size: np.ones(size // 8, dtype=np.float64) for size in sizes}

    def measure(method, send):
        rows = []
        for size, array in arrays.items():
            repeats = 5 if size <= 64 * MIB else 3
            seconds = median_seconds(lambda: send(array), repeats)
            rows.append(row(f"BM_PyArraySum/{size // MIB}MiB/{method}", seconds, unit="ms", iterations=repeats,
                            payload_bytes=size, bytes_per_second=size / seconds))
        return rows

    rows = measure("in_process", array_sum)
    rows += measure("mp_pool_apply", lambda a: pools["mp"].apply(array_sum, (a,)))
    rows += measure("loky", lambda a: pools["loky"]().submit(array_sum, a).result())
    pools["loky"]().shutdown(wait=True)
    with Parallel(n_jobs=WORKERS, max_nbytes="1M", mmap_mode="r") as parallel:
        # The first send of each array alone (a fresh array: nothing of it dumped or mapped yet).
        for size in sizes:
            fresh = np.ones(size // 8, dtype=np.float64)
            start = time.perf_counter()
            parallel(delayed(array_sum)(fresh) for _ in range(1))
            seconds = time.perf_counter() - start
            rows.append(row(f"BM_PyArraySum/{size // MIB}MiB/joblib_parallel_memmap_first", seconds, unit="ms",
                            payload_bytes=size, bytes_per_second=size / seconds))
            del fresh
        rows += measure("joblib_parallel_memmap", lambda a: parallel(delayed(array_sum)(a) for _ in range(1)))
    return rows


def bench_uneven(pools, shorts, long_us, repeats):
    """One long task, then `shorts` tasks of 5 ms: when is the last short one done?"""
    short_us = 5000
    submitters = {
        "process_pool_executor": lambda us: pools["ppe"].submit(sleep_us, us).result,
        "mp_pool": lambda us: pools["mp"].apply_async(sleep_us, (us,)).get,
    }
    sleeps = []
    for _ in range(20):
        start = time.perf_counter()
        time.sleep(short_us / 1e6)
        sleeps.append(time.perf_counter() - start)
    ideal = shorts * statistics.median(sleeps)
    rows = []
    for name, submit in submitters.items():
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            long_result = submit(long_us)
            results = [submit(short_us) for _ in range(shorts)]
            for r in results:
                r()
            times.append(time.perf_counter() - start)
            long_result()
        rows.append(row(f"BM_PyUneven/{name}", statistics.median(times), unit="ms", iterations=repeats,
                        ideal_ns=ideal * 1e9))
    return rows


def bench_heavy_tail(pools, n, repeats):
    durations = heavy_tail_durations_us(n)
    ideal = max(max(durations), sum(durations) / WORKERS) / 1e6
    mappers = {
        "process_pool_executor": lambda: list(pools["ppe"].map(sleep_us, durations)),
        "mp_pool_map_chunksize_1": lambda: pools["mp"].map(sleep_us, durations, chunksize=1),
        "mp_pool_map": lambda: pools["mp"].map(sleep_us, durations),
    }
    rows = []
    for name, call in mappers.items():
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        rows.append(row(f"BM_PyHeavyTail/{name}", statistics.median(times), unit="ms", iterations=repeats,
                        ideal_ns=ideal * 1e9))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few repeats: checks that everything runs")
    parser.add_argument("--tasks", type=int, default=1_000_000, help="tasks in the map benchmark")
    parser.add_argument("--max-mib", type=int, default=1024,
                        help="largest array to sum, in MiB: sizes 1, 64 and 1024 are run up to it (default 1024)")
    parser.add_argument("--only", choices=["uneven", "arrays"],
                        help="run only the uneven-work rows, or only the array sums (issue 13)")
    parser.add_argument("--out", help="JSON file to write (default: stdout)")
    args = parser.parse_args()

    try:
        import numpy as np
        import joblib
        from joblib.externals.loky import get_reusable_executor
    except ImportError as e:
        print(f"skipped: python pools need numpy and joblib ({e}); run with /usr/bin/python3", file=sys.stderr)
        return 0

    tasks = 1000 if args.quick else args.tasks
    max_mib = 1 if args.quick else args.max_mib
    sizes = [mib * MIB for mib in (1, 64, 1024) if mib <= max_mib]
    repeats = 20 if args.quick else 2000

    context = multiprocessing.get_context("fork")
    with context.Pool(WORKERS) as mp_pool, \
            concurrent.futures.ProcessPoolExecutor(WORKERS, mp_context=context) as ppe:
        pools = {"mp": mp_pool, "ppe": ppe, "loky": lambda: get_reusable_executor(max_workers=WORKERS)}
        rows = []
        if args.only is None:
            rows += bench_round_trips(pools, repeats)
            rows += bench_maps(pools, tasks)
            rows += bench_pool_starts(2 if args.quick else 10)
        if args.only in (None, "uneven"):
            rows += bench_uneven(pools, 10 if args.quick else 100, 200_000 if args.quick else 2_000_000,
                                 1 if args.quick else 3)
            rows += bench_heavy_tail(pools, 20 if args.quick else 200, 1 if args.quick else 3)
        if args.only in (None, "arrays"):
            rows += bench_array_sums(pools, sizes, np)

    report = {
        "context": {
            "executable": "python_pools.py",
            "python": platform.python_version(),
            "numpy": np.__version__,
            "joblib": joblib.__version__,
            "num_cpus": os.cpu_count(),
            "start_method": "fork",
            "workers": WORKERS,
        },
        "benchmarks": rows,
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
