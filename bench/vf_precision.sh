#!/usr/bin/env bash
# The float32 value function against the double one (vf_precision, issue 18 item 4): for each
# environment and seed, trains with --set vf_precision=f64 and then =f32 (interleaved, so both
# see the same load), evaluates each policy over deterministic episodes with `natgrad eval`,
# and prints a markdown table: per-seed returns and their mean for both precisions, the median
# wall time of each and the f64/f32 time ratio, and the machine's load average.
# usage: bench/vf_precision.sh [ENV ...]     (default: the five classic-control envs)
#        NG_SEEDS="0 1 2 3 4" NG_THREADS=1 NG_EPISODES=20 NG_STEPS=... bench/vf_precision.sh Hopper-v5
#        NG_BUILD=DIR: the Release build folder (default build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${NG_BUILD:-build/release}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target natgrad_cli >/dev/null
ng=$build/natgrad
seeds=${NG_SEEDS:-0 1 2 3 4}
threads=${NG_THREADS:-1}
episodes=${NG_EPISODES:-20}
envs=("$@")
[ ${#envs[@]} -gt 0 ] || envs=(CartPole-v1 Pendulum-v1 Acrobot-v1 MountainCar-v0 MountainCarContinuous-v0)
out=${NG_OUT:-runs/vf_precision}
steps_arg=()
[ -n "${NG_STEPS:-}" ] && steps_arg=(--steps "$NG_STEPS")
mkdir -p "$out"
export OPENBLAS_NUM_THREADS=1
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mean() { awk '{s+=$1} END {printf "%.1f", s/NR}'; }

echo "commit $(git rev-parse --short HEAD), $(nproc) cores, --threads $threads, load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| environment | steps | f64 returns (seeds ${seeds// /, }) | f64 mean | f32 returns | f32 mean | f64 time | f32 time | f64/f32 |"
echo "|---|---|---|---|---|---|---|---|---|"
for env in "${envs[@]}"; do
  declare -A ret=() tim=()
  steps=""
  for s in $seeds; do
    for p in f64 f32; do
      dir="$out/$env-$p-s$s"
      log=$("$ng" train --env "$env" --seed "$s" --threads "$threads" "${steps_arg[@]}" \
              --set vf_precision=$p --out "$dir" --force --eval-episodes 0 2>&1 | tail -n 20)
      line=$(grep '^time:' <<<"$log") # "time: 5.8s for 100352 steps (17313 steps/s)"
      tim[$p]+="$(sed -E 's/^time: ([0-9.]+)s.*/\1/' <<<"$line") "
      steps=$(sed -E 's/.* for ([0-9]+) steps.*/\1/' <<<"$line")
      r=$("$ng" eval "$dir" --episodes "$episodes" | sed -E 's/.*mean return ([-0-9.]+) .*/\1/')
      ret[$p]+="$r "
    done
  done
  t64=$(tr ' ' '\n' <<<"${tim[f64]}" | grep . | median)
  t32=$(tr ' ' '\n' <<<"${tim[f32]}" | grep . | median)
  echo "| $env | $steps | ${ret[f64]% } | $(tr ' ' '\n' <<<"${ret[f64]}" | grep . | mean)" \
       "| ${ret[f32]% } | $(tr ' ' '\n' <<<"${ret[f32]}" | grep . | mean)" \
       "| ${t64} s | ${t32} s | $(awk -v a="$t64" -v b="$t32" 'BEGIN {printf "%.2f", a/b}') |"
  unset ret tim
done
echo
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
