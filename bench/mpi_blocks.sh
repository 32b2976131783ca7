#!/usr/bin/env bash
# Measures `mpirun natgrad train` with env blocks (rl.h's blocks: each rank keeps only its
# blocks' rows; docs/distributed.md) on this machine, and projects it with a
# latency-bandwidth model fitted to what it measured. Hopper-v5, TRPO, STEPS steps (default
# 200000), every run under nice, the configurations interleaved REPS times (default 3;
# medians, since a shared machine's timings swing):
#   p1     one process, 1 thread,  n_envs 2                 (the tuned config, one batch)
#   p2     one process, 2 threads, n_envs 2
#   s1     mpirun -np 1, 1 thread, n_envs 2, blocks 2       strong scaling: one run,
#   s2     mpirun -np 2, 1 thread each, n_envs 2, blocks 2  on 1 and on 2 ranks
#   w1     mpirun -np 1, 1 thread, n_envs 2                 weak scaling: 2 envs a rank
#   w1b    mpirun -np 1, 1 thread, n_envs 4, vf_minibatch 256    (the per-sample cost)
#   w2     mpirun -np 2, 1 thread each, n_envs 4, blocks 2, vf_minibatch 256
# For each: wall time, steps/s and, under mpirun, what rank 0 reports: collectives, bytes
# and seconds in communication per iteration, the CPU it computed with outside them (CPU,
# unlike the clock, does not count waiting for a core on a busy machine), and the blocks'
# sums (how many, how large).
# Usage: bench/mpi_blocks.sh [NATGRAD] [WORKDIR] [STEPS] [REPS]
#        MODEL_ONLY=1: no runs, the summary and the model again from WORKDIR/runs.txt
set -euo pipefail
ng=${1:-build/release/natgrad} work=${2:-runs/bench-mpi-blocks} steps=${3:-200000} reps=${4:-3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$work"
common=(train --env Hopper-v5 --seed 1 --steps "$steps" --force)
names="p1 p2 s1 s2 w1 w1b w2"
mpi=(mpirun --oversubscribe)

. "$(dirname "$0")/mpi_common.sh" # run, median

# one line per run: wall steps calls kB comm_s cpu sum_calls sum_kB large n_large small
# n_small (the "mpi:" lines of rank 0's summary; 0 where there are none)
numbers() { # NAME
  local d=$work/$1
  printf "%s %s" "$(cat "$d.wall")" "$(tail -n 1 "$d/progress.csv" | cut -d, -f2)"
  awk '/^mpi: [0-9]+ ranks/ { c = $6 + 0; kb = $8 + 0; s = $11 + 0 }
       /^mpi: rank 0 computed/ { cpu = $6 + 0 }
       /^mpi: of which the blocks/ { sc = $7 + 0; skb = $9 + 0; l = $14 + 0; nl = $18 + 0
                                     sm = $21 + 0; ns = $25 + 0 }
       END { printf " %g %g %g %g %g %g %g %g %g %g\n", c, kb, s, cpu, sc, skb, l, nl, sm, ns }
      ' "$d.out"
}

if [ -z "${MODEL_ONLY:-}" ]; then
  : > "$work/runs.txt"
  for rep in $(seq "$reps"); do
    run p1 "$ng" "${common[@]}" --threads 1
    run p2 "$ng" "${common[@]}" --threads 2
    run s1 "${mpi[@]}" -np 1 "$ng" "${common[@]}" --threads 1 --set blocks=2
    run s2 "${mpi[@]}" -np 2 "$ng" "${common[@]}" --threads 1 --set blocks=2
    run w1 "${mpi[@]}" -np 1 "$ng" "${common[@]}" --threads 1
    run w1b "${mpi[@]}" -np 1 "$ng" "${common[@]}" --threads 1 --set n_envs=4 \
      --set vf_minibatch=256
    run w2 "${mpi[@]}" -np 2 "$ng" "${common[@]}" --threads 1 --set n_envs=4 --set blocks=2 \
      --set vf_minibatch=256
    for n in $names; do echo "$rep $n $(numbers $n) $(cut -d' ' -f1 /proc/loadavg)"; done |
      tee -a "$work/runs.txt"
  done
fi

{
  echo "== measured: Hopper-v5, $steps steps, $(nproc) cores, medians of $reps interleaved" \
       "runs (load average $(awk '{ print $NF }' "$work/runs.txt" | sort -g |
       awk '{ v[NR] = $1 } END { print v[1] " to " v[NR] }')) =="
  for n in $names; do
    printf "%-4s wall %6.1f s  %6.0f steps/s" "$n" "$(median $n 3)" \
      "$(echo "$(median $n 4) / $(median $n 3)" | bc -l)"
    case $n in s*|w*)
      printf "  CPU %.3f s/iteration; %s collectives, %s kB, %s s in communication" \
        "$(median $n 8)" "$(median $n 5)" "$(median $n 6)" "$(median $n 7)" ;;
    esac
    echo
  done
  echo "blocks' sums at K = 2 (w2), per iteration: $(median w2 11) reduce-scattered of" \
       "$(median w2 12) doubles, $(median w2 13) gathered whole of $(median w2 14) doubles"
} | tee "$work/summary.txt"

