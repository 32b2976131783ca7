#!/usr/bin/env bash
# Crash test: a training run is killed with SIGKILL at random moments, KILLS times. After
# every kill:
#   - the latest checkpoint must load as it is (`natgrad eval DIR/checkpoint.ngc`, no
#     fallback), and so must the previous one (checkpoint.prev.ngc) if there is one;
#   - `natgrad train --resume DIR` must start and continue the run (it is then killed
#     again at the next random moment).
# Two kills in three come at a random time; every third comes as soon as a checkpoint
# write has begun (its temporary file appears), to hit the moment a torn file could arise.
# Finally the run is resumed to a fixed step count and its log must equal, in every column
# but the timings, the log of the same run trained straight through without a kill: the
# kills lost nothing and changed nothing.
#
# Usage: scripts/crash_test.sh [KILLS] [NATGRAD] [MAX_DELAY_S]
#   KILLS       kills to survive (default 10; CI runs 10, docs/robustness.md reports 100)
#   NATGRAD     the CLI binary (default build/release/natgrad)
#   MAX_DELAY_S a kill comes uniformly 0.02 s .. MAX_DELAY_S after a start (default 0.6)
# Kills that come before the first checkpoint exists start the run afresh (--force); they
# are counted apart. Prints a summary line; exit status 0 only if every check passed.
set -uo pipefail
kills=${1:-10}
ng=${2:-build/release/natgrad}
max_delay=${3:-0.6}
[ -x "$ng" ] || { echo "crash_test: no natgrad binary at $ng" >&2; exit 2; }
ng=$(cd "$(dirname "$ng")" && pwd)/$(basename "$ng")
work=$(mktemp -d "${TMPDIR:-/tmp}/natgrad-crash.XXXXXX")
trap 'rm -rf "$work"' EXIT
dir=$work/run
export OPENBLAS_NUM_THREADS=1

# A short iteration (2 envs x 64 steps) and a checkpoint after every one, so that kills
# land inside checkpoint writes often.
flags=(--env CartPole-v1 --seed 3 --set n_steps=64 --set vf_minibatch=64 --set vf_epochs=2
       --set policy_hidden=256,256 --set value_hidden=256,256
       --checkpoint-every 1 --eval-episodes 0 --quiet)
batch=128

fail() {
  echo "crash_test: FAILED after $done_kills kills: $*" >&2
  [ -f "$work/train.err" ] && sed 's/^/  train: /' "$work/train.err" >&2
  exit 1
}

delay() { awk -v r="$RANDOM" -v m="$max_delay" 'BEGIN { printf "%.3f", 0.02 + (m - 0.02) * r / 32767 }'; }

done_kills=0 early=0 in_write=0 in_rotation=0 resumes=0
start_run() {
  touch "$work/started"
  sleep 0.01 # so that files this run writes are newer than the mark
  if [ -f "$dir/checkpoint.ngc" ] || [ -f "$dir/checkpoint.prev.ngc" ]; then
    "$ng" train --resume "$dir" --steps 1000000000 --quiet 2>"$work/train.err" &
    resumes=$((resumes + 1))
  else
    "$ng" train "${flags[@]}" --steps 1000000000 --out "$dir" --force 2>"$work/train.err" &
  fi
  pid=$!
}

while [ "$done_kills" -lt "$kills" ]; do
  aim=0
  if [ $((done_kills % 3)) -eq 2 ] && [ -f "$dir/checkpoint.ngc" ]; then
    aim=1
    rm -f "$dir/checkpoint.ngc.tmp" # one left by an earlier kill would end the wait at once
  fi
  start_run
  if [ "$aim" -eq 1 ]; then
    # every third kill aims at a checkpoint write: as soon as its temporary file appears
    deadline=$((SECONDS + 5))
    while [ ! -e "$dir/checkpoint.ngc.tmp" ] && [ "$SECONDS" -lt "$deadline" ] &&
      kill -0 "$pid" 2>/dev/null; do :; done
  else
    sleep "$(delay)"
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid"
    fail "training exited with status $? before it was killed"
  fi
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null
  done_kills=$((done_kills + 1))
  if grep -q . "$work/train.err"; then fail "training printed an error"; fi
  # a temporary file written by this run (not one left by an earlier kill): killed inside
  # a checkpoint write, or inside the rotation of the previous checkpoint
  [ -n "$(find "$dir" -name checkpoint.ngc.tmp -newer "$work/started" 2>/dev/null)" ] &&
    in_write=$((in_write + 1))
  [ -n "$(find "$dir" -name checkpoint.prev.ngc.tmp -newer "$work/started" 2>/dev/null)" ] &&
    in_rotation=$((in_rotation + 1))
  if [ ! -f "$dir/checkpoint.ngc" ]; then
    early=$((early + 1))
    continue
  fi
  # the latest checkpoint loads as it is; so does the previous one
  "$ng" eval "$dir/checkpoint.ngc" --episodes 1 >"$work/eval.out" 2>&1 ||
    fail "the latest checkpoint does not load: $(cat "$work/eval.out")"
  if [ -f "$dir/checkpoint.prev.ngc" ]; then
    "$ng" eval "$dir/checkpoint.prev.ngc" --episodes 1 >"$work/eval.out" 2>&1 ||
      fail "the previous checkpoint does not load: $(cat "$work/eval.out")"
  fi
done

# finish: resume to a fixed total, then compare with a run that was never killed
[ -f "$dir/checkpoint.ngc" ] || fail "no checkpoint after the last kill"
steps=$("$ng" eval "$dir/checkpoint.ngc" --episodes 1 | sed -n 's/.* after \([0-9]*\) steps.*/\1/p')
[ -n "$steps" ] || fail "cannot read the step count of the last checkpoint"
total=$((steps + 5 * batch))
"$ng" train --resume "$dir" --steps "$total" --quiet 2>"$work/train.err" ||
  fail "the final --resume to $total steps failed"
"$ng" train "${flags[@]}" --steps "$total" --out "$work/straight" 2>"$work/train.err" ||
  fail "the uninterrupted run failed"
cut -d, -f1-14 "$dir/progress.csv" >"$work/a.csv"
cut -d, -f1-14 "$work/straight/progress.csv" >"$work/b.csv"
if ! cmp -s "$work/a.csv" "$work/b.csv"; then
  diff "$work/a.csv" "$work/b.csv" | head -n 10 >&2
  fail "the killed-and-resumed run differs from the uninterrupted one"
fi
iterations=$(($(wc -l <"$work/a.csv") - 1))
echo "crash test: $done_kills SIGKILLs survived ($early before the first checkpoint," \
  "$in_write inside a checkpoint write, $in_rotation inside the previous-checkpoint rotation);" \
  "$resumes resumes; every checkpoint loaded; the $iterations-iteration run equals the" \
  "uninterrupted one"
