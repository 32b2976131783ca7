# `natgrad bench` checked for consistency: a quick run on tiny batches (1, 2 and 5 chunks of
# 256 rows, two threads) writes its JSON, and test_bench (tests/test_bench.c) recomputes
# every FLOP count, parameter count, cache size and rate in it from the shapes. No timing
# is asserted. Also: the command's usage errors and a missing peer are clear messages.
if(TARGET natgrad_cli AND TARGET test_bench)
  set(NG_BENCH_DIR ${CMAKE_BINARY_DIR}/bench_tests)
  file(MAKE_DIRECTORY ${NG_BENCH_DIR})
  add_test(NAME cli_bench_quick COMMAND sh -c [=[
    out=$1; rm -f "$out.json"
    "$0" bench --quick --sizes 100,300,1200 --threads 2 --no-runs --target-s 0.01 \
      --json "$out.json" > "$out.txt" 2>&1; rc=$?
    cat "$out.txt"
    [ "$rc" -eq 0 ] || { echo "exit status $rc"; exit 1; }
    [ -s "$out.json" ] || { echo "no JSON written"; exit 1; }
    grep -q '^kernels' "$out.txt" && grep -q '^targets' "$out.txt" || exit 1
  ]=] $<TARGET_FILE:natgrad_cli> ${NG_BENCH_DIR}/quick)
  set_tests_properties(cli_bench_quick PROPERTIES FIXTURES_SETUP bench_json TIMEOUT 120
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1")
  set_tests_properties(test_bench PROPERTIES FIXTURES_REQUIRED bench_json
                       ENVIRONMENT "NG_BENCH_JSON=${NG_BENCH_DIR}/quick.json")

  # usage errors and a peer that is not there: exit status and message
  function(ng_bench_expect name status regex)
    add_test(NAME ${name} COMMAND sh -c [=[
      re=$1; want=$2; shift 2
      out=$("$0" bench "$@" 2>&1); rc=$?
      printf '%s\n[exit status %s, expected %s]\n' "$out" "$rc" "$want"
      [ "$rc" -eq "$want" ] || exit 1
      printf '%s\n' "$out" | grep -Eq -- "$re" || { echo "no line matches: $re"; exit 1; }
    ]=] $<TARGET_FILE:natgrad_cli> ${regex} ${status} ${ARGN})
    set_tests_properties(${name} PROPERTIES TIMEOUT 60)
  endfunction()
  ng_bench_expect(cli_bench_bad_sizes 2 "--sizes: expected" --sizes 10,x)
  ng_bench_expect(cli_bench_bad_threads 2 "--threads: expected an integer" --threads 0)
  ng_bench_expect(cli_bench_unknown 2 "unknown option '--fast'" --fast)
  ng_bench_expect(cli_bench_no_peer 2 "torch_fvp_bench.py not found .*--peer-dir" --peer
                  --peer-dir ${NG_BENCH_DIR}/no-such-folder --quick)
  ng_bench_expect(cli_bench_help 0 "usage: natgrad bench" --help)
endif()
