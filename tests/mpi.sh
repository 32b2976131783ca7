#!/usr/bin/env bash
# `mpirun natgrad train` (docs/distributed.md), one case per CTest test:
#   same    K = 1, 2, 3 ranks (and 1 or 2 threads each) write the same config, checkpoint and
#           log (but its wall-clock columns) as one process, with the default slice count and
#           with one that splits the update over 3 ranks; a run checkpointed at K = 2 and
#           resumed at K = 3 as one process resumed; a damaged latest checkpoint resumed from
#           the previous one by every rank; CartPole-v1, Pendulum-v1 and, when MuJoCo is
#           built in, Hopper-v5 (whose environment states go through the gather)
#   killed  a rank killed (SIGKILL) or stopped (SIGSTOP) mid-run: mpirun exits non-zero, the
#           last checkpoint loads, and --resume finishes the run
#   mismatch ranks with different configs, binaries or plugins are refused at start, naming
#           the rank and what differs
#   fit     `natgrad fit` (kfac, cg-ng) with slices = 3 on a generated table: K = 1, 2, 3 log
#           the same epochs (parameters' CRC included) as one process, resumed at another K
#           too; without slices K = 1 is the default run and K = 2 is refused; a rank with
#           another config is refused
#   blocks  runs of env blocks (blocks = B, each rank keeping only its blocks' rows): K = 1,
#           2, 3 and one process on 1 or 2 threads write the same files, for TRPO, ACKTR
#           and Hopper-v5; checkpointed at K = 2 and resumed at K = 3 as one process; K > B
#           refused; a NaN from one rank's environment ends every rank at once (MPI_Abort:
#           the others wait inside the iteration's sums), the last checkpoint intact
#   tune    `natgrad tune` with its trials dealt over the ranks: K = 1, 2, 3 end with one
#           process's results (trials.csv but wall_s, checkpoints, best.ini, tune.svg), and
#           so does K = 3 with --trial-seeds 2 (each trial's runs dealt apart); a
#           tune stopped (SIGTERM to mpirun) at K = 2 after its first rung and resumed at
#           K = 3 too; --report-seeds at K = 2 gives one process's report.csv; so does a
#           plugin's environment (the plugin's tune at K = 2); one rank's
#           failure stops all with its error; a rank that cannot see the tune's folder is
#           refused naming the shared file system
# Usage: tests/mpi.sh CASE NATGRAD MPIEXEC WORKDIR [PLUGIN]
set -u
case_=$1 ng=$2 mpiexec=$3 work=$4 plugin=${5:-}
rm -rf "$work"; mkdir -p "$work"; cd "$work" || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
# one host, more ranks than cores, no network probing; sanitizer builds: MPI's own leaks
export OMPI_MCA_btl=self,vader OMPI_MCA_rmaps_base_oversubscribe=1
mpirun() { "$mpiexec" --oversubscribe "$@"; }
fail() { echo "FAIL: $*"; exit 1; }
strip_times() { # progress.csv without its wall-clock columns
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) drop[i] = ($i ~ /(_s|seconds|_per_s)$/) }
           { out = ""; for (i = 1; i <= NF; i++) if (!drop[i]) out = out (out == "" ? "" : ",") $i;
             print out }' "$1"
}
same_run() { # DIR_A DIR_B: config, checkpoint and log identical
  cmp "$1/config.ini" "$2/config.ini" || fail "$2/config.ini differs from $1's"
  cmp "$1/checkpoint.ngc" "$2/checkpoint.ngc" || fail "$2/checkpoint.ngc differs from $1's"
  cmp <(strip_times "$1/progress.csv") <(strip_times "$2/progress.csv") ||
    fail "$2/progress.csv differs from $1's"
  echo "same: $1 $2"
}

same_fit() { # DIR_A DIR_B: fit's config and log identical (its checkpoint holds wall seconds;
  # the log's theta_crc32 covers the parameters, and a resumed run the optimiser's state)
  cmp "$1/config.ini" "$2/config.ini" || fail "$2/config.ini differs from $1's"
  cmp <(strip_times "$1/progress.csv") <(strip_times "$2/progress.csv") ||
    fail "$2/progress.csv differs from $1's"
  echo "same: $1 $2"
}

