#!/usr/bin/env bash
# Measures `mpirun natgrad train` on this machine and projects it with a latency-bandwidth
# model (docs/distributed.md). Hopper-v5, TRPO, STEPS steps (default 200000), every run under
# nice, the four configurations interleaved REPS times (default 3; medians reported, since
# a shared machine's timings swing between runs):
#   1r1t   mpirun -np 1 (K = 1), one thread          n_envs = 2 (the tuned config)
#   1p2t   one process, two threads                  n_envs = 2
#   2r1t   mpirun -np 2, one thread each              n_envs = 2 (strong: the same run)
#   2r1t-w mpirun -np 2, one thread each              n_envs = 4, vf_minibatch = 256 (weak:
#          2 envs per rank, and the value fit's minibatches grown with the batch)
# and once, for the model, CartPole-v1 with 2 envs on one thread: the per-env cost of the
# rollout's policy forward, sampling and bookkeeping (its env step is 35 ns), which every
# rank repeats for every env.
# For each: wall time, rollout and update seconds per iteration (progress.csv), and for the
# MPI runs the collectives, bytes and seconds in communication per iteration, all and the
# update's gathers alone, and the CPU rank 0 computed with outside the collectives (the
# summary's "mpi:" lines; CPU time, unlike the clock, does not count the time a rank waits
# for a core on a busy machine or spins in MPI).
# Usage: bench/mpi_results.sh [NATGRAD] [WORKDIR] [STEPS] [REPS]
# (MODEL_ONLY=1: no runs, the summary and model again from WORKDIR's runs.txt and cp2;
# RHO_US=x: project with a repeated work of x us per sample measured otherwise, e.g. by a
# profile, when the CPU columns' differences are within the machine's noise)
set -euo pipefail
ng=${1:-build/release/natgrad} work=${2:-runs/bench-mpi} steps=${3:-200000} reps=${4:-3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$work"
common=(train --env Hopper-v5 --seed 1 --steps "$steps" --force)
names="1r1t 1p2t 2r1t 2r1t-w"

. "$(dirname "$0")/mpi_common.sh" # run, median

# one line of numbers per run: wall rollout update steps calls kB comm_s upd_calls upd_kB
# upd_s cpu
numbers() { # NAME
  local d=$work/$1
  awk -F, -v wall="$(cat "$d.wall")" '
    NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    { n++; r += $col["rollout_s"]; u += $col["update_s"]; s = $col["env_steps"] }
    END { printf "%.2f %.5f %.5f %d", wall, r / n, u / n, s }' "$d/progress.csv"
  awk '/^mpi: [0-9]+ ranks/ { c = $6 + 0; kb = $8 + 0; s = $11 + 0 }
       /^mpi: of which/ { uc = $7 + 0; ukb = $8 + 0; us = $11 + 0 }
       /^mpi: rank 0 computed/ { cpu = $6 + 0 }
       END { printf " %g %g %g %g %g %g %g\n", c, kb, s, uc, ukb, us, cpu }' "$d.out"
}

[ -n "${MODEL_ONLY:-}" ] || : > "$work/runs.txt"
[ -n "${MODEL_ONLY:-}" ] || for rep in $(seq "$reps"); do
  run 1r1t mpirun --oversubscribe -np 1 "$ng" "${common[@]}" --threads 1
  run 1p2t "$ng" "${common[@]}" --threads 2
  run 2r1t mpirun --oversubscribe -np 2 "$ng" "${common[@]}" --threads 1
  run 2r1t-w mpirun --oversubscribe -np 2 "$ng" "${common[@]}" --threads 1 --set n_envs=4 \
    --set vf_minibatch=256
  for n in $names; do echo "$rep $n $(numbers $n) $(cut -d' ' -f1-3 /proc/loadavg)"; done |
    tee -a "$work/runs.txt"
done
# the rollout's per-env work that is not the environment's step (CartPole's is 35 ns)
[ -n "${MODEL_ONLY:-}" ] || run cp2 "$ng" train --env CartPole-v1 --seed 1 --steps 40960 \
  --set n_envs=2 --set n_steps=1024 --threads 1 --force
cp_env=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
  { n++; r += $col["rollout_s"] } END { printf "%.9f", r / n / (2 * 1024) }' \
  "$work/cp2/progress.csv")

{
  echo "== measured: Hopper-v5, $steps steps, $(nproc) cores, medians of $reps interleaved runs =="
  echo "   (load average during the runs: $(awk '{ print $NF - 0 }' "$work/runs.txt" |
        sort -g | awk '{ v[NR] = $1 } END { print v[1] " to " v[NR] }'))"
  for n in $names; do
    printf "%-7s wall %7.1f s  %6.0f steps/s  per iteration: rollout %.3f s, update %.3f s" \
      "$n" "$(median $n 3)" "$(echo "$(median $n 6) / $(median $n 3)" | bc -l)" \
      "$(median $n 4)" "$(median $n 5)"
    case $n in *r*)
      printf "; CPU %s s; %s collectives, %s kB, %s s in communication" \
        "$(median $n 13)" "$(median $n 7)" "$(median $n 8)" "$(median $n 9)"
      printf "; update's: %s, %s kB, %s s" "$(median $n 10)" "$(median $n 11)" "$(median $n 12)"
      ;; esac
    echo
  done
  echo "rollout per env step of CartPole-v1, 2 envs (forward, sampling, bookkeeping):" \
       "$(echo "$cp_env * 1000000" | bc -l | cut -c1-5) us"
} | tee "$work/summary.txt"

