#!/usr/bin/env bash
# CLI tests of environment plugins (registered by tests/cli_plugins.cmake, one CTest test per
# case): tests/cli_plugins.sh NATGRAD PLUGIN_DIR WORK_DIR CASE
# Every case checks exit codes and messages; a failure prints what it saw and exits 1.
set -uo pipefail
ng=$1 plugins=$2 work=$3/$4 case=$4
reach=$plugins/libng_plugin_reach.so
ring=$plugins/libng_plugin_ring.so
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1

fail() { echo "FAIL ($case): $*" >&2; exit 1; }
# run RC REGEX CMD...: runs natgrad with CMD, expects exit code RC and output matching REGEX.
run() {
  local want=$1 re=$2; shift 2
  out=$("$ng" "$@" 2>&1); local rc=$?
  [ "$rc" = "$want" ] || fail "natgrad $* exited $rc, expected $want: $out"
  grep -Eq -- "$re" <<<"$out" || fail "natgrad $* printed no match for '$re': $out"
}
# train_to ENV STEPS THRESHOLD: trains ENV from ring.c for STEPS (seed 0) into run/, expects
# a final mean return above THRESHOLD, and checks that eval gives that score again.
train_to() {
  run 0 "no tuned defaults for $1: SB3-contrib's TRPO defaults" \
    train --plugin "$ring" --env "$1" --steps "$2" --threads 1 --out run
  score=$(grep -o 'final mean return: [-0-9.]*' <<<"$out" | awk '{print $4}')
  awk -v s="$score" -v t="$3" 'BEGIN { exit !(s > t) }' || fail "final mean return $score <= $3"
  run 0 "$1 after [0-9]+ steps: mean return $score " eval run
}
# resumes_exactly ENV: a run cut at 6000 steps and resumed to 9000 is the whole run, byte for
# byte, and evaluates the same twice.
resumes_exactly() {
  local cut=cut-$1 whole=whole-$1
  run 0 "" train --plugin "$ring" --env "$1" --steps 6000 --out "$cut" "${short[@]}"
  run 0 "resuming $cut at iteration 6" train --resume "$cut" --steps 9000 --threads 1 \
    --eval-episodes 0
  run 0 "" train --plugin "$ring" --env "$1" --steps 9000 --out "$whole" "${short[@]}"
  cmp "$cut/checkpoint.ngc" "$whole/checkpoint.ngc" ||
    fail "$1: resumed run differs from the whole one"
  run 0 "$1 after 9000 steps" eval "$cut" --episodes 5
  local first=$out
  run 0 "" eval "$whole" --episodes 5
  [ "$first" = "${out//$whole/$cut}" ] || fail "$1: two evals differ: $first / $out"
}
# The config keys of a short run (8 iterations of 1000 steps, a checkpoint each).
short=(--set n_steps=1000 --checkpoint-every 1 --threads 1 --eval-episodes 0 -q)

case $case in
train)
  # The stated threshold: Reach-v0 scores about -150 at random and -3 at best; SB3-contrib's
  # TRPO defaults reach better than -10 in 40k steps (measured: -1.1 for seed 0).
  run 0 "no tuned defaults for Reach-v0: SB3-contrib's TRPO defaults" \
    train --plugin "$reach" --env Reach-v0 --steps 40000 --threads 1 --out run
  score=$(grep -o 'final mean return: [-0-9.]*' <<<"$out" | awk '{print $4}')
  awk -v s="$score" 'BEGIN { exit !(s > -10) }' || fail "final mean return $score <= -10"
  grep -qx "plugin = $(realpath "$reach")" run/config.ini || fail "config.ini lacks the path"
  grep -Eqx "plugin_hash = crc32:[0-9a-f]{8}" run/config.ini || fail "config.ini lacks the hash"
  # eval loads the plugin the folder records, and gives train's final score
  run 0 "Reach-v0 after 40960 steps: mean return $score " eval run
  # a bare checkpoint file records no file to load: --plugin
  run 1 "unknown environment id.*--plugin" eval run/checkpoint.ngc
  run 0 "Reach-v0 after 40960 steps: mean return $score " eval run/checkpoint.ngc --plugin "$reach"
  # --config repeats the run, loading the plugin it names
  run 0 "done: Reach-v0" train --config run/config.ini --steps 2000 --out again \
    --eval-episodes 0
  cmp <(grep -v '^steps' run/config.ini) <(grep -v '^steps' again/config.ini) ||
    fail "--config run/config.ini is not the same run"
  ;;
