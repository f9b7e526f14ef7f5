#!/bin/bash
# Runs every benchmark suite against an existing build and renders
# bench/report/REPORT.md. Builds nothing.
#
#   bench/run_report.sh BUILD_DIR [--quick]
#
# BUILD_DIR is the top-level build directory (or its bench/ subdirectory).
# Console output goes to bench/report/raw/*.log; this prints a line per suite and, at
# the end, the PASS/MISS list of the report's targets.
# --quick runs every benchmark about once on tiny sizes, to check that
# everything works. Raw JSON goes to bench/report/raw/.
set -euo pipefail

usage() { echo "usage: $0 BUILD_DIR [--quick]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
build_dir=$1
shift
quick=0
for arg in "$@"; do
  case $arg in
    --quick) quick=1 ;;
    *) usage ;;
  esac
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
report_dir=$here/report
raw_dir=$report_dir/raw
python=/usr/bin/python3
if [[ -f $build_dir/bench/bench_facts.json ]]; then
  bench_bin=$build_dir/bench
elif [[ -f $build_dir/bench_facts.json ]]; then
  bench_bin=$build_dir
else
  echo "error: no bench build in '$build_dir' (configure with -DBRINE_BUILD_BENCH=ON and build first)" >&2
  exit 1
fi

mkdir -p "$raw_dir"
rm -f "$raw_dir"/*.json
# Other work on the machine moves every figure here: the report quotes the load before and after.
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started_at=$(date -u "+%Y-%m-%d %H:%M UTC")

if ((quick)); then
  mode=quick
  gbench_args=(--benchmark_min_time=0.001)
  python_args=(--quick)
  mpi_iterations=1000
  pool_args=(--quick)
  cluster_args=(--tasks 10000 --array-mib 64 --rounds 200)
  mpi4py_args=(--tasks 10000 --rounds 200)
  dask_args=(--tasks 500 --rounds 20 --array-mib 16)
else
  mode=full
  gbench_args=(--benchmark_min_time=0.3)
  python_args=()
  mpi_iterations=200000
  pool_args=()
  cluster_args=()
  mpi4py_args=()
  dask_args=(--array-mib 256)
fi

# One line per step as it starts, and how it ended (rows written, seconds) when it is done.
steps=8
step=0
started=0
progress() { step=$((step + 1)); started=$SECONDS; printf '[%d/%d] %s ... ' "$step" "$steps" "$*"; }
skip() { echo "skipped: $*"; }
done_with() {  # done_with JSON_FILE [NOTE]
  local rows=0
  [[ -f $1 ]] && rows=$(grep -c '"run_type"' "$1" || true)
  echo "$rows row$( ((rows == 1)) || echo s), $((SECONDS - started)) s${2:+; $2}"
}

# run_suite NAME BINARY [ARGS...]: a Google Benchmark binary, its JSON kept raw.
run_suite() {
  local name=$1 binary=$bench_bin/$2 note=""
  shift 2
  progress "$name ($(basename "$binary"))"
  if [[ ! -x $binary ]]; then skip "$binary not built"; return; fi
  "$binary" "$@" "${gbench_args[@]}" --benchmark_out="$raw_dir/$name.json" --benchmark_out_format=json \
    >"$raw_dir/$name.log" 2>&1 || note="failed (exit $?, see raw/$name.log); the report shows what was written"
  done_with "$raw_dir/$name.json" "$note"
}

run_suite serialization brine_serialization_bench
run_suite transport brine_transport_bench
run_suite pool brine_pool_bench ${pool_args[@]+"${pool_args[@]}"}

progress "mpi ping-pong (brine_mpi_pingpong)"
if [[ -x $bench_bin/brine_mpi_pingpong ]] && command -v mpirun >/dev/null; then
  # Shared memory only (vader); single-copy off, as containers often forbid it.
  timeout 120 mpirun --allow-run-as-root --oversubscribe -np 2 --bind-to core \
    --mca btl self,vader --mca btl_vader_single_copy_mechanism none \
    "$bench_bin/brine_mpi_pingpong" --iterations "$mpi_iterations" >"$raw_dir/mpi.json" 2>"$raw_dir/mpi.log" \
    && done_with "$raw_dir/mpi.json" || { rm -f "$raw_dir/mpi.json"; echo "failed (see raw/mpi.log)"; }
else
  skip "brine_mpi_pingpong or mpirun missing"
fi

# Issue 15: brine::ClusterPool over MPI (3 ranks x 2 workers) and mpi4py.futures.MPIPoolExecutor
# (1 + 6 ranks) on the same workloads, over shared memory and over TCP; then Dask distributed.
progress "cluster over MPI (brine_cluster_bench, mpi4py.futures)"
if [[ -x $bench_bin/brine_cluster_bench ]] && command -v mpirun >/dev/null; then
  cluster_rows=0
  for btl in vader tcp; do
    timeout 600 mpirun --allow-run-as-root --oversubscribe -np 3 --mca btl "self,$btl" \
      "$bench_bin/brine_cluster_bench" "${cluster_args[@]+"${cluster_args[@]}"}" --json "$raw_dir/cluster_$btl.json" \
      >"$raw_dir/cluster_$btl.log" 2>&1 && cluster_rows=$((cluster_rows + 1)) || echo -n "(cluster over $btl failed, see raw/cluster_$btl.log) "
    if [[ -x $python ]] && "$python" -c "import mpi4py" 2>/dev/null; then
      timeout 600 mpirun --allow-run-as-root --oversubscribe -np 7 --mca btl "self,$btl" \
        "$python" -m mpi4py.futures "$here/python_mpi4py.py" "${mpi4py_args[@]+"${mpi4py_args[@]}"}" \
        --json "$raw_dir/mpi4py_$btl.json" >"$raw_dir/mpi4py_$btl.log" 2>&1 \
        || echo -n "(mpi4py over $btl failed, see raw/mpi4py_$btl.log) "
    fi
  done
  # Dask distributed on the same workloads (TCP on this host). Its broadcast of a 1 GiB array to
  # 6 processes did not finish in 6 minutes here: it ships 256 MiB, and the report compares rates.
  if [[ -x $python ]] && "$python" -c "import distributed" 2>/dev/null; then
    timeout 600 "$python" "$here/python_dask.py" "${dask_args[@]}" --json "$raw_dir/dask.json" \
      >"$raw_dir/dask.log" 2>&1 || echo -n "(dask failed, see raw/dask.log) "
  fi
  echo "$cluster_rows of 2 transports, $((SECONDS - started)) s"
else
  skip "brine_cluster_bench or mpirun missing"
fi

progress "python pools ($python python_pools.py)"
if [[ -x $python ]]; then
  "$python" "$here/python_pools.py" "${python_args[@]}" --out "$raw_dir/python.json" >"$raw_dir/python.log" 2>&1 \
    && done_with "$raw_dir/python.json" || echo "failed (see raw/python.log)"
else
  skip "$python missing"
fi

# The Python package (issue 14) against the same pools: built into BUILD_DIR/python.
progress "python package (python_brine.py)"
brine_python_dir=$(dirname "$bench_bin")/python
if [[ -x $python && -d $brine_python_dir/brine ]]; then
  "$python" "$here/python_brine.py" "${python_args[@]}" --brine-path "$brine_python_dir" \
    --native "$brine_python_dir/libbrine_native_example.so" --out "$raw_dir/python_brine.json" \
    >"$raw_dir/python_brine.log" 2>&1 \
    && done_with "$raw_dir/python_brine.json" || echo "failed (see raw/python_brine.log)"
else
  skip "no brine Python package in $brine_python_dir (configure with BRINE_BUILD_PYTHON=ON)"
fi

progress "render report"
echo
cp "$bench_bin/bench_facts.json" "$raw_dir/build_facts.json"
"$python" "$report_dir/render.py" "$raw_dir" --facts "$raw_dir/build_facts.json" --mode "$mode" \
  --load-start "$load_start" --date "$started_at" --out "$report_dir/REPORT.md"
