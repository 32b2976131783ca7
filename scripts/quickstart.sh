#!/usr/bin/env bash
# The main job: installs missing packages, builds natgrad, and runs the seed post's example.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc 2>/dev/null || echo 2)" --target natgrad_cli
mkdir -p out
OPENBLAS_NUM_THREADS=1 build/release/natgrad demo gaussian --out out/demo-gaussian.svg
