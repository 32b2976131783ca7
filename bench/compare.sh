#!/usr/bin/env bash
# Runs natgrad's kernel benchmark and the PyTorch reference (shared/peers/) in one command,
# one thread each, on the same shapes, and prints both with the ratios (peer / natgrad).
# usage: bench/compare.sh [--quick]   (needs a Release build in build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
quick=""
[ "${1:-}" = "--quick" ] && quick="--quick"
peer=${NG_PEER_DIR:-../shared/peers}
scripts/deps.sh python3-torch libopenblas0-openmp
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j2 --target bench_core >/dev/null
out=$(mktemp -d)
OPENBLAS_NUM_THREADS=1 build/release/bench_core $quick --json "$out/natgrad.json"
echo
echo "PyTorch reference (Debian python3-torch on OpenBLAS, 1 thread):"
LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=1 \
  /usr/bin/python3 "$peer/torch_fvp_bench.py" --threads 1 $quick --out "$out/torch.json" >/dev/null
/usr/bin/python3 bench/compare.py "$out/natgrad.json" "$out/torch.json"