case $case_ in
same)
  cp_args="--env CartPole-v1 --steps 6000 --seed 3 --set n_envs=6 --set n_steps=100 -q"
  "$ng" train $cp_args --threads 1 --out c0 || fail "one process"
  for k in 1 2 3; do
    mpirun -np $k "$ng" train $cp_args --threads 1 --out c$k || fail "K = $k"
    same_run c0 c$k
  done
  mpirun -np 2 "$ng" train $cp_args --threads 2 --out c2t || fail "K = 2, 2 threads"
  same_run c0 c2t
  pe_args="--env Pendulum-v1 --algo npg --seed 2 --set n_envs=3 --set n_steps=200 -q"
  "$ng" train $pe_args --steps 3600 --out p0 || fail "one process"
  mpirun -np 3 "$ng" train $pe_args --steps 3600 --out p3 || fail "K = 3"
  same_run p0 p3
  # checkpointed at K = 2, resumed at K = 3; against one process doing the same
  "$ng" train $pe_args --steps 1800 --out r0 && "$ng" train --resume r0 --steps 3600 -q ||
    fail "one process resumed"
  mpirun -np 2 "$ng" train $pe_args --steps 1800 --out r23 &&
    mpirun -np 3 "$ng" train --resume r23 --steps 3600 -q || fail "K = 2 resumed at K = 3"
  same_run r0 r23
  # a slice count that lets 3 ranks split the update (1200 rows: 5 chunks, 5 slices): the
  # same for K = 1, 2, 3, and not the default run's rounding
  sl_args="$cp_args --set n_steps=200 --set slices=6"
  "$ng" train $sl_args --threads 1 --out s0 || fail "one process, slices = 6"
  for k in 1 2 3; do
    mpirun -np $k "$ng" train $sl_args --threads 1 --out s$k || fail "K = $k, slices = 6"
    same_run s0 s$k
  done
  grep -q '^slices = 6$' s0/config.ini || fail "slices = 6 not in config.ini"
  ! grep -q slices c0/config.ini || fail "the default slice count written to config.ini"
  # a damaged latest checkpoint: every rank falls back to checkpoint.prev.ngc, as one
  # process does
  for d in f0 f2; do
    if [ $d = f0 ]; then "$ng" train $pe_args --steps 1800 --checkpoint-every 1 --out $d
    else mpirun -np 2 "$ng" train $pe_args --steps 1800 --checkpoint-every 1 --out $d; fi ||
      fail "$d: first part"
    [ -e $d/checkpoint.prev.ngc ] || fail "$d: no previous checkpoint"
    printf 'XXXXXXXX' | dd of=$d/checkpoint.ngc bs=1 seek=100 conv=notrunc 2> /dev/null
  done
  "$ng" train --resume f0 --steps 3600 -q || fail "one process resumed from the previous"
  mpirun -np 2 "$ng" train --resume f2 --steps 3600 -q || fail "K = 2 resumed from the previous"
  same_run f0 f2
  if "$ng" list | grep -q Hopper-v5; then
    ho_args="--env Hopper-v5 --seed 1 --set n_envs=4 --set n_steps=64 --steps 1536 -q"
    "$ng" train $ho_args --out h0 || fail "one process"
    mpirun -np 3 "$ng" train $ho_args --checkpoint-every 1 --out h3 || fail "K = 3"
    same_run h0 h3
  fi
  ;;
killed)
  args="--env Pendulum-v1 --seed 4 --set n_envs=2 --set n_steps=100 --steps 10000000
        --checkpoint-every 1 -q"
  for sig in KILL STOP; do
    dir=run-$sig
    NATGRAD_MPI_TIMEOUT=3 "$mpiexec" --oversubscribe -np 2 "$ng" train $args --out $dir \
      > $dir.out 2>&1 & m=$!
    for _ in $(seq 200); do [ -e $dir/checkpoint.ngc ] || kill -0 $m 2>/dev/null || break
      [ -e $dir/checkpoint.ngc ] && break; sleep 0.1; done
    [ -e $dir/checkpoint.ngc ] || fail "no checkpoint written"
    ranks=$(pgrep -P $m) # the ranks are mpirun's children on one host
    victim=$(echo "$ranks" | tail -n 1)
    [ -n "$victim" ] || fail "no rank to signal"
    start=$SECONDS
    kill -$sig "$victim"
    wait $m; rc=$?
    cat $dir.out
    echo "SIG$sig on pid $victim: mpirun exit status $rc after $((SECONDS - start)) s"
    [ $rc -ne 0 ] || fail "exit status 0 after SIG$sig"
    for p in $ranks; do kill -KILL "$p" 2>/dev/null; done # none should be left
    # the last checkpoint is whole: eval reads it, --resume continues
    "$ng" eval $dir --episodes 1 > /dev/null || fail "checkpoint after SIG$sig unreadable"
    it=$(tail -n 1 $dir/progress.csv | cut -d, -f2)
    mpirun -np 2 "$ng" train --resume $dir --steps $((it + 200)) -q ||
      fail "resume after SIG$sig"
  done
  ;;
