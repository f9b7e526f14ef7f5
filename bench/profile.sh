#!/usr/bin/env bash
# Where a benchmark row's time goes, for the report's MISS rows: runs one Google Benchmark filter
# under `perf stat` (CPU time, context switches, migrations, page faults) and `perf record`
# (cpu-clock samples of the parent and every worker it forks; this VM has no hardware counters),
# then prints the counts and the top symbols by share of samples.
#
#   bench/profile.sh build/release/bench/brine_pool_bench 'BM_PoolMap/.*/map_chunksize_1$' [percent]
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 BENCH_BINARY FILTER [MIN_PERCENT]" >&2
  exit 2
fi
bin=$1 filter=$2 limit=${3:-1.5}
command -v perf >/dev/null || { echo "$0: needs perf (apt-get install linux-perf)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== $(basename "$bin") --benchmark_filter='$filter'"
perf stat -e task-clock,context-switches,cpu-migrations,page-faults -o "$work/stat" -- \
  "$bin" --benchmark_filter="$filter" --benchmark_format=console 2>/dev/null | grep -E '^BM_' || true
grep -E 'task-clock|context-switches|cpu-migrations|page-faults|elapsed' "$work/stat" | sed 's/^ */   /'
perf record -q -F 2000 -e cpu-clock -o "$work/perf.data" -- "$bin" --benchmark_filter="$filter" >/dev/null 2>&1
perf report -q -i "$work/perf.data" --stdio --no-children --sort comm,dso,sym --percent-limit "$limit" 2>/dev/null |
  grep -v '^$' | sed 's/ \+$//' | head -40
