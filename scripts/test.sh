#!/usr/bin/env bash
# The whole test suite: installs missing packages, builds with -Werror, runs CTest, then
# rebuilds with AddressSanitizer + UndefinedBehaviorSanitizer and runs CTest again.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
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