mismatch)
  a="--env CartPole-v1 --steps 2000 --set n_envs=2 -q --out m"
  out=$("$mpiexec" --oversubscribe -np 1 "$ng" train $a --seed 1 : -np 1 "$ng" train $a \
        --seed 2 2>&1); rc=$?
  echo "$out"
  [ $rc -ne 0 ] || fail "different seeds accepted"
  echo "$out" | grep -q "rank 1 of 2 has a different config or checkpoint than rank 0" ||
    fail "no message naming rank 1's config"
  [ ! -e m/checkpoint.ngc ] || fail "a refused run wrote a checkpoint"
  # another binary (the same program and one byte more: it runs, but is not the same file)
  cp "$ng" ng-other && printf x >> ng-other
  out=$("$mpiexec" --oversubscribe -np 1 "$ng" train $a : -np 1 ./ng-other train $a 2>&1)
  rc=$?; echo "$out"
  [ $rc -ne 0 ] && echo "$out" | grep -q "rank 1 of 2 runs a different natgrad binary" ||
    fail "a different binary not refused by name"
  # a plugin loaded on one rank only
  if [ -n "$plugin" ]; then
    out=$("$mpiexec" --oversubscribe -np 1 "$ng" train $a : -np 1 "$ng" train $a \
          --plugin "$plugin" 2>&1); rc=$?; echo "$out"
    [ $rc -ne 0 ] && echo "$out" | grep -q "rank 1 of 2 has different environments or plugins" ||
      fail "a plugin on one rank not refused by name"
  fi
  ;;
fit)
  # 2000 rows of 8 features, 3 classes: 1600 train rows in minibatches of 800 (4 chunks of
  # up to 256 rows: 3 slices, one a rank at K = 3; the Fisher's point, over 256 rows, too)
  awk 'BEGIN { srand(7); for (i = 0; i < 2000; i++) { s = 0; l = "";
         for (j = 0; j < 8; j++) {
           x = 2 * rand() - 1; s += x * (j % 3 - 1); l = l sprintf("%.6f,", x) }
         print l (s > 0.3 ? 2 : s < -0.3 ? 0 : 1) } }' > t.csv
  fa="--data t.csv --model auto-32-auto --batch 800 --seed 1 -q"
  for opt in kfac cg-ng; do # the folder's name is the run's: the same in every k*/
    "$ng" fit $fa --opt $opt --epochs 3 --set slices=3 --out k0/$opt || fail "fit $opt"
    for k in 1 2 3; do
      mpirun -np $k "$ng" fit $fa --opt $opt --epochs 3 --set slices=3 --out k$k/$opt ||
        fail "fit $opt, K = $k"
      same_fit k0/$opt k$k/$opt
    done
  done
  grep -q '^slices = 3$' k0/kfac/config.ini || fail "slices = 3 not in config.ini"
  # two epochs at K = 2, resumed to four at K = 3
  "$ng" fit $fa --opt cg-ng --epochs 2 --set slices=3 --out r0/x &&
    "$ng" fit --resume r0/x --epochs 4 -q || fail "fit resumed"
  mpirun -np 2 "$ng" fit $fa --opt cg-ng --epochs 2 --set slices=3 --out r23/x &&
    mpirun -np 3 "$ng" fit --resume r23/x --epochs 4 -q || fail "fit K = 2 resumed at K = 3"
  same_fit r0/x r23/x
  # no slices: one process's run (config.ini without the key); more ranks are refused
  "$ng" fit $fa --opt kfac --epochs 2 --out d0/x && mpirun -np 1 "$ng" fit $fa --opt kfac \
    --epochs 2 --out d1/x || fail "fit without slices"
  same_fit d0/x d1/x
  ! grep -q slices d0/x/config.ini || fail "slices = 0 written to config.ini"
  out=$(mpirun -np 2 "$ng" fit $fa --opt kfac --epochs 2 --out d2/x 2>&1); rc=$?; echo "$out"
  [ $rc -eq 2 ] && echo "$out" | grep -q "2 ranks need the minibatch passes in slices" ||
    fail "K = 2 without slices not refused"
  out=$("$mpiexec" --oversubscribe -np 1 "$ng" fit $fa --set slices=2 --out m/x : -np 1 "$ng" \
        fit $fa --set slices=2 --lr 0.5 --out m/x 2>&1); rc=$?; echo "$out"
  [ $rc -ne 0 ] && echo "$out" | grep -q "rank 1 of 2 has a different config or checkpoint" ||
    fail "fit: another config on rank 1 not refused by name"
  [ ! -e m/x/checkpoint.ngc ] || fail "a refused fit wrote a checkpoint"
  ;;