resume)
  # Reach-v0 has get/set state: a resumed run is the uninterrupted run, bit for bit.
  run 0 "" train --plugin "$reach" --env Reach-v0 --steps 6000 --out cut "${short[@]}"
  run 0 "resuming cut at iteration 6" train --resume cut --steps 9000 --threads 1 \
    --eval-episodes 0
  run 0 "" train --plugin "$reach" --env Reach-v0 --steps 9000 --out whole "${short[@]}"
  cmp cut/checkpoint.ngc whole/checkpoint.ngc || fail "resumed run differs from the whole one"
  ;;
resume_nostate)
  # Without get/set state: fresh episodes from the saved streams, the same every time.
  run 0 "" train --plugin "$reach" --env ReachNoState-v0 --steps 6000 --out a "${short[@]}"
  cp -r a b
  run 0 "has no get/set state: every environment starts a fresh episode" \
    train --resume a --steps 9000 --threads 1 --eval-episodes 0
  run 0 "" train --resume b --steps 9000 --threads 1 --eval-episodes 0 -q
  cmp a/checkpoint.ngc b/checkpoint.ngc || fail "two resumes of one checkpoint differ"
  run 0 "" train --plugin "$reach" --env ReachNoState-v0 --steps 9000 --out whole "${short[@]}"
  cmp -s a/checkpoint.ngc whole/checkpoint.ngc && fail "fresh episodes, yet the whole run's bytes"
  run 0 "ReachNoState-v0 after 9000 steps" eval a
  ;;
changed)
  cp "$reach" mine.so
  run 0 "" train --plugin ./mine.so --env Reach-v0 --steps 4000 --out run "${short[@]}"
  printf 'x' >> mine.so # still a loadable library, another checksum
  run 2 "the plugin $work/mine.so has changed since run/config.ini recorded it \(crc32:[0-9a-f]{8} then, crc32:[0-9a-f]{8} now\): rebuild the original, or pass --force" eval run
  run 2 "has changed since" train --resume run --steps 5000
  run 0 "warning: the plugin .* has changed.*going on with it \(--force\)" eval run --force
  run 0 "warning: .*--force" train --resume run --steps 5000 --force --threads 1 \
    --eval-episodes 0
  rm mine.so
  run 2 "the run's plugin $work/mine.so \(recorded in run/config.ini\) is missing; pass --plugin PATH if it moved" eval run
  # the original file, from elsewhere: the same checksum, accepted
  run 0 "Reach-v0 after 5000 steps" eval run --plugin "$reach"
  ;;
replay_list)
  printf '1\n-1\n0.5\n' > acts.txt
  run 0 $'^step,obs_0,reward,terminated,truncated\n1,1.2,-1.4399999999999999,0,0\n2,1,-1,0,0\n3,1.1000000000000001,-1.2100000000000002,0,0$' \
    replay --plugin "$reach" --env Reach-v0 --state 1 --actions acts.txt
  run 2 "ReachNoState-v0 has no get/set state; start it with --seed S" \
    replay --plugin "$reach" --env ReachNoState-v0 --state 1 --actions acts.txt
  run 0 "^step,obs_0" replay --plugin "$reach" --env ReachNoState-v0 --seed 4 --actions acts.txt
  run 2 "unknown environment 'Reach-v0'" replay --env Reach-v0 --state 1 --actions acts.txt
  run 0 "Reach-v0
  observation  Box\(1\) low \[-3\] high \[3\]
  action       Box\(1\) low \[-1\] high \[1\]
  time limit   50 steps
  state        x
  summary      test plugin: steer a point on a line to 0; reward -x\^2
  plugin       $(realpath "$reach")" list --plugin "$reach"
  run 0 "^CartPole-v1$" list --ids --plugin "$reach"
  [ "$(tail -1 <<<"$out")" = ReachNoState-v0 ] || fail "list --ids: the plugin's come last"
  ;;
