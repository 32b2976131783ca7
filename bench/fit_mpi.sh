#!/usr/bin/env bash
# `natgrad fit` over MPI ranks (docs/distributed.md, "natgrad fit over ranks"): one process,
# K = 1 and K = 2 (slices = 2), cg-ng and kfac, REPS interleaved rounds on a generated
# 12000 x 196 table, 10 classes, model 196-256-10, minibatches of 1024, 2 epochs. Prints
# each run's wall time and rank 0's communication summary, and checks the runs' logs agree.
# Usage: bench/fit_mpi.sh NATGRAD WORKDIR [REPS]
set -u
ng=$1 work=$2 reps=${3:-3}
mkdir -p "$work" && cd "$work" || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader
export OPENBLAS_NUM_THREADS=1 # as every rank under mpirun (cli/cmd_fit.c)
[ -e big.csv ] || awk 'BEGIN { srand(11); for (i = 0; i < 12000; i++) { c = int(rand() * 10);
  l = ""; for (j = 0; j < 196; j++) l = l sprintf("%.4f,", rand() - 0.5 + (j % 10 == c) * 0.3)
  print l c } }' > big.csv
a="--data big.csv --model auto-256-auto --batch 1024 --epochs 2 --seed 1 --set slices=2"
strip() { cut -d, -f1,2,4-9,11,12 "$1"; } # progress.csv without its wall-clock columns
uptime
for r in $(seq "$reps"); do
  for opt in cg-ng kfac; do
    for k in 0 1 2; do # 0: one process without mpirun
      s=$(date +%s.%N)
      if [ $k = 0 ]; then nice "$ng" fit $a --opt $opt --out b$k/$opt --force > b$k-$opt.out 2>&1
      else nice mpirun --oversubscribe -np $k "$ng" fit $a --opt $opt --out b$k/$opt --force \
        > b$k-$opt.out 2>&1; fi || { echo "FAIL: $opt K = $k"; cat b$k-$opt.out; exit 1; }
      e=$(date +%s.%N)
      echo "round $r $opt K=$k wall $(echo "$e - $s" | bc) s $(grep -h 'mpi:' b$k-$opt.out |
        tr '\n' ' ')"
    done
    for k in 1 2; do cmp -s <(strip b0/$opt/progress.csv) <(strip b$k/$opt/progress.csv) ||
      { echo "FAIL: $opt K = $k differs from one process"; exit 1; }; done
  done
done
uptime
