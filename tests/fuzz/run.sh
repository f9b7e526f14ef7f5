#!/bin/bash
# Builds the libFuzzer targets with clang (ASan + UBSan, core instrumented for coverage) and
# runs each for a bounded time on a copy of the seed corpus. A crash input is saved under
# tests/fuzz/crashes/<target>/, which fuzz_regression_tests replays in every build.
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET (default 30)] [BUILD_DIR (default build/fuzz)]
set -euo pipefail
seconds=${1:-30}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${2:-$root/build/fuzz}

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
  -DBRINE_BUILD_FUZZ=ON -DBRINE_BUILD_BENCH=OFF -DBRINE_BUILD_TOOLS=OFF >/dev/null
cmake --build "$build" --target task_fuzzer result_fuzzer

status=0
for target in task result; do
  work=$(mktemp -d)
  cp "$here/corpus/$target"/* "$work"/
  mkdir -p "$here/crashes/$target"
  echo "== ${target}_fuzzer: ${seconds} s"
  if ! UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$build/tests/fuzz/${target}_fuzzer" "$work" \
      -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$here/crashes/$target/" 2>&1 | tee "$build/${target}_fuzzer.log" | grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)"; then
    :
  fi
  if grep -q "Test unit written" "$build/${target}_fuzzer.log"; then
    echo "!! ${target}_fuzzer found a crash (see $build/${target}_fuzzer.log); add the input to git and fix it"
    status=1
  fi
  rm -rf "$work"
done
exit $status
