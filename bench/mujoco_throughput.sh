#!/usr/bin/env bash
# Issue 18 item 1 in one command: training throughput of MuJoCo tasks as a fraction of the
# raw stepping rate of the same environments on the same cores. The raw rate is
# `test_mujoco --bench` (one environment, random actions, resets when an episode ends) run
# on every core at once, summed; the training rate is `natgrad train`'s own (env steps over
# the whole run, rollouts, updates and checkpoints included) with one thread per core, once
# per value-function precision. Random actions end episodes at other times than a policy's,
# so the raw rate is a yardstick, not an exact bound.
# usage: bench/mujoco_throughput.sh [ENV ...]        (default: Hopper-v5 Walker2d-v5 Ant-v5)
#        NG_STEPS=1000000 NG_SEED=0 NG_PRECISIONS="f64 f32" NG_BUILD=build/release
set -euo pipefail
cd "$(dirname "$0")/.."
build=${NG_BUILD:-build/release}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j2 --target natgrad_cli test_mujoco >/dev/null
ng=$build/natgrad
if ! "$ng" list --ids 2>/dev/null | grep -x Hopper-v5 >/dev/null; then
  echo "natgrad was built without MuJoCo: nothing measured"
  exit 0
fi
steps=${NG_STEPS:-1000000}
seed=${NG_SEED:-0}
precisions=${NG_PRECISIONS:-f64 f32}
cores=$(nproc 2>/dev/null || echo 2)
envs=("$@")
[ ${#envs[@]} -gt 0 ] || envs=(Hopper-v5 Walker2d-v5 Ant-v5)
out=${NG_OUT:-runs/throughput}
mkdir -p "$out"
export OPENBLAS_NUM_THREADS=1

echo "commit $(git rev-parse --short HEAD), $cores cores, $steps steps, seed $seed;" \
     "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
# raw: one bench per core at the same time, "Hopper-v5  22486  89942" lines, summed per env
for c in $(seq "$cores"); do "$build/test_mujoco" --bench 3 >"$out/raw.$c" & done
wait
raw=$(cat "$out"/raw.* | awk '$1 ~ /-v5$/ {s[$1] += $2} END {for (e in s) printf "%s %.0f\n", e, s[e]}')
echo
echo "| environment | raw env steps/s ($cores cores) | vf | training steps/s | fraction of raw | wall s | load after |"
echo "|---|---:|---|---:|---:|---:|---|"
for env in "${envs[@]}"; do
  r=$(awk -v e="$env" '$1 == e {print $2}' <<<"$raw")
  for p in $precisions; do
    dir="$out/$env-$p"
    "$ng" train --env "$env" --seed "$seed" --steps "$steps" --threads "$cores" \
      --set vf_precision="$p" --out "$dir" --force --eval-episodes 0 >"$dir.log" 2>&1
    line=$(grep '^time:' "$dir.log") # "time: 44.1s for 1001472 steps (22710 steps/s)"
    rate=$(sed -E 's/.*\(([0-9]+) steps\/s\).*/\1/' <<<"$line")
    wall=$(sed -E 's/^time: ([^ ]+) for.*/\1/' <<<"$line")
    echo "| $env | $r | $p | $rate | $(awk -v a="$rate" -v b="$r" 'BEGIN {printf "%.0f %%", 100 * a / b}')" \
         "| $wall | $(cut -d' ' -f1 /proc/loadavg) |"
  done
done