blocks)
  bl_args="--env Pendulum-v1 --seed 5 --set n_envs=6 --set blocks=6 --set n_steps=100
           --set vf_minibatch=96 -q"
  "$ng" train $bl_args --steps 3600 --threads 1 --out b0 || fail "one process, blocks = 6"
  "$ng" train $bl_args --steps 3600 --threads 2 --out b0t || fail "one process, 2 threads"
  same_run b0 b0t
  for k in 1 2 3; do
    mpirun -np $k "$ng" train $bl_args --steps 3600 --threads 1 --out b$k || fail "K = $k"
    same_run b0 b$k
  done
  grep -q '^blocks = 6$' b0/config.ini || fail "blocks = 6 not in config.ini"
  mpirun -np 2 "$ng" train $bl_args --steps 1800 --out br &&
    mpirun -np 3 "$ng" train --resume br --steps 3600 -q || fail "K = 2 resumed at K = 3"
  same_run b0 br
  ac_args="--env Pendulum-v1 --algo acktr --seed 5 --set n_envs=4 --set blocks=4
           --set n_steps=100 --set vf_minibatch=64 --steps 1200 -q"
  "$ng" train $ac_args --out a0 && mpirun -np 3 "$ng" train $ac_args --out a3 ||
    fail "acktr, blocks = 4"
  same_run a0 a3
  if "$ng" list | grep -q Hopper-v5; then
    ho_args="--env Hopper-v5 --seed 1 --set n_envs=4 --set blocks=4 --set n_steps=64
             --steps 1024 -q"
    "$ng" train $ho_args --out h0 && mpirun -np 2 "$ng" train $ho_args --out h2 ||
      fail "Hopper-v5, blocks = 4"
    same_run h0 h2
  fi
  out=$(mpirun -np 3 "$ng" train --env Pendulum-v1 --set n_envs=2 --set blocks=2 \
        --steps 2000 --out bk 2>&1); rc=$?; echo "$out"
  [ $rc -eq 2 ] && echo "$out" | grep -q "3 ranks for a run of 2 blocks" ||
    fail "K = 3 > blocks = 2 not refused"
  # Faulty-v0 (the nan plugin) returns NaN at its process's 6000th step: rank 0 steps two
  # of the three envs, so only it fails, while rank 1 waits in the next sum
  nan=$(dirname "$plugin")/libng_plugin_nan.so
  if [ -n "$plugin" ] && [ -e "$nan" ]; then
    start=$SECONDS
    out=$(NATGRAD_MPI_TIMEOUT=60 mpirun -np 2 "$ng" train --plugin "$nan" --env Faulty-v0 \
          --set n_envs=3 --set blocks=3 --set n_steps=500 --set vf_minibatch=63 \
          --steps 30000 --checkpoint-every 1 --out nan -q 2>&1); rc=$?
    echo "$out"; echo "mpirun exit status $rc after $((SECONDS - start)) s"
    [ $rc -ne 0 ] || fail "a NaN on one rank: exit status 0"
    [ $((SECONDS - start)) -lt 50 ] || fail "a NaN on one rank: the others waited for the timeout"
    echo "$out" | grep -q "rollout: Faulty-v0 env [01], .*non-finite observation" ||
      fail "no message naming the environment"
    "$ng" eval nan --plugin "$nan" --episodes 1 > /dev/null || fail "last checkpoint unreadable"
  fi
  ;;