bad_plugins)
  echo "not a library" > text.so
  echo "not a checkpoint" > x.ngc
  run 2 "^natgrad train: --plugin: plugin nowhere.so: No such file or directory$" \
    train --plugin nowhere.so --env Reach-v0
  run 2 "^natgrad train: --plugin: plugin .*/text.so: not a loadable shared library \(.*\)$" \
    train --plugin text.so --env Reach-v0
  run 2 "^natgrad train: --plugin: plugin .*nosym.so: no symbol 'natgrad_plugin': not a natgrad plugin" \
    train --plugin "$plugins/libng_plugin_nosym.so" --env Faulty-v0
  run 2 "^natgrad eval: --plugin: plugin .*abi.so: built for plugin ABI 4; this natgrad loads ABI 3" \
    eval x.ngc --plugin "$plugins/libng_plugin_abi.so"
  # a version-1 plugin (before MultiDiscrete/MultiBinary): refused, never called
  run 2 "^natgrad train: --plugin: plugin .*abi1.so: built for plugin ABI 1; this natgrad loads \
ABI 3: rebuild it against this natgrad's headers$" \
    train --plugin "$plugins/libng_plugin_abi1.so" --env Faulty-v0
  run 2 "^natgrad list: --plugin: plugin .*space.so: env Faulty-v0: observation space: low > high in component 1 \(low 2, high 1\)$" \
    list --plugin "$plugins/libng_plugin_space.so"
  run 2 "^natgrad replay: --plugin: plugin .*clash.so: env CartPole-v1: the id is taken" \
    replay --plugin "$plugins/libng_plugin_clash.so" --env CartPole-v1 --seed 0 --actions -
  [ -z "$(ls -A | grep -v -e text.so -e x.ngc)" ] || fail "a refused plugin left files: $(ls -A)"
  ;;
bad_envs)
  # A NaN, and a failing step, at the process's 6000th step: the message names the env and
  # the step, the exit code is 1, and the checkpoint of iteration 5 survives and evaluates.
  run 1 "training stopped: iteration 6: rollout: Faulty-v0 env 0, step [0-9]+ of its episode \(step 6000 of the run\): non-finite observation" \
    train --plugin "$plugins/libng_plugin_nan.so" --env Faulty-v0 --steps 20000 --out nan \
    "${short[@]}"
  grep -q "last good checkpoint (iteration 5)" <<<"$out" || fail "no word of the checkpoint: $out"
  run 0 "Faulty-v0 after 5000 steps" eval nan
  run 1 "rollout: Faulty-v0 env 0, step [0-9]+ of its episode \(step 6000 of the run\): value out of range" \
    train --plugin "$plugins/libng_plugin_step_err.so" --env Faulty-v0 --steps 20000 \
    --out err "${short[@]}"
  run 0 "Faulty-v0 after 5000 steps" eval err
  # A crash in plugin code kills the process; the last checkpoint survives, evaluates and
  # resumes.
  # (under AddressSanitizer the SIGSEGV is left to the kernel, as it is for a user)
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0" \
  "$ng" train --plugin "$plugins/libng_plugin_crash.so" --env Faulty-v0 --steps 20000 \
    --out crash "${short[@]}" >/dev/null 2>&1
  rc=$?
  [ "$rc" = 139 ] || fail "the crashing plugin's run exited $rc, expected 139 (SIGSEGV)"
  run 0 "Faulty-v0 after 5000 steps" eval crash
  run 0 "done: Faulty-v0 trpo, 7 iterations" train --resume crash --steps 7000 --threads 1 \
    --eval-episodes 0
  ;;
ring_train)
  # Ring-v0 (MultiDiscrete([2 3]) actions, Discrete(8) observations one-hot): a random policy
  # scores about -7, the best 19.5 on average; 20k steps reach better than 19 (measured:
  # 19.6 for seeds 0-4, from 10k steps on).
  train_to Ring-v0 20000 19
  ;;
switches_train)
  # Switches-v0 (MultiBinary(4) actions, Discrete(16) observations): random 5, best 10; 20k
  # steps reach better than 9.5 (measured: 10.0 for seeds 0-4).
  train_to Switches-v0 20000 9.5
  ;;
ring_resume)
  resumes_exactly Ring-v0
  resumes_exactly Switches-v0
  ;;
spaces_list_replay)
  run 0 "Ring-v0
  observation  Discrete\(8\) \(one-hot\)
  action       MultiDiscrete\(\[2 3\]\)
  time limit   20 steps
  state        cell
  summary      test plugin: walk a ring of 8 cells to cell 0 \(direction, speed\)
  plugin       $(realpath "$ring")