# ---- model ----
# Weak scaling, one block of e envs per rank (n_envs = K e, blocks = K), n_steps 1024, the
# value fit's minibatches per epoch fixed (vf_minibatch = 128 K). A rank computes what one
# process with e envs computes, C(e) = e 1024 c + F (c per sample, F the fixed vector work:
# Adam, CG), plus d, the blocks' sums' own work (staging copies, its segment's additions:
# about n per sum whatever K), and communicates:
#   small sums (gathered whole): S (a log2 K + (K - 1) n_s 8 / b)
#   large sums: L (a (K - 1) + a log2 K + 2 n_l 8 (K - 1) / K / b)   (Alltoallv counted as
#       K - 1 messages in turn, its worst case; then the Allgatherv of the segments)
#   E_K = C(e) / (C(e) + d + small + large).
# c and F from w1 and w1b (2 and 4 envs on one rank: C(4) = 2 C(2) - F), d = C(w2) - C(w1)
# (the same samples per rank; what K = 2 adds), S, n_s, L, n_l counted at K = 2 (w2).
awk -v c2="$(median w1 8)" -v c4="$(median w1b 8)" -v cw="$(median w2 8)" \
    -v L="$(median w2 11)" -v nl="$(median w2 12)" -v S="$(median w2 13)" \
    -v ns="$(median w2 14)" '
  BEGIN {
    # C(4) = 2 C(2) - F; a C(4) above 2 C(2) (caches) gives F = 0 and c from C(2) alone,
    # the smaller per-sample cost: the conservative projection
    F = 2 * c2 - c4; if (F < 0) F = 0
    c = (c2 - F) / 2048
    d0 = cw - c2; d = d0 < 0 ? 0 : d0
    e = 32; C = e * 1024 * c + F
    printf "\n== model: %.1f us per sample, F = %.3f s, d = %.3f s per iteration " \
           "(measured %.3f: K = 2 over K = 1, the same samples a rank); %d envs per rank: " \
           "C = %.2f s ==\n", c * 1e6, F, d, d0, e, C
    split("10GbE 100Gb-IB", net, " "); a["10GbE"] = 30e-6; b["10GbE"] = 1.25e9
    a["100Gb-IB"] = 2e-6; b["100Gb-IB"] = 12.5e9
    for (k = 1; k <= 2; k++) {
      nm = net[k]
      for (K = 8; K <= 512; K *= 8) {
        lg = log(K) / log(2)
        small = S * (a[nm] * lg + (K - 1) * ns * 8 / b[nm])
        large = L * (a[nm] * (K - 1) + a[nm] * lg + 2 * nl * 8 * (K - 1) / K / b[nm])
        t = C + d + small + large
        printf "%-8s K = %3d  T_K %6.2f s (sums: small %.3f s, large %.3f s)  efficiency %.3f\n",
               nm, K, t, small, large, C / t
      }
    }
  }' | tee -a "$work/summary.txt"
