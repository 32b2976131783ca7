#!/usr/bin/env bash
# Runs the libFuzzer targets (fuzz/fuzz_*.c) for SECONDS each, one after the other (they
# share the machine's cores with everything else).
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]     (defaults: 600; checkpoint config cli
#                                                   fit_checkpoint idx csv run_log env_def)
#
# Builds build/fuzz with clang, -DNG_FUZZ=ON -DNG_SANITIZE=ON (ASan + UBSan). Each target
# starts from its seed corpus fuzz/corpus/NAME and a working corpus kept in
# build/fuzz/corpus/NAME; a crash, leak, timeout or broken invariant is written to
# build/fuzz/findings/NAME/ and stops that target. At the end the inputs that add coverage
# are merged into fuzz/corpus/NAME (libFuzzer's -merge=1), so that CTest replays them on
# every run. Each target's log is build/fuzz/NAME.log; the summary (executions, seconds,
# findings) is printed and appended to build/fuzz/summary.txt.
# A finding, once fixed, goes into fuzz/regressions/NAME/ (replayed by CTest for ever).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(checkpoint config cli fit_checkpoint idx csv run_log env_def)

scripts/deps.sh clang libclang-rt-14-dev
out=build/fuzz
CC=clang cmake -S . -B "$out" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNG_FUZZ=ON -DNG_SANITIZE=ON \
  -DNG_WERROR=ON >/dev/null
cmake --build "$out" -j2 --target "${targets[@]/#/fuzz_}" >/dev/null

status=0
for t in "${targets[@]}"; do
  mkdir -p "$out/corpus/$t" "$out/findings/$t"
  log="$out/$t.log"
  echo "== fuzz_$t for ${seconds}s (log: $log) =="
  rc=0
  OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$out/fuzz_$t" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$out/findings/$t/" \
    "$out/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  findings=$(find "$out/findings/$t" -type f | wc -l)
  line="$(date -u +%FT%TZ) fuzz_$t: ${runs:-?} executions in ${seconds}s, exit $rc, $findings finding(s)"
  echo "$line" | tee -a "$out/summary.txt"
  if [ "$rc" -ne 0 ] || [ "$findings" -ne 0 ]; then
    status=1
    grep -E "^(==[0-9]+==ERROR|SUMMARY|.*invariant broken|.*runtime error)" "$log" | head -n 5 || true
  fi
  # keep what adds coverage, for CTest's replay
  OPENBLAS_NUM_THREADS=1 "$out/fuzz_$t" -merge=1 -use_counters=0 "fuzz/corpus/$t" "$out/corpus/$t" \
    >>"$log" 2>&1 || true
done
exit $status