Switches-v0
  observation  Discrete\(16\) \(one-hot\)
  action       MultiBinary\(4\)" list --plugin "$ring"
  # from cell 3: clockwise 2 (to 5, 3 from 0), counter-clockwise 1 (to 4), stand still
  printf '1,2\n0 1\n0,0\n' > acts.txt
  run 0 $'^step,obs_0,reward,terminated,truncated\n1,5,-0.75,0,0\n2,4,-1,0,0\n3,4,-1,0,0$' \
    replay --plugin "$ring" --env Ring-v0 --state 3 --actions acts.txt
  printf '1,2\n0,3\n' > bad.txt
  run 2 "^natgrad replay: actions line 2: action component 1: 3 is not one of 0..2$" \
    replay --plugin "$ring" --env Ring-v0 --state 3 --actions bad.txt
  printf '1\n' > short.txt
  run 2 "actions line 1: 1 number, the action space needs 2" \
    replay --plugin "$ring" --env Ring-v0 --state 3 --actions short.txt
  # pattern 5 = switches 1 0 1 0: all four match
  printf '1 0 1 0\n' > acts.txt
  run 0 $'^step,obs_0,reward,terminated,truncated\n1,[0-9]+,1,0,0$' \
    replay --plugin "$ring" --env Switches-v0 --state 5 --actions acts.txt
  printf '1 0 0.5 0\n' > bad.txt
  run 2 "^natgrad replay: actions line 1: action component 2: 0.5 is not 0 or 1$" \
    replay --plugin "$ring" --env Switches-v0 --state 5 --actions bad.txt
  ;;
tune)
  # A plugin's environment tuned: tune.ini and best.ini record the plugin, best.ini trains;
  # a tune stopped after its first rung resumes (the plugin reloaded from tune.ini, the
  # trials' runs resumed with it) to the uninterrupted tune's results; a missing or changed
  # plugin is refused on resume as train --resume refuses it, and --force goes on.
  results() { # trials.csv without wall_s, best.ini, tune.svg, the checkpoints
    cut -d, -f1-5 "$1/trials.csv"; cat "$1/best.ini" "$1/tune.svg" "$1"/trials/*/checkpoint.ngc |
      md5sum; }
  cp "$reach" mine.so; here=$(pwd -P)
  a=(--plugin ./mine.so --env Reach-v0 --trials 4 --steps 16000 --min-steps 1000 --eta 2
     --set n_steps=500 --workers 2 -q)
  run 0 "" tune "${a[@]}" --out straight
  grep -qx "plugin = $here/mine.so" straight/tune.ini || fail "tune.ini lacks the plugin"
  grep -Eqx "plugin_hash = crc32:[0-9a-f]{8}" straight/tune.ini || fail "tune.ini lacks the hash"
  grep -qx "plugin = $here/mine.so" straight/best.ini || fail "best.ini lacks the plugin"
  run 0 "done: Reach-v0" train --config straight/best.ini --seed 0 --steps 1000 --out best \
    --eval-episodes 0
  "$ng" tune "${a[@]}" --out cut & pid=$!
  for _ in $(seq 600); do [ "$(cat cut/trials.csv 2>/dev/null | wc -l)" -ge 2 ] && break
    sleep 0.05; done
  kill -TERM $pid; wait $pid; rc=$?
  [ -e cut/best.ini ] && fail "the tune ended before it was stopped"
  [ $rc = 143 ] || fail "a tune stopped by SIGTERM exited $rc, expected 143"
  mv mine.so moved.so
  run 2 "the run's plugin $here/mine.so \(recorded in cut/tune.ini\) is missing; pass --plugin PATH if it moved" \
    tune --resume cut
  cp moved.so mine.so && printf 'x' >> mine.so
  run 2 "the plugin $here/mine.so has changed since cut/tune.ini recorded it" tune --resume cut
  mv moved.so mine.so
  run 0 "" tune --resume cut -q
  [ "$(results straight)" = "$(results cut)" ] || fail "resumed tune differs from the straight one"
  # a trial's folder records the plugin: train --resume continues it on its own
  run 0 "done: Reach-v0" train --resume cut/trials/000 --steps 17000 --threads 1 \
    --eval-episodes 0
  printf 'x' >> mine.so
  run 0 "warning: the plugin .* has changed.*going on with it \(--force\)" \
    tune --resume cut --force -q
  ;;
*) fail "unknown case" ;;
esac
echo "ok ($case)"
