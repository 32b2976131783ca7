# CTest registrations that run the `natgrad` CLI: `train`, `eval` and `train --resume` end
# to end on CartPole, and every failure a person can run into, each checked for both its
# exit status and its message. Scripts are POSIX sh, in bracket arguments so CMake leaves
# them alone; paths reach them as positional parameters ($0 is the CLI).
if(TARGET natgrad_cli)
  set(NG_CLI $<TARGET_FILE:natgrad_cli>)
  set(NG_CLI_DIR ${CMAKE_BINARY_DIR}/cli_tests)
  file(MAKE_DIRECTORY ${NG_CLI_DIR})
  set(NG_CLI_RUN ${NG_CLI_DIR}/cartpole) # the run the fixture trains, read by later tests

  file(WRITE ${NG_CLI_DIR}/bad_key.ini "# a typo on line 4\n[trpo]\nmax_kl = 0.02\nno_such_key = 1\n")
  file(WRITE ${NG_CLI_DIR}/bad_range.ini "max_kl = 0.02\ngamma = 1.5  # out of [0, 1]\n")
  file(WRITE ${NG_CLI_DIR}/bad_syntax.ini "max_kl = 0.02\nmax_kl 0.03\n")
  file(WRITE ${NG_CLI_DIR}/bad_section.ini "max_kl = 0.02\n[ppo]\nn_steps = 64\n")
  file(WRITE ${NG_CLI_DIR}/corrupt.ngc "this is not a checkpoint\n")
  # Every accepted form: comments of both kinds, a trailing comment, indentation (not a
  # continuation line), `key: value`, a [trpo] header (a key given twice is refused:
  # cli_config.cmake).
  file(WRITE ${NG_CLI_DIR}/good.ini [=[
# natgrad config
; also a comment
[trpo]
env = CartPole-v1
max_kl = 0.02   # a trailing comment
    n_steps = 256
gae_lambda: 0.9
seed = 5
cg_iters = 8 ; another trailing comment
steps = 999999
]=])

  # ---- a short run: it trains, writes every file, and its numbers are consistent --------
  add_test(NAME cli_train_cartpole COMMAND sh -c [=[
    dir=$1; rm -rf "$dir" "$dir.out"
    "$0" train --env CartPole-v1 --steps 4096 --seed 1 --out "$dir" > "$dir.out" 2>&1; rc=$?
    cat "$dir.out"
    [ "$rc" -eq 0 ] || { echo "exit status $rc"; exit 1; }
    for f in config.ini progress.csv checkpoint.ngc curve.svg; do
      [ -s "$dir/$f" ] || { echo "missing or empty: $dir/$f"; exit 1; }
    done
    head -n 1 "$dir/progress.csv" | grep -q '^iteration,env_steps,episodes,mean_return,' || exit 1
    rows=$(($(wc -l < "$dir/progress.csv") - 1))
    [ "$rows" -ge 2 ] || { echo "only $rows rows in progress.csv"; exit 1; }
    # one row per iteration, numbered 1..rows, env steps growing to at least --steps
    awk -F, 'NR > 1 && ($1 != NR - 1 || $2 <= prev) { print "bad row " NR ": " $0; bad = 1 }
             NR > 1 { prev = $2 } END { exit bad }' "$dir/progress.csv" || exit 1
    [ "$(tail -n 1 "$dir/progress.csv" | cut -d, -f2)" -ge 4096 ] || exit 1
    grep -q '^steps = 4096$' "$dir/config.ini" && grep -q '^seed = 1$' "$dir/config.ini" || exit 1
    grep -q '<svg' "$dir/curve.svg" && grep -q '<path' "$dir/curve.svg" || exit 1
    grep -q '^final mean return: ' "$dir.out" || { echo "no summary"; exit 1; }
  ]=] ${NG_CLI} ${NG_CLI_RUN})
  set_tests_properties(cli_train_cartpole PROPERTIES FIXTURES_SETUP cli_run
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1" TIMEOUT 300)

  # eval prints mean ± std over N episodes; with the defaults it evaluates exactly as the
  # training summary did, so the two numbers agree only if the checkpoint holds the policy
  # (and its observation normaliser) that training ended with.
  add_test(NAME cli_eval_cartpole COMMAND sh -c [=[
    dir=$1
    out=$("$0" eval "$dir" 2>&1); rc=$?; printf '%s\n' "$out"
    [ "$rc" -eq 0 ] || { echo "exit status $rc"; exit 1; }
    printf '%s\n' "$out" | grep -Eq 'mean return -?[0-9.]+ ± [0-9.]+ over 10 deterministic episodes.*min -?[0-9.]+, max -?[0-9.]+' || exit 1
    want=$(sed -n 's/^final mean return: \([^ ]* ± [^ ]*\) .*/\1/p' "$dir.out")
    got=$(printf '%s\n' "$out" | sed -n 's/.* mean return \([^ ]* ± [^ ]*\) over .*/\1/p')
    [ -n "$want" ] && [ "$want" = "$got" ] || { echo "eval says '$got', training said '$want'"; exit 1; }
    # a checkpoint file works as well as its folder; --stochastic samples actions
    "$0" eval "$dir/checkpoint.ngc" --episodes 3 --stochastic --seed 7 \
      | grep -Eq 'over 3 stochastic episodes \(seed 7\)' || exit 1
  ]=] ${NG_CLI} ${NG_CLI_RUN})
  set_tests_properties(cli_eval_cartpole PROPERTIES FIXTURES_REQUIRED cli_run
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1" TIMEOUT 120)

  # --resume with --steps extends a copy of the run; a row logged after the checkpoint (as
  # a crash leaves it) is dropped; and the resumed run matches one trained straight
  # through in every column but the timings.
  add_test(NAME cli_train_resume COMMAND sh -c [=[
    src=$1; dir=$2; straight=$3
    rm -rf "$dir" "$straight"; cp -R "$src" "$dir" || exit 1
    tail -n 1 "$dir/progress.csv" | awk -F, -v OFS=, '{ $1 = $1 + 1; print }' >> "$dir/progress.csv"
    "$0" train --resume "$dir" --steps 8192 || { echo "resume failed"; exit 1; }
    awk -F, 'NR > 1 && $1 != NR - 1 { print "bad row " NR ": " $0; bad = 1 } END { exit bad }' \
      "$dir/progress.csv" || exit 1
    [ "$(tail -n 1 "$dir/progress.csv" | cut -d, -f2)" -ge 8192 ] || exit 1
    grep -q '^steps = 8192$' "$dir/config.ini" || { echo "config.ini not updated"; exit 1; }
    "$0" train --env CartPole-v1 --steps 8192 --seed 1 --out "$straight" --quiet || exit 1
    cut -d, -f1-14 "$dir/progress.csv" > "$dir/a.csv"
    cut -d, -f1-14 "$straight/progress.csv" > "$dir/b.csv"
    cmp "$dir/a.csv" "$dir/b.csv" || { echo "resumed and straight runs differ:"; diff "$dir/a.csv" "$dir/b.csv"; exit 1; }
  ]=] ${NG_CLI} ${NG_CLI_RUN} ${NG_CLI_DIR}/resumed ${NG_CLI_DIR}/straight)
  set_tests_properties(cli_train_resume PROPERTIES FIXTURES_REQUIRED cli_run
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1" TIMEOUT 300)

  # --threads changes the speed, never the run: one thread and three give the same log
  # (but the timings) and the same checkpoint, byte for byte.
  add_test(NAME cli_train_threads COMMAND sh -c [=[
    dir=$1; rm -rf "$dir"
    "$0" train --env Pendulum-v1 --steps 8192 --threads 1 --eval-episodes 0 --out "$dir/one" --quiet || exit 1
    "$0" train --env Pendulum-v1 --steps 8192 --threads 3 --eval-episodes 0 --out "$dir/three" --quiet || exit 1
    cut -d, -f1-14 "$dir/one/progress.csv" > "$dir/a.csv"; cut -d, -f1-14 "$dir/three/progress.csv" > "$dir/b.csv"
    cmp "$dir/a.csv" "$dir/b.csv" || { diff "$dir/a.csv" "$dir/b.csv"; exit 1; }
    cmp "$dir/one/checkpoint.ngc" "$dir/three/checkpoint.ngc" || exit 1
  ]=] ${NG_CLI} ${NG_CLI_DIR}/threads)
  set_tests_properties(cli_train_threads PROPERTIES ENVIRONMENT "OPENBLAS_NUM_THREADS=1"
                       TIMEOUT 300)

  # ...and for any OpenBLAS thread count the caller's environment asks for: BLAS rounds as
  # its threads split a product, so train keeps it at one from before the trainer is made
  # (layers wider than 128 units take LAPACK's blocked QR in the orthogonal init).
  add_test(NAME cli_train_blas_threads COMMAND sh -c [=[
    dir=$1; rm -rf "$dir"
    for n in 1 2; do
      OPENBLAS_NUM_THREADS=$n "$0" train --env CartPole-v1 --steps 3000 --threads 1 \
        --set policy_hidden=256,256 --set value_hidden=256,256 --out "$dir/$n" --quiet || exit 1
    done
    cmp "$dir/1/checkpoint.ngc" "$dir/2/checkpoint.ngc"
  ]=] ${NG_CLI} ${NG_CLI_DIR}/blas_threads)
  set_tests_properties(cli_train_blas_threads PROPERTIES TIMEOUT 120)

  # A run's config.ini is a config file that reproduces it (the format round-trips).
  add_test(NAME cli_train_config_roundtrip COMMAND sh -c [=[
    src=$1; dir=$2; rm -rf "$dir"
    "$0" train --config "$src/config.ini" --out "$dir" --quiet || exit 1
    grep -v '^#' "$src/config.ini" > "$dir/a.ini"; grep -v '^#' "$dir/config.ini" > "$dir/b.ini"
    cmp "$dir/a.ini" "$dir/b.ini" || { diff "$dir/a.ini" "$dir/b.ini"; exit 1; }
    cut -d, -f1-14 "$src/progress.csv" > "$dir/a.csv"; cut -d, -f1-14 "$dir/progress.csv" > "$dir/b.csv"
    cmp "$dir/a.csv" "$dir/b.csv" || { echo "same config, different run"; exit 1; }
  ]=] ${NG_CLI} ${NG_CLI_RUN} ${NG_CLI_DIR}/roundtrip)
  set_tests_properties(cli_train_config_roundtrip PROPERTIES FIXTURES_REQUIRED cli_run
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1" TIMEOUT 300)

  # Precedence: the env's defaults < the config file < flags, in the order given.
  add_test(NAME cli_train_config_file COMMAND sh -c [=[
    ini=$1; dir=$2; rm -rf "$dir"
    "$0" train --config "$ini" --seed 7 --steps 2048 --set n_steps=128 --set n_steps=512       --out "$dir" --quiet || exit 1
    for line in 'env = CartPole-v1' 'max_kl = 0.02' 'gae_lambda = 0.9'                 'cg_iters = 8' 'seed = 7' 'steps = 2048' 'n_steps = 512' 'n_envs = 2'; do
      grep -qx "$line" "$dir/config.ini" || { echo "config.ini lacks '$line':"; cat "$dir/config.ini"; exit 1; }
    done
    [ "$(tail -n 1 "$dir/progress.csv" | cut -d, -f2)" -eq 2048 ] || exit 1
  ]=] ${NG_CLI} ${NG_CLI_DIR}/good.ini ${NG_CLI_DIR}/configured)
  set_tests_properties(cli_train_config_file PROPERTIES ENVIRONMENT "OPENBLAS_NUM_THREADS=1"
                       TIMEOUT 120)

  # A folder holding a run is never overwritten without --force (and is left untouched).
  add_test(NAME cli_train_existing_run COMMAND sh -c [=[
    src=$1; dir=$2; rm -rf "$dir"; cp -R "$src" "$dir" || exit 1
    before=$(cksum < "$dir/checkpoint.ngc")
    out=$("$0" train --env CartPole-v1 --steps 2048 --out "$dir" 2>&1); rc=$?; printf '%s\n' "$out"
    [ "$rc" -eq 2 ] && printf '%s\n' "$out" | grep -q "already holds a run.*--resume" || exit 1
    [ "$(cksum < "$dir/checkpoint.ngc")" = "$before" ] || { echo "checkpoint changed"; exit 1; }
    "$0" train --env CartPole-v1 --steps 1024 --out "$dir" --force --quiet || exit 1
    [ "$(wc -l < "$dir/progress.csv")" -eq 2 ] || { echo "--force kept the old log"; exit 1; }
  ]=] ${NG_CLI} ${NG_CLI_RUN} ${NG_CLI_DIR}/existing)
  set_tests_properties(cli_train_existing_run PROPERTIES FIXTURES_REQUIRED cli_run
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1" TIMEOUT 120)

  # Ctrl-C: the current iteration finishes, a checkpoint matching the log is saved, the
  # exit status is 130 and the message says how to resume.
  add_test(NAME cli_train_sigint COMMAND sh -c [=[
    dir=$1; rm -rf "$dir" "$dir.out"
    "$0" train --env CartPole-v1 --steps 100000000 --out "$dir" > "$dir.out" 2>&1 &
    pid=$!; i=0
    while [ "$i" -lt 1200 ]; do
      [ -f "$dir/progress.csv" ] && [ "$(wc -l < "$dir/progress.csv")" -ge 3 ] && break
      sleep 0.1; i=$((i + 1))
    done
    kill -INT "$pid"; wait "$pid"; rc=$?
    cat "$dir.out"
    [ "$rc" -eq 130 ] || { echo "exit status $rc, expected 130"; exit 1; }
    grep -q -- "natgrad train --resume $dir" "$dir.out" || exit 1
    steps=$(tail -n 1 "$dir/progress.csv" | cut -d, -f2)
    "$0" eval "$dir" --episodes 1 | grep -q " after $steps steps" || { echo "checkpoint is not at $steps steps"; exit 1; }
  ]=] ${NG_CLI} ${NG_CLI_DIR}/interrupted)
  set_tests_properties(cli_train_sigint PROPERTIES ENVIRONMENT "OPENBLAS_NUM_THREADS=1"
                       TIMEOUT 180)

  # A config error stops before anything is written.
  add_test(NAME cli_train_config_error_writes_nothing COMMAND sh -c [=[
    dir=$2; rm -rf "$dir"
    "$0" train --env CartPole-v1 --config "$1" --out "$dir" 2> /dev/null && exit 1
    [ ! -e "$dir" ] || { echo "$dir was created"; exit 1; }
  ]=] ${NG_CLI} ${NG_CLI_DIR}/bad_key.ini ${NG_CLI_DIR}/never)
  set_tests_properties(cli_train_config_error_writes_nothing PROPERTIES TIMEOUT 60)

  # ---- failures: exit status 2 for usage and config errors, 1 for runtime failures ------
  set(never ${NG_CLI_DIR}/never)
  ng_cli_expect(cli_train_bad_key 2 "bad_key\\.ini:4: .*no_such_key"
                train --env CartPole-v1 --config ${NG_CLI_DIR}/bad_key.ini --out ${never})
  ng_cli_expect(cli_train_bad_range 2 "bad_range\\.ini:2: .*gamma"
                train --env CartPole-v1 --config ${NG_CLI_DIR}/bad_range.ini --out ${never})
  ng_cli_expect(cli_train_bad_syntax 2 "bad_syntax\\.ini:2: "
                train --env CartPole-v1 --config ${NG_CLI_DIR}/bad_syntax.ini --out ${never})
  ng_cli_expect(cli_train_bad_section 2 "bad_section\\.ini:2: unknown section \\[ppo\\]"
                train --env CartPole-v1 --config ${NG_CLI_DIR}/bad_section.ini --out ${never})
  ng_cli_expect(cli_train_missing_config 2 "cannot read config file '.*no_such\\.ini'"
                train --env CartPole-v1 --config ${NG_CLI_DIR}/no_such.ini --out ${never})
  ng_cli_expect(cli_train_bad_set 2 "--set: max_kl = -1 is out of range"
                train --env CartPole-v1 --set max_kl=-1 --out ${never})
  ng_cli_expect(cli_train_set_no_equals 2 "--set expects KEY=VALUE, got 'max_kl'"
                train --env CartPole-v1 --set max_kl --out ${never})
  ng_cli_expect(cli_train_set_no_key 2 "--set expects KEY=VALUE, got '=1'"
                train --env CartPole-v1 --set =1 --out ${never})
  ng_cli_expect(cli_train_bad_steps 2 "--steps: .*12x"
                train --env CartPole-v1 --steps 12x --out ${never})
  ng_cli_expect(cli_train_bad_algo 2 "--algo: .*ppo"
                train --env CartPole-v1 --algo ppo --out ${never})
  ng_cli_expect(cli_train_bad_env 2 "unknown environment id 'NoSuchEnv-v0' \\(known: .*CartPole-v1"
                train --env NoSuchEnv-v0 --out ${never})
  ng_cli_expect(cli_train_no_env 2 "no environment: pass --env"
                train --steps 1000 --out ${never})
  ng_cli_expect(cli_train_unwritable 1 "cannot create output folder '/proc/natgrad-test'"
                train --env CartPole-v1 --steps 100000000 --out /proc/natgrad-test)
  ng_cli_expect(cli_train_out_under_file 1 "cannot create output folder '.*bad_key\\.ini/run'"
                train --env CartPole-v1 --steps 100000000 --out ${NG_CLI_DIR}/bad_key.ini/run)
  ng_cli_expect(cli_train_bad_threads 2 "--threads: expected an integer in \\[1, 64\\], got '0'"
                train --env CartPole-v1 --threads 0)
  ng_cli_expect(cli_train_unknown_flag 2 "unknown option '--no-such-flag'"
                train --env CartPole-v1 --no-such-flag)
  ng_cli_expect(cli_train_missing_value 2 "--out needs a value" train --env CartPole-v1 --out)
  ng_cli_expect(cli_train_resume_missing 2 "no checkpoint to resume: '.*nowhere/checkpoint\\.ngc'"
                train --resume ${NG_CLI_DIR}/nowhere)
  ng_cli_expect(cli_train_resume_with_seed 2 "--seed cannot be used with --resume"
                train --resume ${NG_CLI_DIR}/nowhere --seed 3)
  ng_cli_expect(cli_train_resume_fewer_steps 2 "--steps 1024: the run has already taken"
                train --resume ${NG_CLI_RUN} --steps 1024)
  set_tests_properties(cli_train_resume_fewer_steps PROPERTIES FIXTURES_REQUIRED cli_run)
  ng_cli_expect(cli_eval_missing 2 "no checkpoint: '.*nowhere'" eval ${NG_CLI_DIR}/nowhere)
  ng_cli_expect(cli_eval_corrupt 1 "cannot load checkpoint.*corrupt\\.ngc"
                eval ${NG_CLI_DIR}/corrupt.ngc)
  ng_cli_expect(cli_eval_unknown_flag 2 "unknown option '--fast'" eval ${NG_CLI_DIR} --fast)
  ng_cli_expect(cli_eval_bad_episodes 2 "--episodes: expected an integer" eval ${NG_CLI_DIR} --episodes 0)
  ng_cli_expect(cli_eval_no_args 2 "which run\\?" eval)

  # ---- help ------------------------------------------------------------------------------
  ng_cli_expect(cli_train_help 0 "^usage: natgrad train --env ID" train --help)
  ng_cli_expect(cli_train_keys 0 "^  max_kl +[A-Za-z]" train --keys)
  ng_cli_expect(cli_eval_help 0 "^usage: natgrad eval DIR" eval --help)
  ng_cli_expect(cli_help_lists_train 0 "^  train +train a policy" --help)
endif()