tune)
  results() { # what two tunes must agree on byte for byte (tests/tune.cmake's)
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) w[i] = ($i == "wall_s") }
             { o = ""; for (i = 1; i <= NF; i++) if (!w[i]) o = o "," $i; print o }' \
      "$1/trials.csv"
    cat "$1/best.ini" "$1/tune.svg" | md5sum
    for c in "$1"/trials/*/checkpoint.ngc; do echo "${c#$1/}"; md5sum < "$c"; done
  }
  t_args="--env CartPole-v1 --trials 6 --steps 16000 --min-steps 2000 --eta 2
          --set n_steps=256 --seed 5 -q"
  "$ng" tune $t_args --workers 2 --out t0 || fail "one process"
  results t0 > t0.txt
  [ "$(grep -c . t0.txt)" -gt 10 ] || fail "too few results"
  for k in 1 2 3; do
    mpirun -np $k "$ng" tune $t_args --workers 1 --out t$k || fail "K = $k"
    results t$k | diff t0.txt - || fail "K = $k: not one process's results"
    echo "same: t0 t$k"
  done
  # each trial on 2 seeds: its runs are dealt over the ranks (at K = 3 a trial's two runs
  # fall on two ranks), with one process's results
  "$ng" tune $t_args --trial-seeds 2 --workers 2 --out s0 || fail "one process, 2 seeds"
  mpirun -np 3 "$ng" tune $t_args --trial-seeds 2 --workers 1 --out s3 || fail "K = 3, 2 seeds"
  results s0 > s0.txt
  results s3 | diff s0.txt - || fail "K = 3, 2 seeds: not one process's results"
  echo "same: s0 s3"
  # stopped at K = 2 once the first rung's rows are written, resumed at K = 3; a longer
  # tune, so that the stop comes before its end
  l_args="--env CartPole-v1 --trials 4 --steps 48000 --min-steps 6000 --eta 2
          --set n_steps=256 --seed 7 -q"
  "$ng" tune $l_args --workers 2 --out l0 || fail "one process"
  "$mpiexec" --oversubscribe -np 2 "$ng" tune $l_args --workers 1 --out l23 > l23.out 2>&1 &
  m=$! # mpiexec's own PID, not a shell function's
  for _ in $(seq 600); do [ "$(cat l23/trials.csv 2> /dev/null | wc -l)" -ge 2 ] && break
    sleep 0.05; done
  kill -TERM $m; wait $m; rc=$?
  cat l23.out; echo "SIGTERM: mpirun exit status $rc, $(wc -l < l23/trials.csv) lines"
  [ -e l23/best.ini ] && fail "the tune ended before it was stopped"
  grep -q "interrupted.*--resume l23" l23.out || fail "no word of the stop"
  mpirun -np 3 "$ng" tune --resume l23 --workers 1 -q || fail "resumed at K = 3"
  results l0 > l0.txt
  results l23 | diff l0.txt - || fail "stopped at K = 2, resumed at K = 3: not one process's"
  echo "same: l0 l23"
  # --report-seeds: seeds 0-9 dealt over 2 ranks, the scores of one process
  "$ng" tune --resume t0 --report-seeds --workers 2 -q || fail "one process, report"
  mpirun -np 2 "$ng" tune --resume t2 --report-seeds --workers 1 -q || fail "K = 2, report"
  cut -d, -f1-3 t0/report.csv > r0.txt
  [ "$(grep -c . r0.txt)" = 11 ] || fail "report.csv: not ten seeds"
  cut -d, -f1-3 t2/report.csv | diff r0.txt - || fail "K = 2: another report.csv"
  # a plugin's environment: the other ranks load the plugin tune.ini records
  if [ -n "$plugin" ]; then
    p_args="--plugin $plugin --env Reach-v0 --trials 4 --steps 4000 --min-steps 1000 --eta 2
            --set n_steps=500 -q"
    "$ng" tune $p_args --workers 2 --out p0 || fail "one process, plugin"
    mpirun -np 2 "$ng" tune $p_args --workers 1 --out p2 || fail "K = 2, plugin"
    results p0 > p0.txt
    results p2 | diff p0.txt - || fail "K = 2, plugin: not one process's results"
    echo "same: p0 p2"
  fi
  # a failure on one rank stops every rank, with that rank's error: trial 1 (rank 1's at
  # K = 2) finds another run in its folder
  "$ng" train --env CartPole-v1 --steps 512 --set n_steps=256 --out f/trials/001 -q \
    --eval-episodes 0 || fail "the other run"
  out=$(mpirun -np 2 "$ng" tune $t_args --workers 1 --out f 2>&1) && fail "rank 1's failure ignored"
  grep -q "f/trials/001 holds another run than trial 1" <<<"$out" || fail "no rank 1 error: $out"
  [ "$(wc -l < f/trials.csv)" = 1 ] || fail "rows written after a rank failed"
  # a rank whose working directory is elsewhere cannot see the tune's folder
  mkdir a b
  out=$("$mpiexec" --oversubscribe -np 1 --wdir "$PWD/a" "$ng" tune $t_args --out t : \
        -np 1 --wdir "$PWD/b" "$ng" tune $t_args --out t 2>&1) && fail "a rank without the folder ran"
  grep -q "rank 1 cannot see t/tune.ini: under mpirun the tune's folder must be on a file system every rank shares" <<<"$out" ||
    fail "no word of the shared folder: $out"
  ;;
*) fail "unknown case $case_" ;;
esac
echo "ok: $case_"
