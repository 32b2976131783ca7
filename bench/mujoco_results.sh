#!/usr/bin/env bash
# Reproduces docs/mujoco.md's results table: for each MuJoCo environment and algorithm
# (TRPO, and ACKTR with NG_ALGOS="trpo acktr"), trains seeds 0-9 for 1M steps with natgrad's
# defaults for the environment (src/rl/config.c), evaluates each policy over 10
# deterministic episodes with `natgrad eval`, and prints a markdown table: per-seed returns,
# their mean ± standard error over seeds with a 95 % confidence interval (Student's t), the
# published figure, wall time (and CPU time) and training steps/s of each run, and the raw
# env steps/s (random actions, one environment, tests/test_mujoco.c --bench). It also draws
# each environment's learning curves, the mean over seeds with a 95 % band per algorithm
# (`natgrad plot`), into $NG_OUT/ENV-curves.svg.
# Runs one training at a time with one thread per core (NG_THREADS=N to choose; the returns
# are the same for any N, only the times change); each run's folder is $NG_OUT/ENV-ALGO-sS.
#
# usage: bench/mujoco_results.sh [ENV ...]       (default: the seven MuJoCo environments)
#        NG_SEEDS="0 1 2 3 4" NG_STEPS=1000000 NG_EPISODES=10 bench/mujoco_results.sh Hopper-v5
#        NG_ALGOS="trpo acktr": the algorithms (default trpo)
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
seeds=${NG_SEEDS:-0 1 2 3 4 5 6 7 8 9}
algos=${NG_ALGOS:-trpo}
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
    Reacher-v5) echo "– / – (Tianshou TRPO −5.1 ± 0.8, Reacher-v2, best over training)" ;;
    Humanoid-v5) echo "– / – (Tianshou TRPO 810 ± 126, Humanoid-v3, best over training)" ;;
    Pusher-v5 | HumanoidStandup-v5) echo "– / – (none found)" ;;
    *) echo "–" ;;
  esac
}

# Raw env steps/s, one environment with random actions ("Hopper-v5  22486  89942").
raw=$("$build/test_mujoco" --bench 2)

# "mean ± s.e. [lo, hi] (sd)" of the numbers on stdin: the standard error and the 95 %
# interval from the sample sd with Student's t (n - 1 degrees of freedom); returns under 100
# in size (Reacher's, Pusher's) with 2 decimals
mean_ci() {
  awk 'BEGIN { split("12.706 4.303 3.182 2.776 2.571 2.447 2.365 2.306 2.262 2.228 2.201 " \
                     "2.179 2.160 2.145 2.131 2.120 2.110 2.101 2.093 2.086", t, " ") }
       { x[NR] = $1; s += $1 }
       END { n = NR; m = s / n; for (i = 1; i <= n; i++) v += (x[i] - m) ^ 2
             sd = n > 1 ? sqrt(v / (n - 1)) : 0; se = sd / sqrt(n)
             q = n - 1 <= 20 ? t[n - 1] : 1.96 + 2.4 / (n - 1)
             f = (m < 100 && m > -100) ? "%.2f" : "%.0f"
             if (n > 1) printf f " ± " f " [" f ", " f "] (sd " f ")", m, se, m - q * se,
                               m + q * se, sd
             else printf f, m }'
}

echo "| environment | algo | return after ${steps} steps, seeds ${seeds// /, } (${episodes} deterministic episodes each) | mean ± s.e. [95 % CI] (sd) over seeds | published (SB3-contrib / baselines) | wall time per run (its CPU time) | training steps/s (wall) | raw env steps/s |"
echo "|---|---|---|---|---|---|---|---|"
for env in "${envs[@]}"; do
 for algo in $algos; do
  returns=() times=() rates=()
  for s in $seeds; do
    dir="$out/$env-$algo-s$s"
    if [ "${NG_REUSE:-0}" = 1 ] && [ -f "$dir/train.log" ] && grep -q '^time:' "$dir/train.log"; then
      :
    else
      mkdir -p "$dir"
      TIMEFORMAT='%U %S'
      { time "$ng" train --env "$env" --algo "$algo" --seed "$s" --steps "$steps" --out "$dir" --force \
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
  stats=$(printf '%s\n' "${returns[@]}" | mean_ci)
  joined=$(printf '%s\n' "${returns[@]}" |
           awk '{printf "%s" ($1 < 100 && $1 > -100 ? "%.2f" : "%.0f"), (NR > 1 ? ", " : ""), $1}')
  walls=$(printf '%s\n' "${times[@]}" | awk '{printf "%s%s", (NR > 1 ? ", " : ""), $0}')
  rs=$(printf '%s\n' "${rates[@]}" | awk '{printf "%s%d", (NR > 1 ? ", " : ""), $1}')
  envrate=$(awk -v e="$env" '$1 == e {printf "%d", $2}' <<<"$raw")
  echo "| $env | $algo | $joined | **$stats** | $(published "$env") | $walls | $rs | $envrate |"
 done
 # learning curves: the mean over the seeds with a 95 % band, one per algorithm
 dirs=(); for algo in $algos; do for s in $seeds; do dirs+=("$out/$env-$algo-s$s"); done; done
 "$ng" plot "${dirs[@]}" --force --out "$out/$env-curves.svg" >/dev/null
done
echo
echo "Load average at the end (1, 5, 15 min; $(nproc) cores): $(cut -d' ' -f1-3 /proc/loadavg)"
