#!/usr/bin/env bash
# Reproduces the README's TRPO results: for each environment, trains seeds 0-4 at its
# rl-baselines3-zoo budget with natgrad's defaults, evaluates each policy over 50
# deterministic episodes, and prints a table (per-seed returns, mean, wall time, steps/s).
# usage: bench/rl_results.sh [ENV ...]     (default: the five classic-control envs)
#        NG_SEEDS="0 1 2 3 4" NG_ALGO=trpo NG_EPISODES=50 bench/rl_results.sh CartPole-v1
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc 2>/dev/null || echo 2)" --target natgrad_cli >/dev/null
ng=build/release/natgrad
seeds=${NG_SEEDS:-0 1 2 3 4}
algo=${NG_ALGO:-trpo}
episodes=${NG_EPISODES:-50}
envs=("$@")
[ ${#envs[@]} -gt 0 ] || envs=(CartPole-v1 Pendulum-v1 Acrobot-v1 MountainCar-v0 MountainCarContinuous-v0)
out=${NG_OUT:-runs/results}
mkdir -p "$out"
export OPENBLAS_NUM_THREADS=1

echo "| environment | steps | $algo return, seeds ${seeds// /, } (${episodes} deterministic episodes each) | mean | wall time / run | env steps/s |"
echo "|---|---|---|---|---|---|"
for env in "${envs[@]}"; do
  returns=() times=() rates=() steps=""
  for s in $seeds; do
    dir="$out/$env-$algo-s$s"
    log=$("$ng" train --env "$env" --algo "$algo" --seed "$s" --out "$dir" --force \
            --eval-episodes 0 2>&1 | tail -n 20)
    # "time: 5.8s for 100352 steps (17313 steps/s)"
    line=$(grep '^time:' <<<"$log")
    times+=("$(sed -E 's/^time: ([0-9.]+)s.*/\1/' <<<"$line")")
    steps=$(sed -E 's/.* for ([0-9]+) steps.*/\1/' <<<"$line")
    rates+=("$(sed -E 's/.*\(([0-9]+) steps\/s\).*/\1/' <<<"$line")")
    # "CartPole-v1 after 100352 steps: mean return 500.00 ± 0.00 over ..."
    r=$("$ng" eval "$dir" --episodes "$episodes" | sed -E 's/.*mean return ([-0-9.]+) .*/\1/')
    returns+=("$r")
  done
  mean=$(printf '%s\n' "${returns[@]}" | awk '{s+=$1} END {printf "%.1f", s/NR}')
  tmed=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  rmed=$(printf '%s\n' "${rates[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  joined=$(IFS=,; echo "${returns[*]}" | sed 's/,/, /g')
  echo "| $env | $steps | $joined | **$mean** | ${tmed} s (median) | $rmed (median) |"
done
