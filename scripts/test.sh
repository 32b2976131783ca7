#!/usr/bin/env bash
# The whole test suite: installs missing packages, builds with -Werror, runs CTest, then
# rebuilds with AddressSanitizer + UndefinedBehaviorSanitizer and runs CTest again, and
# with ThreadSanitizer for the tests that run threads.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh g++ gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm # export tests
jobs=$(nproc 2>/dev/null || echo 2)

echo "== release build + tests (gcc, -Werror) =="
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DNG_WERROR=ON >/dev/null
cmake --build build/release -j"$jobs"
ctest --test-dir build/release --output-on-failure -j"$jobs"

echo "== robustness: crash test (SIGKILL + resume) and valgrind memcheck of the CLI =="
scripts/robustness.sh build/release

echo "== clang build (warnings only, -Werror) =="
CC=clang cmake -S . -B build/clang -DCMAKE_BUILD_TYPE=Release -DNG_WERROR=ON -DNG_BUILD_TESTS=ON >/dev/null
cmake --build build/clang -j"$jobs"

echo "== ASan + UBSan build + tests =="
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DNG_SANITIZE=ON -DNG_WERROR=ON >/dev/null
cmake --build build/asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan --output-on-failure -j"$jobs"

echo "== ThreadSanitizer build + threaded tests (clang) =="
# clang, not gcc: gcc 12 instruments the resolver of src/adam.c's target_clones, which the
# dynamic loader runs before TSan is initialised, and every program segfaults at start-up.
# clang's TSan needs vm.mmap_rnd_bits <= 30 (clang 14 stops at start-up with "unexpected
# memory mapping" under the 32 bits some newer kernels set).
scripts/deps.sh libclang-rt-14-dev
tsan_start=$SECONDS
CC=clang cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNG_SANITIZE_THREAD=ON \
  -DNG_WERROR=ON >/dev/null
cmake --build build/tsan -j"$jobs" --target natgrad_cli test_threads test_alloc_fail test_blocks
# OpenBLAS is not instrumented: with threads of its own, TSan would see its workers read
# and write our buffers with no synchronisation it can see, and report races that are not
# there. At one thread every BLAS call runs on the thread that made it. (For the same
# reason `natgrad bench`, which times OpenBLAS at several threads, is not run here.)
export OPENBLAS_NUM_THREADS=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
# The pool (every pass, Fisher product and whole training run at 1-4 threads), thread start
# failures at every allocation, env blocks on threads and thread ranks (their sums' lock,
# turns and failure path), and `natgrad train` at 1 and 3 threads giving the same run.
# Where the kernel randomises more address bits than clang 14's TSan maps, run without ASLR.
norandom=()
if [ "$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)" -gt 30 ]; then
  norandom=(setarch "$(uname -m)" -R)
fi
"${norandom[@]}" ctest --test-dir build/tsan --output-on-failure -j"$jobs" \
  -R '^(test_threads|test_alloc_fail|test_blocks|cli_train_threads)$'
# ... and at 2 threads: the same run again (cli_train_threads kept its one-thread run).
tsan_runs=build/tsan/cli_tests/threads
rm -rf "$tsan_runs/two"
"${norandom[@]}" build/tsan/natgrad train --env Pendulum-v1 --steps 8192 --threads 2 --eval-episodes 0 \
  --out "$tsan_runs/two" --quiet
cmp "$tsan_runs/one/checkpoint.ngc" "$tsan_runs/two/checkpoint.ngc"
echo "ThreadSanitizer stage: no report, $((SECONDS - tsan_start)) s"
