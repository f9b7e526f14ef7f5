"""The cluster benchmark's workloads on Dask distributed (a LocalCluster of 6 single-threaded
worker processes), for comparison with bench/cluster_bench.cc in the same run:

    /usr/bin/python3 bench/python_dask.py [--tasks N] [--array-mib M] [--json FILE]

Rows: round trip of an empty task, client.map of small tasks (one task per call: Dask has no
chunksize), 600 uneven naps, and an M MiB numpy array scattered to every worker
(broadcast=True) then summed by 100 tasks. Prints one line per row and a JSON object.
The workers have no memory limit (memory_limit=0): with Dask's default share of RAM per worker,
the copies of a large array make workers spill and pause, which measures the limit, not the transfer.
"""
import argparse
import json
import random
import sys
import time

import numpy as np
from dask.distributed import Client, LocalCluster


def square(x):
    return x * x


def nap_us(us):
    time.sleep(us * 1e-6)
    return us


def noop():
    return 0


def total(a):
    return float(a.sum())


def count(a):
    return len(a)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--array-mib", type=int, default=0)  # 1024 did not finish in 6 min here; run_report: 256
    parser.add_argument("--json", help="also write the JSON object to this file")
    args = parser.parse_args()
    rows = []
    workers = 6
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      memory_limit=0) as cluster, \
            Client(cluster) as client:
        client.submit(noop, pure=False).result()
        us = []
        for _ in range(args.rounds):
            t = time.perf_counter()
            client.submit(noop, pure=False).result()
            us.append((time.perf_counter() - t) * 1e6)
        us.sort()
        median = us[len(us) // 2]
        print(f"{'round_trip':22} {median:12.2f} us   (median of {len(us)})")
        rows.append({"name": "BM_Dask/round_trip", "value": median, "unit": "us"})

        xs = [float(i) for i in range(args.tasks)]
        t = time.perf_counter()
        ys = client.gather(client.map(square, xs, pure=False))
        s = time.perf_counter() - t
        assert ys[-1] == xs[-1] ** 2
        print(f"{'map_small_per_call':22} {args.tasks / s:12.0f} tasks/s ({args.tasks} tasks in {s:.3f} s)")
        rows.append({"name": "BM_Dask/map_small_per_call", "value": args.tasks / s, "unit": "tasks/s",
                     "tasks": args.tasks, "seconds": s})

        rng = random.Random(15)
        naps = [rng.randint(0, 4000) for _ in range(600)]
        ideal = sum(naps) * 1e-6 / workers
        t = time.perf_counter()
        client.gather(client.map(nap_us, naps, pure=False))
        s = time.perf_counter() - t
        print(f"{'map_uneven':22} {s:12.3f} s    (ideal {ideal:.3f} s on {workers} workers: {s / ideal:.2f}x)")
        rows.append({"name": "BM_Dask/map_uneven", "value": s, "unit": "s", "ideal_s": ideal, "workers": workers})

        if args.array_mib > 0:
            a = np.ones((args.array_mib << 20) // 8)
            t = time.perf_counter()
            [fa] = client.scatter([a], broadcast=True)
            counts = client.gather([client.submit(count, fa, pure=False) for _ in range(100)])
            ship = time.perf_counter() - t
            assert all(c == len(a) for c in counts)
            holders = len(client.who_has(fa)[fa.key])
            t = time.perf_counter()
            sums = client.gather([client.submit(total, fa, pure=False) for _ in range(100)])
            s = time.perf_counter() - t
            assert all(x == len(a) for x in sums)
            print(f"{'array_ship':22} {ship:12.3f} s    (scatter(broadcast=True) of {args.array_mib} MiB: a copy on each "
                  f"of {holders} workers, and 100 tasks taking it)")
            print(f"{'array_sum':22} {s:12.3f} s    (100 sums)")
            rows.append({"name": "BM_Dask/array_ship", "value": ship, "unit": "s", "array_mib": args.array_mib,
                         "copies": holders})
            rows.append({"name": "BM_Dask/array_sum", "value": s, "unit": "s", "array_mib": args.array_mib})
    import distributed
    out = json.dumps({"context": {"executable": "python_dask.py", "distributed": distributed.__version__,
                                  "python": sys.version.split()[0], "workers": workers}, "rows": rows}, indent=2)
    print(out)
    if args.json:
        with open(args.json, "w") as f:
            f.write(out + "\n")


if __name__ == "__main__":
    main()
