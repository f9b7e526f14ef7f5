"""The cluster benchmark's map workloads on mpi4py.futures.MPIPoolExecutor, for comparison with
bench/cluster_bench.cc in the same run:

    mpirun -np 7 python3 -m mpi4py.futures bench/python_mpi4py.py [--tasks N] [--json FILE]

Rank 0 runs this script; the other 6 ranks are MPIPoolExecutor's workers (brine's bench runs 3
ranks x 2 workers). Prints one line per row and a JSON object, like brine_cluster_bench.
"""
import argparse
import json
import random
import sys
import time

from mpi4py import MPI
from mpi4py.futures import MPIPoolExecutor


def square(x):
    return x * x


def nap_us(us):
    time.sleep(us * 1e-6)
    return us


def noop():
    return 0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--json", help="also write the JSON object to this file")
    args = parser.parse_args()
    rows = []
    with MPIPoolExecutor() as pool:
        workers = MPI.COMM_WORLD.Get_size() - 1
        pool.submit(noop).result()
        us = []
        for _ in range(args.rounds):
            t = time.perf_counter()
            pool.submit(noop).result()
            us.append((time.perf_counter() - t) * 1e6)
        us.sort()
        median = us[len(us) // 2]
        print(f"{'round_trip':22} {median:12.2f} us   (median of {len(us)})")
        rows.append({"name": "BM_MPIPoolExecutor/round_trip", "value": median, "unit": "us"})

        xs = [float(i) for i in range(args.tasks)]
        list(pool.map(square, xs[:1000]))
        # mpi4py's default chunksize is 1; give it brine's default (n / (4 x workers)) as well.
        for chunksize in (1, max(1, args.tasks // (4 * workers))):
            n = args.tasks if chunksize > 1 else min(args.tasks, 10_000)
            times = []
            for _ in range(5 if chunksize > 1 else 1):  # the median of 5, as brine's row
                t = time.perf_counter()
                ys = list(pool.map(square, xs[:n], chunksize=chunksize))
                times.append(time.perf_counter() - t)
                assert ys[-1] == xs[n - 1] ** 2
            s = sorted(times)[len(times) // 2]
            name = f"map_small_chunksize_{chunksize}" if chunksize == 1 else "map_small"
            print(f"{name:22} {n / s:12.0f} tasks/s ({n} tasks in {s:.3f} s, chunksize {chunksize})")
            rows.append({"name": f"BM_MPIPoolExecutor/{name}", "value": n / s, "unit": "tasks/s", "tasks": n, "seconds": s})

        rng = random.Random(15)
        naps = [rng.randint(0, 4000) for _ in range(600)]
        ideal = sum(naps) * 1e-6 / workers
        t = time.perf_counter()
        list(pool.map(nap_us, naps))
        s = time.perf_counter() - t
        print(f"{'map_uneven':22} {s:12.3f} s    (ideal {ideal:.3f} s on {workers} workers: {s / ideal:.2f}x)")
        rows.append({"name": "BM_MPIPoolExecutor/map_uneven", "value": s, "unit": "s", "ideal_s": ideal, "workers": workers})
    out = json.dumps({"context": {"executable": "python_mpi4py.py", "mpi4py": __import__("mpi4py").__version__,
                                  "python": sys.version.split()[0], "workers": workers}, "rows": rows}, indent=2)
    print(out)
    if args.json:
        with open(args.json, "w") as f:
            f.write(out + "\n")


if __name__ == "__main__":
    main()
