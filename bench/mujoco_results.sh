#!/usr/bin/env bash
# Reproduces docs/mujoco.md's TRPO results: for each MuJoCo environment, trains seeds 0-4
# for 1M steps with natgrad's defaults for it (rl-baselines3-zoo's, src/rl/config.c),
# evaluates each policy over 10 deterministic episodes with `natgrad eval`, and prints a
# markdown table: per-seed returns, their mean ± standard error over seeds (and sd), the
# published figure, wall time (and CPU time) and training steps/s of each run, and the raw
# env steps/s (random actions, one environment, tests/test_mujoco.c --bench).
# Runs one training at a time with one thread per core (NG_THREADS=N to choose; the returns
# are the same for any N, only the times change); each run's folder is $NG_OUT/ENV-trpo-sS.
#
# usage: bench/mujoco_results.sh [ENV ...]       (default: the seven MuJoCo environments)
#        NG_SEEDS="0 1 2 3 4" NG_STEPS=1000000 NG_EPISODES=10 bench/mujoco_results.sh Hopper-v5
#        NG_REUSE=1: evaluate a seed's finished run instead of training it again
#        NG_TRAIN_ARGS="--set KEY=VALUE ...": extra `natgrad train` arguments for every run
#          (with NG_OUT=another/folder), e.g. SB3 2021's protocol: --set timeout_as_terminal=1
#        NG_BUILD=DIR: the Release build folder to use (default build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
build=${NG_BUILD:-build/release}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" --target natgrad_cli test_mujoco \
  >/dev/null
ng=$build/natgrad
seeds=${NG_SEEDS:-0 1 2 3 4}
steps=${NG_STEPS:-1000000}
episodes=${NG_EPISODES:-10}
envs=("$@")
[ ${#envs[@]} -gt 0 ] || envs=(InvertedPendulum-v5 InvertedDoublePendulum-v5 Swimmer-v5
                                 Hopper-v5 Walker2d-v5 HalfCheetah-v5 Ant-v5)
out=${NG_OUT:-runs/mujoco}
mkdir -p "$out"
export OPENBLAS_NUM_THREADS=1

# Published TRPO returns at 1M steps: SB3-contrib's docs (mean ± standard error of 3 seeds,
# v3 tasks) / OpenAI baselines.
published() {
  case $1 in
    InvertedPendulum-v5) echo "– / 905" ;;
    InvertedDoublePendulum-v5) echo "– / 6732" ;;
    Swimmer-v5) echo "359 ± 2 / –" ;;
    Hopper-v5) echo "3372 ± 215 / 1913" ;;
    Walker2d-v5) echo "4502 ± 234 / 2343" ;;
    HalfCheetah-v5) echo "1803 ± 46 / 1290" ;;
    Ant-v5) echo "3554 ± 591 / –" ;;
    *) echo "–" ;;
  esac
}

# Raw env steps/s, one environment with random actions ("Hopper-v5  22486  89942").
raw=$("$build/test_mujoco" --bench 2)

echo "| environment | TRPO return after ${steps} steps, seeds ${seeds// /, } (${episodes} deterministic episodes each) | mean ± s.e. over seeds (sd) | published (SB3-contrib / baselines) | wall time per run (its CPU time) | training steps/s (wall) | raw env steps/s |"
echo "|---|---|---|---|---|---|---|"
for env in "${envs[@]}"; do
  returns=() times=() rates=()
  for s in $seeds; do
    dir="$out/$env-trpo-s$s"
    if [ "${NG_REUSE:-0}" = 1 ] && [ -f "$dir/train.log" ] && grep -q '^time:' "$dir/train.log"; then
      :
    else
      mkdir -p "$dir"
      TIMEFORMAT='%U %S'
      { time "$ng" train --env "$env" --seed "$s" --steps "$steps" --out "$dir" --force \
          ${NG_THREADS:+--threads "$NG_THREADS"} ${NG_TRAIN_ARGS:-} --eval-episodes 0 >"$dir/train.log.tmp" 2>&1; } 2>"$dir/cpu.txt"
      mv "$dir/train.log.tmp" "$dir/train.log"
    fi
    # "time: 2m41s for 1001472 steps (6210 steps/s)": the seconds come from progress.csv
    line=$(grep '^time:' "$dir/train.log")
    rates+=("$(sed -E 's/.*\(([0-9]+) steps\/s\).*/\1/' <<<"$line")")
    wall=$(tail -n 1 "$dir/progress.csv" | awk -F, -v c="$(head -n 1 "$dir/progress.csv" |
           tr , '\n' | grep -n '^wall_s$' | cut -d: -f1)" '{printf "%.0f", $c}')
    cpu=$(awk '{printf "%.0f", $1 + $2}' "$dir/cpu.txt" 2>/dev/null || echo "?")
    times+=("$wall s (CPU $cpu s)")
    # "Hopper-v5 after 1001472 steps: mean return 3012.45 ± 10.12 over 10 ..."
    r=$("$ng" eval "$dir" --episodes "$episodes" | sed -E 's/.*mean return ([-0-9.]+) .*/\1/')
    returns+=("$r")
  done
  # mean ± standard error over seeds (np.std / sqrt(n), as rl-baselines3-zoo's
  # scripts/all_plots.py reports the published figures), then the spread itself
  stats=$(printf '%s\n' "${returns[@]}" |
          awk '{x[NR]=$1; s+=$1} END {m=s/NR; for (i=1;i<=NR;i++) v+=(x[i]-m)^2;
               sd=sqrt(v/NR); printf "%.0f ± %.0f (sd %.0f)", m, sd/sqrt(NR), sd}')
  joined=$(printf '%s\n' "${returns[@]}" | awk '{printf "%s%.0f", (NR > 1 ? ", " : ""), $1}')
  walls=$(printf '%s\n' "${times[@]}" | awk '{printf "%s%s", (NR > 1 ? ", " : ""), $0}')
  rs=$(printf '%s\n' "${rates[@]}" | awk '{printf "%s%d", (NR > 1 ? ", " : ""), $1}')
  # learning curves: the mean over the seeds with a 95 % band (natgrad plot)
  dirs=(); for s in $seeds; do dirs+=("$out/$env-trpo-s$s"); done
  "$ng" plot "${dirs[@]}" --runs --force --out "$out/$env-curves.svg" >/dev/null
  envrate=$(awk -v e="$env" '$1 == e {printf "%d", $2}' <<<"$raw")
  echo "| $env | $joined | **$stats** | $(published "$env") | $walls | $rs | $envrate |"
done
echo
echo "Load average at the end (1, 5, 15 min; $(nproc) cores): $(cut -d' ' -f1-3 /proc/loadavg)"
