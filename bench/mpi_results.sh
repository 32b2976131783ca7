#!/usr/bin/env bash
# Measures `mpirun natgrad train` on this machine and projects it with a latency-bandwidth
# model (docs/distributed.md). Hopper-v5, TRPO, STEPS steps (default 200000), each under nice:
#   1p1t   one process, one thread                   n_envs = 2 (the tuned config)
#   1p2t   one process, two threads                  n_envs = 2
#   2r1t   mpirun -np 2, one thread each              n_envs = 2 (strong: the same run)
#   2r1t-w mpirun -np 2, one thread each              n_envs = 4 (weak: 2 envs per rank)
# For each: wall time, rollout and update seconds (progress.csv), and for the MPI runs the
# collectives, bytes and seconds in communication per iteration (the summary's "mpi:" line).
# Then the model's efficiency at K = 8, 64, 512 ranks over 10 GbE and 100 Gb/s InfiniBand.
# Usage: bench/mpi_results.sh [NATGRAD] [WORKDIR] [STEPS]
set -euo pipefail
ng=${1:-build/release/natgrad} work=${2:-runs/bench-mpi} steps=${3:-200000}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$work"
common=(train --env Hopper-v5 --seed 1 --steps "$steps" --force)

run() { # NAME LAUNCHER... -- NATGRAD ARGS...
  local name=$1; shift
  local t0 t1
  t0=$(date +%s.%N)
  nice "$@" --out "$work/$name" > "$work/$name.out" 2>&1
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc > "$work/$name.wall"
}
run 1p1t "$ng" "${common[@]}" --threads 1
run 1p2t "$ng" "${common[@]}" --threads 2
run 2r1t mpirun --oversubscribe -np 2 "$ng" "${common[@]}" --threads 1
run 2r1t-w mpirun --oversubscribe -np 2 "$ng" "${common[@]}" --threads 1 --set n_envs=4

summary() { # NAME: wall, rollout_s and update_s per iteration, comm per iteration
  local d=$work/$1
  awk -F, -v name="$1" -v wall="$(cat "$d.wall")" '
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    { n++; r += $col["rollout_s"]; u += $col["update_s"]; s = $col["env_steps"] }
    END { printf "%-7s wall %7.1f s  %6.0f steps/s  per iteration: rollout %.3f s, update %.3f s",
                 name, wall, s / wall, r / n, u / n }' "$d/progress.csv"
  { grep -h '^mpi:' "$d.out" || true; } | tr '\n' ' ' | sed 's/^/  /'
  echo
}
echo "== measured (Hopper-v5, $steps steps, $(nproc) cores) =="
for n in 1p1t 1p2t 2r1t 2r1t-w; do summary $n; done | tee "$work/summary.txt"

# ---- model ----
# Per iteration of n_steps steps with e envs per rank and K ranks (weak scaling):
#   T_K = n_steps e c_env                 this rank's env steps (measured c_env per env step)
#       + K e n_steps c_upd               the update, replicated on every rank over the whole
#                                         batch (measured c_upd per sample)
#       + n_steps (a log2 K + (K - 1) e w / b)   one allgather per step, w bytes per env
#   efficiency E_K = T_1 / T_K.
# c_env and c_upd from 1p1t; w from the gather record (2 obs_dim + 5 doubles, Hopper: 27).
awk -F, -v e=32 -v w=216 '
  NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
  { n++; r += $col["rollout_s"]; u += $col["update_s"]; s = $col["env_steps"] }
  END {
    ns = 1024; per_it = s / n                       # env steps per iteration (2 envs)
    cenv = r / n / per_it; cupd = u / n / per_it
    printf "\n== model: c_env %.1f us per env step, c_upd %.1f us per sample, %d envs per " \
           "rank ==\n", cenv * 1e6, cupd * 1e6, e
    split("10GbE 100Gb-IB", net, " "); a["10GbE"] = 30e-6; b["10GbE"] = 1.25e9
    a["100Gb-IB"] = 2e-6; b["100Gb-IB"] = 12.5e9
    t1 = ns * e * cenv + e * ns * cupd
    for (k = 1; k <= 2; k++) {
      nm = net[k]
      for (K = 8; K <= 512; K *= 8) {
        comm = ns * (a[nm] * log(K) / log(2) + (K - 1) * e * w / b[nm])
        tk = ns * e * cenv + K * e * ns * cupd + comm
        printf "%-8s K = %3d  T_K %8.2f s  comm %6.3f s  efficiency %.3f\n", nm, K, tk, comm,
               t1 / tk
      }
    }
  }' "$work/1p1t/progress.csv" | tee -a "$work/summary.txt"