# ---- model ----
# Weak scaling: e envs per rank, K ranks, n_steps = 1024 steps per iteration, slices = K,
# vf_minibatch grown with the batch (the update's passes and gathers per iteration fixed).
# Per iteration, one process: C = E + S + rho N + F with N = n_steps e samples, E the env
# steps, S the split passes (both divided by K), rho the per-sample work every rank repeats
# for every sample of the K-times batch (the rollout's policy forward, sampling and
# bookkeeping for every env, the per-row arithmetic between the split passes) and F the
# fixed work every rank repeats (Adam's steps, CG's vector operations, the gathers'
# copies). So
#   T_K = (C - F - rho N) + K rho N + F                     compute
#       + n_steps (a log2 K + (K - 1) e w / b)              one gather of env records a step
#       + G a log2 K + B_K / b                              the update's gathers
#   efficiency E_K = C / T_K.
# From the CPU rank 0 computed with (outside collectives), per iteration:
#   C(1 rank, 2 envs)  = E + S + 2048 rho + F
#   C(2 ranks, 2 envs) = E/2 + S/2 + 2048 rho + F            (strong)
#   C(2 ranks, 4 envs) = E + S + 4096 rho + F                 (weak: each rank E and S)
# so rho = (C_w - C_1) / 2048 and F = 2 C_2 - C_w (with RHO_US given: F = 2 C_2 - C_1 - 2048 rho).
# G and B_K: the update's gathers per iteration (counted at K = 2). N_sum of them are sums
# of ~n doubles (27 of the policy: gradient, 25 CG products, s^T F s; 320 of the value fit:
# 20 epochs x 16 minibatches) that at slices = K bring each rank the other K - 1 ranks'
# partial sums, (K - 1) n 8 bytes each; the rest gather output rows, in all per iteration
# about 4 policy forwards of the batch (3 doubles a row), 2 value forwards and the value
# fit's 20 epochs (1 double a row): (K - 1) e n_steps 8 (4 3 + 2 + 20) bytes.
# w = 248 bytes per env record (2 obs_dim + 6 + act_size doubles, Hopper: obs_dim 11,
# act_size 3), n = 5126 (the policy's parameters).
c1=$(median 1r1t 13); c2=$(median 2r1t 13); c2w=$(median 2r1t-w 13); g2=$(median 2r1t 10)
awk -v c1="$c1" -v c2="$c2" -v c2w="$c2w" -v G="$g2" -v crr="$cp_env" -v rho_us="${RHO_US:-}" '
  BEGIN {
    ns = 1024; e1 = 2; e = 32; w = 8 * (2 * 11 + 6 + 3); n = 5126; N1 = ns * e1
    rho = (c2w - c1) / N1; F = 2 * c2 - c2w
    if (rho_us != "") { rho = rho_us * 1e-6; F = 2 * c2 - c1 - N1 * rho }
    if (rho < 0) rho = 0
    if (F < 0) F = 0
    c = (c1 - F) / N1                       # per-sample compute of one process
    nsum = 20 * 16 + 27                     # value minibatches (vf_epochs x 16) + policy
    printf "\n== model: one process %.1f us per sample + %.3f s per iteration fixed (F); " \
           "repeated for every sample of the batch rho = %.2f us (the rollout per env of " \
           "CartPole with 2 envs: %.2f us); %d envs per rank; G = %d update gathers ==\n",
           c * 1e6, F, rho * 1e6, crr * 1e6, e, G
    split("10GbE 100Gb-IB", net, " "); a["10GbE"] = 30e-6; b["10GbE"] = 1.25e9
    a["100Gb-IB"] = 2e-6; b["100Gb-IB"] = 12.5e9
    N = ns * e; t1 = N * c + F
    rest = rho - crr; if (rest < 0) rest = 0
    for (k = 1; k <= 2; k++) {
      nm = net[k]
      for (K = 8; K <= 512; K *= 8) {
        lg = log(K) / log(2)
        steps = ns * (a[nm] * lg + (K - 1) * e * w / b[nm])
        bupd = nsum * (K - 1) * n * 8 + (K - 1) * e * ns * 8 * (4 * 3 + 2 + 20)
        upd = G * a[nm] * lg + bupd / b[nm]
        tk = N * (c - rho) + K * N * rho + F + steps + upd
        # the same if each rank ran the rollout forward of its own envs only
        tb = N * (c - rest) + K * N * rest + F + steps + upd
        printf "%-8s K = %3d  T_K %7.2f s (step gathers %6.3f s, update gathers %6.3f s)  " \
               "efficiency %.3f; rollout forward split too: %.3f\n", nm, K, tk, steps, upd,
               t1 / tk, t1 / tb
      }
    }
  }' | tee -a "$work/summary.txt"
