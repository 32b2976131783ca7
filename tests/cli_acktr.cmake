# `natgrad train --algo acktr` end to end: an [acktr] section applies to ACKTR runs only and
# its keys land in config.ini (a TRPO run's has none), the run resumes to the same
# checkpoint as a straight one, and eval reads it.
if(TARGET natgrad_cli)
  set(NG_ACKTR_DIR ${CMAKE_BINARY_DIR}/cli_tests/acktr)
  file(MAKE_DIRECTORY ${NG_ACKTR_DIR})
  file(WRITE ${NG_ACKTR_DIR}/acktr.ini [=[
env = CartPole-v1
n_steps = 128
vf_epochs = 2
vf_minibatch = 128
[trpo]
max_kl = 0.05
[acktr]
acktr_lr = 0.1
vf_max_kl = 0.25
]=])
  add_test(NAME cli_train_acktr COMMAND sh -c [=[
    d=$1; ini=$1/acktr.ini; rm -rf "$d/straight" "$d/split" "$d/trpo"
    "$0" train --config "$ini" --algo acktr --steps 2048 --seed 4 --eval-episodes 1 \
      --out "$d/straight" -q || exit 1
    grep -qx "algo = acktr" "$d/straight/config.ini" || { echo "no algo"; exit 1; }
    c=$d/straight/config.ini
    grep -qx "acktr_lr = 0.1" "$c" || { echo "no [acktr] key"; exit 1; }
    grep -qx "vf_max_kl = 0.25" "$d/straight/config.ini" || { echo "no [acktr] key"; exit 1; }
    grep -qx "max_kl = 0.01" "$d/straight/config.ini" || { echo "[trpo] applied to acktr"; exit 1; }
    "$0" train --config "$ini" --algo acktr --steps 1024 --seed 4 --eval-episodes 1 \
      --out "$d/split" -q || exit 1
    "$0" train --resume "$d/split" --steps 2048 --eval-episodes 1 -q || exit 1
    cmp "$d/straight/checkpoint.ngc" "$d/split/checkpoint.ngc" || { echo "resume differs"; exit 1; }
    "$0" eval "$d/split" --episodes 2 | grep -q "mean return" || exit 1
    "$0" train --config "$ini" --steps 256 --eval-episodes 1 --out "$d/trpo" -q || exit 1
    c=$d/trpo/config.ini
    ! grep -q "^acktr_\|kfac_\|^vf_max_kl" "$c" || { echo "ACKTR keys in a TRPO run"; exit 1; }
    grep -qx "max_kl = 0.05" "$c" || { echo "no [trpo] key"; exit 1; }
  ]=] $<TARGET_FILE:natgrad_cli> ${NG_ACKTR_DIR})

  # natgrad tune's Hopper-v5 config is TRPO's default only: an ACKTR run, by --algo or by
  # its config file's algo, starts from the zoo's row; the user's keys still come last.
  if(NG_MUJOCO AND NG_MUJOCO_INCLUDE_DIR AND NG_MUJOCO_LIBRARY)
    add_test(NAME cli_train_tuned_defaults_algo COMMAND sh -c [=[
      d=$1/tuned; rm -rf "$d"; mkdir -p "$d"
      short="--steps 64 --set n_steps=32 --set vf_minibatch=32 --eval-episodes 0 -q"
      keys() { grep -E "^(algo|gamma|vf_epochs|max_kl) = " "$1/config.ini" | tr '\n' ' '; }
      "$0" train --env Hopper-v5 $short --out "$d/trpo" || exit 1
      "$0" train --env Hopper-v5 --algo acktr $short --out "$d/acktr" || exit 1
      printf 'env = Hopper-v5\nalgo = acktr\n' > "$d/acktr.ini"
      "$0" train --config "$d/acktr.ini" $short --set max_kl=0.002 --out "$d/file" || exit 1
      t=$(keys "$d/trpo"); a=$(keys "$d/acktr"); f=$(keys "$d/file"); printf '%s\n' "$t" "$a" "$f"
      [ "$t" = "algo = trpo gamma = 0.995 max_kl = 0.014807 vf_epochs = 5 " ] || exit 1
      [ "$a" = "algo = acktr gamma = 0.99 max_kl = 0.01 vf_epochs = 20 " ] || exit 1
      [ "$f" = "algo = acktr gamma = 0.99 max_kl = 0.002 vf_epochs = 20 " ] || exit 1
    ]=] $<TARGET_FILE:natgrad_cli> ${NG_ACKTR_DIR})
  endif()
endif()
