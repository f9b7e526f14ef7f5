#!/usr/bin/env bash
# The perf profile behind each MISS row of the pool's targets (issue 13): runs bench/profile.sh
# on the row and on the floor it is compared with, and writes them as one markdown page
# (bench/report/PROFILES.md by default), which REPORT.md's MISS rows link to.
#
#   bench/profile_misses.sh build/release [OUT.md]
#
# Each row runs twice (perf stat, then perf record), alone: start it on an otherwise idle machine.
set -euo pipefail
build=${1:?usage: $0 BUILD_DIR [OUT.md]}
out=${2:-"$(dirname "$0")/report/PROFILES.md"}
here=$(cd "$(dirname "$0")" && pwd)
bin="$build/bench/brine_pool_bench"
[ -x "$bin" ] || { echo "$0: $bin is missing (cmake --build --preset release)" >&2; exit 2; }
command -v perf >/dev/null || { echo "$0: needs perf (apt-get install linux-perf)" >&2; exit 2; }

# anchor|title|row filter|floor filter (may be empty; transport:FILTER is a row of brine_transport_bench)|what to read in it
rows=(
  "spin|Spinning round trip against the raw spin ping-pong|BM_PoolRoundTrip/spin/|transport:BM_Transport/spin/cross_cpu/|the share of cpu_relax (waiting for the other core's lines) and of the pool's own functions"
  "sleep|Default round trip, tasks back to back|BM_PoolRoundTrip/sleep/|BM_PoolRoundTrip/spin/|context switches per task: whether the adaptive wait spun or slept"
  "rare|Default round trip, tasks 2 ms apart, against a bare futex ping-pong|BM_PoolRoundTrip/rare|BM_RawPingPong/futex_rare|context switches and CPU migrations per task against the ping-pong's"
  "same_cpu|Worker and caller on one CPU, against eventfd there|BM_PoolRoundTrip/same_cpu|BM_RawPingPong/eventfd_same_cpu|context switches per task and the kernel's share"
  "ref|1 GiB by brine::ref, repeated sends, against the in-process sum|BM_PoolArraySum/1024MiB/ref/|BM_PoolArraySum/1024MiB/in_process/|memmove (the copy into the arena) against the sum"
  "ref_first|First send of a fresh 1 GiB array by brine::ref|BM_PoolArraySum/1024MiB/ref_first||the kernel's copy into fresh memfd pages and the worker's first read"
  "submit|submit() in a loop of a million tasks|BM_PoolMap/.*/submit_chunksize_1/||the kernel's wake-up path against the pool's own functions"
  "map1|map with chunksize 1|BM_PoolMap/.*/map_chunksize_1/||the kernel's wake-up path against the pool's own functions"
  "map_auto|map with the default chunksize|BM_PoolMap/.*/map_chunksize_auto/||memmove and result assembly against the kernel"
)

{
  echo "# Profiles of the pool's MISS rows"
  echo
  echo "Made by \`bench/profile_misses.sh $build\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown),"
  echo "$(nproc) CPUs, $(uname -r). Each block is \`bench/profile.sh\`: \`perf stat\` (CPU time, context switches,"
  echo "CPU migrations, page faults over the whole run, set-up included) and the symbols holding at least 1.5 % of"
  echo "the \`perf record -e cpu-clock\` samples of the parent and its workers (this VM has no hardware counters)."
  for entry in "${rows[@]}"; do
    IFS='|' read -r anchor title filter floor look <<<"$entry"
    echo
    echo "<a id=\"$anchor\"></a>"
    echo "## $title"
    echo
    echo "Read: $look."
    echo
    echo '```'
    "$here/profile.sh" "$bin" "$filter" 2>&1 || echo "(profile.sh failed)"
    if [ -n "$floor" ]; then
      echo
      floor_bin=$bin
      case $floor in transport:*) floor_bin="$build/bench/brine_transport_bench" floor=${floor#transport:} ;; esac
      "$here/profile.sh" "$floor_bin" "$floor" 2>&1 || echo "(profile.sh failed)"
    fi
    echo '```'
  done
} >"$out"
echo "wrote $out"
