#!/usr/bin/env bash
# ACKTR against TRPO (docs/mujoco.md's ACKTR section): for each environment and seed, trains
# `natgrad train --algo trpo` and `--algo acktr` with natgrad's defaults for the environment
# (the budgets docs/mujoco.md and the README use: CartPole-v1 and Pendulum-v1 100k steps,
# Hopper-v5 1M), evaluates each policy over 10 deterministic episodes with `natgrad eval`,
# and prints a markdown table: per-seed returns, mean ± standard error over seeds, and the
# mean wall time per run. One training at a time, one thread (the returns are the same for
# any thread count); each run's folder is $NG_OUT/ENV-ALGO-sS.
#
# usage: bench/acktr_results.sh [ENV ...]   (default: CartPole-v1 Pendulum-v1 Hopper-v5)
#        NG_SEEDS="0 1 2" NG_EPISODES=10 NG_OUT=runs/acktr NG_BUILD=build/release
#        NG_TRAIN_ARGS="--set KEY=VALUE ...": extra `natgrad train` arguments for every run
set -euo pipefail
cd "$(dirname "$0")/.."
build=${NG_BUILD:-build/release}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target natgrad_cli >/dev/null
ng=$build/natgrad
seeds=${NG_SEEDS:-0 1 2}
episodes=${NG_EPISODES:-10}
envs=("$@")
[ ${#envs[@]} -gt 0 ] || envs=(CartPole-v1 Pendulum-v1)
if [ $# -eq 0 ] && "$ng" list 2>/dev/null | grep -q Hopper-v5; then envs+=(Hopper-v5); fi
out=${NG_OUT:-runs/acktr}
mkdir -p "$out"
export OPENBLAS_NUM_THREADS=1

# mean ± standard error (sample sd / sqrt n) of the numbers on stdin
mean_se() { awk '{ s += $1; q += $1 * $1; n++ }
                 END { m = s / n; v = n > 1 ? (q - n * m * m) / (n - 1) : 0; if (v < 0) v = 0;
                       printf "%.1f ± %.1f", m, sqrt(v / n) }'; }

echo "| environment | algo | return per seed ($seeds; $episodes deterministic episodes) |" \
     "mean ± s.e. | wall s per run |"
echo "|---|---|---|---|---|"
for env in "${envs[@]}"; do
  for algo in trpo acktr; do
    rets=() walls=()
    for s in $seeds; do
      dir=$out/$env-$algo-s$s
      t0=$(date +%s.%N)
      # shellcheck disable=SC2086
      "$ng" train --env "$env" --algo "$algo" --seed "$s" --threads 1 --out "$dir" --force -q \
        ${NG_TRAIN_ARGS:-}
      t1=$(date +%s.%N)
      walls+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')")
      r=$("$ng" eval "$dir" --episodes "$episodes" | sed -n 's/.*mean return \([-0-9.]*\) .*/\1/p')
      rets+=("$r")
    done
    ms=$(printf '%s\n' "${rets[@]}" | mean_se)
    mw=$(printf '%s\n' "${walls[@]}" | awk '{ s += $1; n++ } END { printf "%.0f", s / n }')
    echo "| $env | $algo | $(IFS=,; echo "${rets[*]}" | sed 's/,/, /g') | **$ms** | $mw |"
  done
  # both algorithms' learning curves: the mean over the seeds with a 95 % band
  dirs=(); for algo in trpo acktr; do for s in $seeds; do dirs+=("$out/$env-$algo-s$s"); done; done
  "$ng" plot "${dirs[@]}" --force --out "$out/$env-curves.svg" >/dev/null
done
