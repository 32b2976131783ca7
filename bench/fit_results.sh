#!/usr/bin/env bash
# Reproduces the Fashion-MNIST comparison of docs/supervised.md: one MLP (784-256-10, ReLU),
# one seed, 10 epochs each of SGD, Adam, diagonal NG, CG NG and K-FAC (plus Adam at K-FAC's
# batch size, for reference), single-threaded, one run folder each under OUT_DIR, compared in
# OUT_DIR/fit.svg, then a summary
# table: best test accuracy, and when K-FAC first reaches Adam's best.
#
# Usage: bench/fit_results.sh [OUT_DIR]        (default runs/fashion-mnist)
#   EPOCHS=N   epochs per run (default 10); BUILD=DIR  build folder (default build-release)
# Installs Debian's dataset-fashion-mnist through scripts/deps.sh if it is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/runs/fashion-mnist}
build=${BUILD:-$root/build-release}
epochs=${EPOCHS:-10}

bash "$root/scripts/deps.sh" dataset-fashion-mnist
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DNG_BUILD_TESTS=OFF > /dev/null
cmake --build "$build" -j2 --target natgrad_cli > /dev/null
natgrad=$build/natgrad

# One core: wall times are comparable between runs and with other people's machines.
export OPENBLAS_NUM_THREADS=1
common=(--data fashion-mnist --model 784-256-10 --act relu --seed 0 --epochs "$epochs" --force)
"$natgrad" fit "${common[@]}" --opt sgd --batch 256 --out "$out/sgd"
"$natgrad" fit "${common[@]}" --opt adam --batch 256 --out "$out/adam"
"$natgrad" fit "${common[@]}" --opt adam --batch 1000 --out "$out/adam-b1000"
"$natgrad" fit "${common[@]}" --opt diag-ng --batch 256 --out "$out/diag-ng"
"$natgrad" fit "${common[@]}" --opt cg-ng --batch 1000 --set fisher_batch=250 --out "$out/cg-ng"
"$natgrad" fit "${common[@]}" --opt kfac --batch 1000 --out "$out/kfac"

# Columns: 1 epoch, 3 seconds, 5 train_loss, 8 test_acc.
echo
echo "| run | best test acc | at epoch | training s then | train loss after $epochs | s for $epochs epochs |"
echo "|---|---|---|---|---|---|"
for run in sgd adam adam-b1000 diag-ng cg-ng kfac; do
  awk -F, -v run="$run" 'NR > 2 && $8 > best { best = $8; ep = $1; s = $3 }
    END { printf "| %s | %.2f%% | %d | %.1f | %.4f | %.1f |\n", run, 100 * best, ep, s, $5, $3 }' \
    "$out/$run/progress.csv"
done
target=$(awk -F, 'NR > 2 && $8 > best { best = $8; s = $3 } END { printf "%.6f %s", best, s }' "$out/adam/progress.csv")
echo
awk -F, -v t="${target% *}" -v ts="${target#* }" '
  NR > 2 && !hit && $8 >= t { hit = 1; ep = $1; s = $3 }
  END {
    if (hit) printf "K-FAC reaches Adam'\''s best %.2f%% (reached at %.1f s) after epoch %d, at %.1f s of training.\n", 100 * t, ts, ep, s
    else printf "K-FAC does not reach Adam'\''s best %.2f%% within these epochs.\n", 100 * t
  }' "$out/kfac/progress.csv"
echo "Plot: $out/fit.svg"
