# `natgrad bench` (the harness in bench/) checked for consistency: a quick run on tiny batches
# (1, 2 and 5 chunks of 256 rows, two threads) writes its JSON, and test_bench
# (tests/test_bench.c) recomputes every FLOP count, parameter count, cache size and rate in it
# from the shapes. No timing is asserted. Also: the command's usage errors, a missing peer or
# interpreter, a torch not on OpenBLAS, and a stand-in peer that shows which settings its
# process was given.
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
  set_tests_properties(cli_bench_quick PROPERTIES FIXTURES_SETUP bench_json TIMEOUT 600
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1")
  set_tests_properties(test_bench PROPERTIES FIXTURES_REQUIRED bench_json
                       ENVIRONMENT "NG_BENCH_JSON=${NG_BENCH_DIR}/quick.json")

  # usage errors and a peer that is not there: exit status and message
  ng_cli_expect(cli_bench_bad_sizes 2 "--sizes: expected" bench --sizes 10,x)
  ng_cli_expect(cli_bench_bad_threads 2 "--threads: expected an integer" bench --threads 0)
  ng_cli_expect(cli_bench_unknown 2 "unknown option '--fast'" bench --fast)
  ng_cli_expect(cli_bench_no_peer 2 "torch_fvp_bench.py not found .*--peer-dir" bench --peer
                --peer-dir ${NG_BENCH_DIR}/no-such-folder --quick)
  ng_cli_expect(cli_bench_help 0 "usage: natgrad bench" bench --help)

  # A stand-in for the peer: a "python" that answers the probe (torch's version and the BLAS
  # it loaded), records the environment its run was given, and reports one row per case.
  set(NG_FAKE_PEER ${NG_BENCH_DIR}/fake-peer)
  file(MAKE_DIRECTORY ${NG_FAKE_PEER})
  file(WRITE ${NG_FAKE_PEER}/torch_fvp_bench.py "# stands in for the peer; never run\n")
  file(WRITE ${NG_FAKE_PEER}/python-on-refblas
       "#!/bin/sh\necho 'torch 0.0-fake'\necho 'lib /usr/lib/blas/libblas.so.3'\n")
  file(WRITE ${NG_FAKE_PEER}/python [=[#!/bin/sh
dir=$(dirname "$0")
if [ "$1" = -c ]; then
  case "$2" in
    *json.load*)
      for p in cat gauss; do for d in float32 float64; do
        echo "row $p 100 $d 1 0.001 0.002 0.001 0.01"
      done; done ;;
    *) echo 'torch 0.0-fake'; echo "lib $LD_LIBRARY_PATH/libblas.so.3" ;;
  esac
else
  env > "$dir/peer-env.txt"
fi
]=])
  file(CHMOD ${NG_FAKE_PEER}/python ${NG_FAKE_PEER}/python-on-refblas
       PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE)
  ng_cli_expect(cli_bench_no_python 1 "can import torch.*--python" bench --peer
                --peer-dir ${NG_FAKE_PEER} --python ${NG_FAKE_PEER}/no-such-python --quick)
  ng_cli_expect(cli_bench_peer_refblas 1 "not OpenBLAS.*--peer-blas" bench --peer
                --peer-dir ${NG_FAKE_PEER} --python ${NG_FAKE_PEER}/python-on-refblas --quick)
  # the peer's process gets the malloc settings and the BLAS folder (natgrad sets them only
  # in the environment it hands to posix_spawn), and the JSON records them
  add_test(NAME cli_bench_peer_env COMMAND sh -c [=[
    dir=$1; rm -f "$dir/peer-env.txt" "$dir/out.json"
    "$0" bench --quick --sizes 100 --no-runs --no-envs --target-s 0.01 --peer \
      --peer-dir "$dir" --python "$dir/python" --peer-blas /opt/fake-openblas \
      --json "$dir/out.json" || exit 1
    for v in MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=17179869184 \
             LD_LIBRARY_PATH=/opt/fake-openblas OMP_NUM_THREADS=1; do
      grep -qx "$v" "$dir/peer-env.txt" || { echo "peer's environment lacks $v"; exit 1; }
    done
    grep -q '"MALLOC_TRIM_THRESHOLD_": "17179869184"' "$dir/out.json" || exit 1
    grep -q '"LD_LIBRARY_PATH": "/opt/fake-openblas"' "$dir/out.json"
  ]=] $<TARGET_FILE:natgrad_cli> ${NG_FAKE_PEER})
  set_tests_properties(cli_bench_peer_env PROPERTIES TIMEOUT 120
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1")
endif()
