#!/usr/bin/env bash
# Proves that a change left results alone: runs the same fixed-seed jobs (TRPO CartPole-v1
# on two threads, TRPO Hopper-v5 when MuJoCo is built in, NPG Pendulum-v1, and `fit` with
# K-FAC, CG-NG and Adam on a generated table) with two natgrad binaries and compares what
# they wrote: checkpoints and config byte for byte, logs byte for byte but for their
# wall-clock columns (fit's log has a CRC-32 of the parameters after every epoch).
#
# Usage: scripts/same_runs.sh OLD_NATGRAD NEW_NATGRAD [WORKDIR]
# Exit 0 when every file matches; 1 (naming each difference) otherwise.
set -euo pipefail
old=$1 new=$2 work=${3:-$(mktemp -d)}
mkdir -p "$work"
data=$work/table.csv
awk 'BEGIN { srand(7); print "a,b,c,d,label";
             for (i = 0; i < 300; i++) { k = i % 3;
               printf "%.6f,%.6f,%.6f,%.6f,%d\n", k + rand(), 2 * rand() - k * 0.5,
                      rand() * rand(), k * 0.3 + rand(), k } }' > "$data"

jobs() { # NATGRAD OUT
  local ng=$1 out=$2
  rm -rf "$out"; mkdir -p "$out"
  "$ng" train --env CartPole-v1 --steps 20000 --seed 3 --threads 2 --out "$out/cartpole" -q
  # grep reads the whole list: with -q it would stop early, and under pipefail the writer's
  # SIGPIPE would make the test false once the list outgrows the pipe's buffer
  if "$ng" list --ids 2>/dev/null | grep -x Hopper-v5 >/dev/null; then
    "$ng" train --env Hopper-v5 --steps 30000 --seed 1 --threads 2 --out "$out/hopper" -q
  fi
  "$ng" train --env Pendulum-v1 --algo npg --steps 8000 --seed 2 --threads 1 --out "$out/pendulum" -q
  for opt in kfac cg-ng adam; do
    "$ng" fit --data "$data" --model auto-16-auto --opt $opt --epochs 3 --batch 16 --seed 1 \
      --out "$out/fit-$opt" -q
    # before run folders, fit wrote NAME.csv and NAME.ckpt: the same files by their new names
    if [ -e "$out/fit-$opt/$opt.csv" ]; then
      mv "$out/fit-$opt/$opt.csv" "$out/fit-$opt/progress.csv"
      mv "$out/fit-$opt/$opt.ckpt" "$out/fit-$opt/checkpoint.ngc"
      mv "$out/fit-$opt/fit.svg" "$out/fit-$opt/curve.svg"
    fi
  done
}
jobs "$old" "$work/old"
jobs "$new" "$work/new"

# The log columns that are wall-clock time, by header name.
strip_times() { # CSV -> CSV without its timing columns
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) drop[i] = ($i ~ /(_s|seconds|_per_s)$/) }
           { out = ""; for (i = 1; i <= NF; i++) if (!drop[i]) out = out (out == "" ? "" : ",") $i;
             print out }' "$1"
}

status=0
for f in $(cd "$work/old" && find . -type f | sort); do
  a=$work/old/$f b=$work/new/$f
  if [ ! -e "$b" ]; then echo "MISSING $f"; status=1; continue; fi
  case "$f" in
    *.csv) if cmp -s <(strip_times "$a") <(strip_times "$b"); then echo "same    $f (but wall-clock columns)";
           else echo "DIFFER  $f"; status=1; fi ;;
    ./fit-*/*.svg|./fit.svg) echo "skip    $f (fit draws loss against wall-clock seconds too)" ;;
    */.lock) echo "skip    $f (the process id of the run that held it)" ;;
    ./fit-*/*.ngc) # fit checkpoints record training seconds, and the run's description
           # (whose text changed with run folders): the parameters after every epoch are
           # compared by the log's theta_crc32 column instead
           echo "skip    $f (seconds inside; parameters compared by progress.csv's theta_crc32)" ;;
    *)     if cmp -s "$a" "$b"; then echo "same    $f"; else echo "DIFFER  $f"; status=1; fi ;;
  esac
done
exit $status
