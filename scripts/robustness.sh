#!/usr/bin/env bash
# Robustness checks for CI, beyond CTest (which already replays the fuzz corpora and runs
# test_alloc_fail and test_faults, under ASan + UBSan too): the crash test's short form and
# a valgrind memcheck pass over the CLI's main commands, which must report nothing.
# Usage: scripts/robustness.sh [BUILD_DIR] [KILLS]
#   BUILD_DIR  a build holding the natgrad CLI (default build/release; configured and
#              built here if it has none)
#   KILLS      SIGKILLs for the crash test (default 10; docs/robustness.md reports 100)
# Takes about a minute on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
kills=${2:-10}
scripts/deps.sh valgrind
if [ ! -x "$build/natgrad" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j2 --target natgrad_cli >/dev/null
fi
ng=$(cd "$build" && pwd)/natgrad
export OPENBLAS_NUM_THREADS=1

echo "== crash test: $kills SIGKILLs, every checkpoint must load and --resume continue =="
scripts/crash_test.sh "$kills" "$ng"

echo "== valgrind memcheck over the CLI (any report fails) =="
work=$(mktemp -d "${TMPDIR:-/tmp}/natgrad-vg.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Exit status 99 marks a memcheck report, so that commands expected to fail (exit 1 or 2)
# can still be checked for being clean.
vg=(valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,possible
    --errors-for-leak-kinds=definite,possible --track-origins=yes)
printf '0\n1\n1\n0\n1\n0\n0\n1\n' > "$work/actions.txt"
printf 'max_kl = 0.02\nno_such_key = 1\n' > "$work/bad.ini"
printf 'not a checkpoint\n' > "$work/bad.ngc"
failed=0
# memcheck EXPECTED_STATUS NAME ARG...: runs natgrad ARG... under memcheck
memcheck() {
  local want=$1 name=$2
  shift 2
  local rc=0 t0=$SECONDS
  "${vg[@]}" --log-file="$work/$name.vg" "$ng" "$@" >"$work/$name.out" 2>&1 || rc=$?
  if [ "$rc" -eq 99 ] || [ -s "$work/$name.vg" ]; then
    echo "memcheck: $name: reports:"
    cat "$work/$name.vg"
    failed=1
  elif [ "$rc" -ne "$want" ]; then
    echo "memcheck: $name: exit status $rc, expected $want"
    cat "$work/$name.out"
    failed=1
  else
    echo "memcheck: $name clean ($((SECONDS - t0)) s)"
  fi
}
run=$work/run
memcheck 0 demo demo gaussian --samples 200 --out "$work/demo.svg"
memcheck 0 list list
memcheck 0 replay replay --env CartPole-v1 --seed 3 --actions "$work/actions.txt"
memcheck 0 train train --env CartPole-v1 --steps 1024 --set n_steps=256 --set vf_epochs=2 \
  --checkpoint-every 1 --eval-episodes 2 --out "$run"
memcheck 0 train-resume train --resume "$run" --steps 1536 --eval-episodes 1
memcheck 0 eval eval "$run" --episodes 2
memcheck 0 train-pendulum train --env Pendulum-v1 --steps 512 --set n_steps=128 \
  --set vf_epochs=1 --eval-episodes 1 --out "$work/pendulum" --quiet
memcheck 0 train-acktr train --env Pendulum-v1 --algo acktr --steps 512 --set n_steps=128 \
  --set vf_epochs=1 --checkpoint-every 1 --eval-episodes 1 --out "$work/acktr" --quiet
memcheck 0 train-acktr-resume train --resume "$work/acktr" --steps 768 --eval-episodes 1 --quiet
# MuJoCo, when this build has it
if printf '0\n' | "$ng" replay --env InvertedPendulum-v5 --seed 1 --actions - >/dev/null 2>&1; then
  memcheck 0 train-mujoco train --env InvertedPendulum-v5 --steps 512 --set n_steps=128 \
    --set vf_epochs=1 --eval-episodes 1 --out "$work/mujoco" --quiet
fi
# damaged files and bad input: clean failures
cp "$run/checkpoint.ngc" "$work/keep.ngc"
printf 'x' | dd of="$run/checkpoint.ngc" bs=1 seek=200 conv=notrunc 2>/dev/null
memcheck 0 eval-fallback eval "$run" --episodes 1
memcheck 1 eval-corrupt eval "$work/bad.ngc"
memcheck 2 train-bad-config train --env CartPole-v1 --config "$work/bad.ini" --out "$work/never"
memcheck 2 train-bad-flag train --env CartPole-v1 --no-such-flag
memcheck 2 eval-no-args eval
if [ "$failed" -ne 0 ]; then
  echo "robustness: FAILED"
  exit 1
fi
echo "robustness: crash test passed, memcheck clean"
