#!/usr/bin/env bash
# The example environments (examples/envs/), as a user has them: each built out of the source
# tree against the installed natgrad (tests/install.cmake's install_prefix), with nothing but
# `pkg-config --cflags`, by every C compiler given, with -Wall -Wextra -Werror; then loaded by
# the installed CLI, trained with TRPO to a stated threshold, evaluated, resumed and replayed.
# Usage: example_envs.sh WORK_DIR LIBDIR SOURCE_DIR CC...
set -euo pipefail
work=$1 libdir=$2 src=$3
shift 3
prefix=$work/prefix ng=$work/prefix/bin/natgrad
fail() { echo "example_envs: $*" >&2; exit 1; }
[ -x "$ng" ] || { echo "no installed natgrad CLI: nothing to train the examples with"; exit 0; }
export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig
unset LD_LIBRARY_PATH # the plugin must not need the shared library: see below
rm -rf "$work/examples" && mkdir -p "$work/examples" && cd "$work/examples"

# DCMotorServo-v0. Built with --cflags only: its two library calls (ng_rng_uniform_range,
# ng_error_set) resolve to the natgrad program that loads it, so it needs no libnatgrad.so
# on the loader's path and loads no second copy of the library.
for cc in "$@"; do
  for env in dc_motor ring; do
    # shellcheck disable=SC2046 # pkg-config's flags are meant to split into words
    "$cc" -std=c11 -O2 -Wall -Wextra -Werror -pedantic -shared -fPIC \
      "$src/examples/envs/$env/$env.c" $(pkg-config --cflags natgrad) -o "lib$env.so" \
      || fail "$cc does not build $env.c"
    [[ "$(readelf -d "lib$env.so")" != *libnatgrad* ]] || fail "lib$env.so needs libnatgrad.so"
  done
done

# Ring-v0 (MultiDiscrete actions, a Discrete observation): from cell 6, clockwise at speed 2
# reaches cell 0 (reward 1); then counter-clockwise at speed 1 goes to cell 7 (reward -1/4).
printf '1 2\n0 1\n' > ring_actions.txt
"$ng" replay --plugin ./libring.so --env Ring-v0 --state 6 --actions ring_actions.txt \
  > ring_replay.csv || fail "Ring-v0 replay failed"
[ "$(sed -n 2p ring_replay.csv | cut -d, -f1-3)" = "1,0,1" ] \
  && [ "$(sed -n 3p ring_replay.csv | cut -d, -f1-3)" = "2,7,-0.25" ] \
  || fail "Ring-v0 replay: $(cat ring_replay.csv)"
out=$("$ng" train --plugin ./libring.so --env Ring-v0 --steps 20000 --seed 0 --threads 1 \
  --out ring 2>&1) || fail "Ring-v0 train failed: $out"
ring_score=$(grep -o 'final mean return: [-0-9.]*' <<<"$out" | awk '{print $4}')
awk -v s="$ring_score" 'BEGIN { exit !(s > 19) }' \
  || fail "Ring-v0: final mean return '$ring_score' <= 19 (best 19.5, random about -7)"
echo "Ring-v0: TRPO 20k steps, final mean return $ring_score (threshold 19; the best policy averages 19.5 over start cells)"
out=$("$ng" eval ring 2>&1) || fail "Ring-v0 eval failed: $out"
[[ "$out" == *"mean return $ring_score "* ]] || fail "Ring-v0 eval does not give $ring_score: $out"

# Replay checks the dynamics against the closed form from the cited parameters: from rest,
# full voltage for 200 steps (0.2 s), omega(t) = w (1 - e^-at) and theta(t) = w t - (w/a)
# (1 - e^-at), w = K V/(b R + K^2) the no-load speed; the observation is (theta_ref - theta,
# omega/w).
awk 'BEGIN { for (i = 0; i < 200; i++) print 1 }' > full.txt
"$ng" replay --plugin ./libdc_motor.so --env DCMotorServo-v0 --state 0,0,1 --actions full.txt \
  > replay.csv || fail "replay failed"
[ "$(sed -n 1p replay.csv)" = "step,obs_0,obs_1,reward,terminated,truncated" ] \
  || fail "replay header: $(sed -n 1p replay.csv)"
awk -F, 'NR == 201 {
  J = 3.2284e-6; b = 3.5077e-6; K = 0.0274; R = 4; V = 12; t = 0.2
  a = (b * R + K * K) / (J * R); w = K * V / (b * R + K * K)
  e = 1 - (w * t - w / a * (1 - exp(-a * t))); s = 1 - exp(-a * t)
  ok = ($1 == 200 && $6 == 1 && $5 == 0 && (e - $2)^2 < 1e-18 * e^2 && (s - $3)^2 < 1e-18)
  printf "replay step 200: error %.12g (closed form %.12g), speed %.12g (%.12g)\n", $2, e, $3, s
  exit !ok }' replay.csv || fail "replay differs from the closed form"

# Training. A uniformly random voltage scores about -240, the initial policy (Gaussian,
# std 1) about -270, a tuned saturated PD controller about -7 (measured by simulating the same
# dynamics). TRPO with SB3-contrib's defaults reaches -3.55 over the 10 evaluation episodes in
# 50k steps for seed 0 (-3.2 to -6.0 for seeds 0-5), in about 3 s on one thread.
threshold=-20
out=$("$ng" train --plugin ./libdc_motor.so --env DCMotorServo-v0 --steps 50000 --seed 0 \
  --threads 1 --out run 2>&1) || fail "train failed: $out"
score=$(grep -o 'final mean return: [-0-9.]*' <<<"$out" | awk '{print $4}')
[ -n "$score" ] || fail "train printed no final mean return: $out"
awk -v s="$score" -v t="$threshold" 'BEGIN { exit !(s > t) }' \
  || fail "final mean return $score <= $threshold"
echo "DCMotorServo-v0: TRPO 50k steps, final mean return $score (threshold $threshold)"
# eval loads the plugin that run/config.ini records, and gives train's final score
out=$("$ng" eval run 2>&1) || fail "eval failed: $out"
[[ "$out" == *"DCMotorServo-v0 after 51200 steps: mean return $score "* ]] \
  || fail "eval does not give train's score $score: $out"
out=$("$ng" eval run --episodes 50 2>&1) || fail "eval --episodes 50 failed: $out"
echo "$out"
score50=$(grep -o 'mean return [-0-9.]*' <<<"$out" | awk '{print $3}')
awk -v s="$score50" -v t="$threshold" 'BEGIN { exit !(s > t) }' \
  || fail "mean return over 50 episodes $score50 <= $threshold"
# --resume loads it again too, and (get/set state) continues the uninterrupted run bit for bit
out=$("$ng" train --resume run --steps 60000 --threads 1 2>&1) || fail "resume failed: $out"
[[ "$out" == *"done: DCMotorServo-v0 trpo, 30 iterations"* ]] || fail "resume: $out"
"$ng" train --plugin ./libdc_motor.so --env DCMotorServo-v0 --steps 60000 --seed 0 --threads 1 \
  --out whole -q >/dev/null 2>&1 || fail "the uninterrupted run failed"
cmp run/checkpoint.ngc whole/checkpoint.ngc || fail "the resumed run differs from the whole one"
echo "example environments built, trained, evaluated, resumed and replayed"
