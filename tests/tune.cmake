# natgrad tune (cli/cmd_tune.c, docs/tuning.md): its space parser, sampling and halving as a
# unit test, and the command end to end on CartPole-v1 with tiny budgets: the results do not
# depend on --workers, a tune killed with SIGKILL resumes to the uninterrupted one's results
# (both with one training seed per trial and with --trial-seeds 2), the promotions are the top
# 1/eta of each rung, best.ini trains, a trial on several seeds scores their runs' mean, and
# every bad input is a one-line error with exit status 2. Every name starts with tune_
# (ctest -R tune).
if(TARGET natgrad_cli)
  add_executable(tune_unit ${CMAKE_SOURCE_DIR}/tests/tune_unit.c
                           ${CMAKE_SOURCE_DIR}/cli/tune_space.c ${CMAKE_SOURCE_DIR}/cli/run_dir.c)
  target_include_directories(tune_unit PRIVATE ${CMAKE_SOURCE_DIR}/cli ${CMAKE_SOURCE_DIR}/tests
                                               ${CBLAS_INCLUDE_DIR})
  target_link_libraries(tune_unit PRIVATE natgrad)
  add_test(NAME tune_unit COMMAND tune_unit)

  set(NG_TUNE_CLI $<TARGET_FILE:natgrad_cli>)
  set(NG_TUNE_DIR ${CMAKE_BINARY_DIR}/cli_tune)
  file(MAKE_DIRECTORY ${NG_TUNE_DIR})
  # trials.csv without its wall-clock column, then every trial's checkpoint, best.ini and
  # tune.svg: what two tunes must agree on byte for byte
  set(NG_TUNE_RESULTS [=[
    results() { d=$1
      awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) w[i] = ($i == "wall_s") }
               { o = ""; for (i = 1; i <= NF; i++) if (!w[i]) o = o "," $i; print o }' \
        "$d/trials.csv"
      cat "$d/best.ini" "$d/tune.svg" | md5sum
      for c in "$d"/trials/*/checkpoint.ngc; do echo "${c#$d/}"; md5sum < "$c"; done
    }
  ]=])
  set(NG_TUNE_ARGS --env CartPole-v1 --trials 6 --steps 16000 --min-steps 2000 --eta 2
                   --set n_steps=256 --seed 5 -q)

  # W = 1 and W = 2: the same rows, checkpoints, best.ini and plot.
  set(NG_TUNE_WORKERS_SH [=[
    dir=$1; shift; rm -rf "$dir"
    "$0" tune "$@" --workers 1 --out "$dir/w1" || exit 1
    "$0" tune "$@" --workers 2 --out "$dir/w2" || exit 1
    results "$dir/w1" > "$dir/w1.txt"; results "$dir/w2" > "$dir/w2.txt"
    cat "$dir/w1/trials.csv"
    [ "$(grep -c . "$dir/w1.txt")" -gt 10 ] || { echo "too few results"; exit 1; }
    diff "$dir/w1.txt" "$dir/w2.txt" || { echo "W = 1 and W = 2 differ"; exit 1; }
  ]=])
  add_test(NAME tune_workers_same COMMAND sh -c "${NG_TUNE_RESULTS}${NG_TUNE_WORKERS_SH}"
           ${NG_TUNE_CLI} ${NG_TUNE_DIR}/workers ${NG_TUNE_ARGS})

  # SIGKILL once the first rung is written (trials of the second are training), and again in
  # the last rung: --resume ends with the uninterrupted tune's rows, checkpoints, best.ini
  # and plot; a torn row is cut.
  set(NG_TUNE_RESUME_SH [=[
    dir=$1; shift; rm -rf "$dir"
    "$0" tune "$@" --workers 2 --out "$dir/straight" || exit 1
    "$0" tune "$@" --workers 2 --out "$dir/killed" & pid=$!
    i=0; while [ "$(cat "$dir/killed/trials.csv" 2>/dev/null | wc -l)" -lt 2 ] && [ $i -lt 600 ]; do
      sleep 0.05; i=$((i + 1)); done
    kill -9 $pid; wait $pid
    [ -e "$dir/killed/best.ini" ] && { echo "the tune ended before the kill"; exit 1; }
    rows=$(wc -l < "$dir/killed/trials.csv"); echo "killed with $rows lines in trials.csv"
    printf '99,1,' >> "$dir/killed/trials.csv" # a torn row, as a kill mid-write leaves
    # killed again in the last rung, whose trial resumes from a checkpoint taken mid-rung
    "$0" tune --resume "$dir/killed" --workers 2 & pid=$!
    i=0; while [ "$(wc -l < "$dir/killed/trials.csv")" -lt 11 ] && [ $i -lt 600 ]; do
      sleep 0.05; i=$((i + 1)); done
    sleep 0.3; kill -9 $pid; wait $pid
    [ -e "$dir/killed/best.ini" ] && echo "(the second kill came after the end)"
    "$0" tune --resume "$dir/killed" --workers 2 || exit 1
    results "$dir/straight" > "$dir/straight.txt"; results "$dir/killed" > "$dir/killed.txt"
    diff "$dir/straight.txt" "$dir/killed.txt" || { echo "resumed differs from straight"; exit 1; }
    # resuming a finished tune trains nothing and changes nothing
    "$0" tune --resume "$dir/killed" -q || exit 1
    results "$dir/killed" | diff "$dir/straight.txt" - || exit 1
  ]=])
  add_test(NAME tune_kill_resume COMMAND sh -c "${NG_TUNE_RESULTS}${NG_TUNE_RESUME_SH}"
           ${NG_TUNE_CLI} ${NG_TUNE_DIR}/resume ${NG_TUNE_ARGS})
  # The same two with each trial trained on 2 seeds: its runs are the workers' units, and
  # a resumed tune promotes on the per-seed scores trials.csv holds.
  add_test(NAME tune_seeds_workers_same COMMAND sh -c "${NG_TUNE_RESULTS}${NG_TUNE_WORKERS_SH}"
           ${NG_TUNE_CLI} ${NG_TUNE_DIR}/seeds_workers ${NG_TUNE_ARGS} --trial-seeds 2)
  add_test(NAME tune_seeds_kill_resume COMMAND sh -c "${NG_TUNE_RESULTS}${NG_TUNE_RESUME_SH}"
           ${NG_TUNE_CLI} ${NG_TUNE_DIR}/seeds_resume ${NG_TUNE_ARGS} --trial-seeds 2)
  set_tests_properties(tune_workers_same tune_kill_resume tune_seeds_workers_same
                       tune_seeds_kill_resume PROPERTIES TIMEOUT 300
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1")

  # --trial-seeds 3: trial t's runs are trials/TTT, TTT-s1, TTT-s2 on seeds 100 + 3t + j;
  # each row's score_sJ is what `natgrad eval` prints for run j and its score is their mean;
  # best.ini is the best trial's first run's config. A trial with a failed run scores nan.
  add_test(NAME tune_seeds_mean COMMAND sh -c [=[
    dir=$1; rm -rf "$dir"
    "$0" tune --env CartPole-v1 --trials 3 --steps 3000 --min-steps 1000 --eta 3 \
      --set n_steps=256 --trial-seeds 3 --seed 1 --out "$dir/t" -q || exit 1
    csv=$dir/t/trials.csv; cat "$csv"
    head -n 1 "$csv" | grep -q '^row,trial,rung,steps,score,score_s0,score_s1,score_s2,max_kl,' ||
      { echo "no per-seed columns"; exit 1; }
    [ "$(awk -F, 'NR > 1 && $3 == 0' "$csv" | wc -l)" -eq 3 ] || { echo "not 3 trials"; exit 1; }
    awk -F, 'NR > 1 { m = ($6 + $7 + $8) / 3; d = $5 - m; if (d * d > 1e-18) bad = 1 }
             END { exit bad }' "$csv" || { echo "a score is not its runs' mean"; exit 1; }
    grep -q "^seed = 105$" "$dir/t/trials/001-s2/config.ini" || { echo "trial 1 seed 2"; exit 1; }
    best=$(awk -F, 'NR > 1 && $3 == 1 { print $2 }' "$csv")
    grep -q "^seed = $((100 + 3 * best))$" "$dir/t/best.ini" || { echo "not $best's"; exit 1; }
    grep -q "seeds $((100 + 3 * best))-$((102 + 3 * best))" "$dir/t/best.ini" || exit 1
    grep -q "trials x 3 seeds" "$dir/t/tune.svg" || { echo "tune.svg: no seeds"; exit 1; }
    for j in 0 1 2; do
      run=$dir/t/trials/$(printf %03d "$best")$([ "$j" -gt 0 ] && echo "-s$j")
      want=$("$0" eval "$run" | sed 's/.*mean return \([-0-9.]*\) .*/\1/')
      got=$(awk -F, -v c=$((6 + j)) 'NR > 1 && $3 == 1 { printf "%.2f", $c }' "$csv")
      [ "$got" = "$want" ] || { echo "$run: trials.csv $got, natgrad eval $want"; exit 1; }
    done
    # one failed run fails its trial: trial 0's second run cannot make its folder (exit 1),
    # so trial 0 scores nan though its first run scored, and is not promoted
    mkdir -p "$dir/f/trials"; touch "$dir/f/trials/000-s1"
    "$0" tune --env CartPole-v1 --trials 3 --steps 3000 --min-steps 1000 --eta 3 \
      --set n_steps=256 --trial-seeds 2 --seed 1 --out "$dir/f" -q || exit 1
    csv=$dir/f/trials.csv; cat "$csv"
    awk -F, 'NR > 1 && $2 == 0 && $3 == 0 && $5 == "nan" && $6 != "nan" && $7 == "nan"' \
      "$csv" | grep -q . || { echo "trial 0 is not nan with one run failed"; exit 1; }
    awk -F, 'NR > 1 && $3 == 1 && $2 == 0' "$csv" | grep -q . && { echo "promoted"; exit 1; }
    exit 0
  ]=] ${NG_TUNE_CLI} ${NG_TUNE_DIR}/seeds_mean)
  set_tests_properties(tune_seeds_mean PROPERTIES TIMEOUT 120
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1")

  # Successive halving's bookkeeping: 9 trials at eta 3 give 9, 3 and 1 rows per rung; rung
  # 2's are rung 1's top 3 by score (ties to the lower trial), rung 3's is rung 2's best, and
  # best.ini is that trial's config (seed 100 + trial); it trains and evaluates, and
  # --report-seeds trains it on seeds 0-9, scoring each as `natgrad eval` does.
  add_test(NAME tune_halving_best COMMAND sh -c [=[
    dir=$1; rm -rf "$dir"
    "$0" tune --env CartPole-v1 --trials 9 --steps 4500 --min-steps 500 --set n_steps=256 \
      --seed 2 --out "$dir/t" -q || exit 1
    csv=$dir/t/trials.csv; cat "$csv"
    top() { awk -F, -v k=$1 'NR > 1 && $3 == k { print $5, $2 }' "$csv" | sort -k1,1gr -k2,2n |
            head -n $2 | awk '{ print $2 }' | sort -n | tr '\n' ' '; }
    in_rung() { awk -F, -v k=$1 'NR > 1 && $3 == k { print $2 }' "$csv" | tr '\n' ' '; }
    n0=$(in_rung 0 | wc -w); n1=$(in_rung 1 | wc -w); n2=$(in_rung 2 | wc -w)
    echo "rows per rung: $n0 $n1 $n2; rung 1 top 3: $(top 0 3); rung 2: $(in_rung 1)"
    [ "$n0" -eq 9 ] && [ "$n1" -eq 3 ] && [ "$n2" -eq 1 ] || exit 1
    [ "$(top 0 3)" = "$(in_rung 1)" ] || { echo "rung 2 is not rung 1's top 3"; exit 1; }
    [ "$(top 1 1)" = "$(in_rung 2)" ] || { echo "rung 3 is not rung 2's best"; exit 1; }
    best=$(in_rung 2 | tr -d ' ')
    grep -q "^seed = $((100 + best))$" "$dir/t/best.ini" || { echo "not trial $best's"; exit 1; }
    grep -q "trial $best's" "$dir/t/best.ini" || exit 1
    grep -q "best: trial $best" "$dir/t/tune.svg" || { echo "no best in tune.svg"; exit 1; }
    "$0" train --config "$dir/t/best.ini" --seed 0 --steps 1024 --out "$dir/report" -q || exit 1
    "$0" eval "$dir/report" --episodes 2 | grep -q "CartPole-v1 after 1024 steps" || exit 1
    # --report-seeds on the finished tune: best.ini on seeds 0-9, scored as natgrad eval does
    "$0" tune --resume "$dir/t" --report-seeds --workers 2 | tail -n 2 || exit 1
    r=$dir/t/report.csv; cat "$r"
    [ "$(awk -F, 'NR > 1 && $1 == NR - 2' "$r" | wc -l)" -eq 10 ] || { echo "not seeds 0-9"; exit 1; }
    grep -q "^seed = 3$" "$dir/t/report/s3/config.ini" || exit 1
    sed '/^seed = /d; /^#/d' "$dir/t/best.ini" > "$dir/best.txt"
    sed '/^seed = /d; /^#/d' "$dir/t/report/s3/config.ini" | diff "$dir/best.txt" - || exit 1
    want=$("$0" eval "$dir/t/report/s3" | sed 's/.*mean return \([-0-9.]*\) .*/\1/')
    got=$(awk -F, '$1 == 3 { printf "%.2f", $3 }' "$r")
    [ "$got" = "$want" ] || { echo "seed 3: report.csv $got, natgrad eval $want"; exit 1; }
    # resumed once more, the tune points at its report rather than at how to run one
    out=$("$0" tune --resume "$dir/t" | tail -n 1); echo "$out"
    echo "$out" | grep -q "^report:  $dir/t/report.csv" || exit 1
  ]=] ${NG_TUNE_CLI} ${NG_TUNE_DIR}/halving)
  set_tests_properties(tune_halving_best PROPERTIES TIMEOUT 300
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1")

  # Bad input from files and folders: the space's unknown key and out-of-range bound name
  # the file and line; a folder holding a tune is not overwritten without --force (which
  # starts over); a trial whose config cannot be valid is refused before anything runs.
  add_test(NAME tune_errors_files COMMAND sh -c [=[
    dir=$1; rm -rf "$dir"; mkdir -p "$dir"
    expect() { want=$1; re=$2; shift 2; out=$("$0" tune "$@" 2>&1); rc=$?; echo "$out"
      [ "$rc" -eq "$want" ] && echo "$out" | grep -Eq -- "$re" ||
        { echo "expected $want and /$re/, got $rc"; exit 1; }; }
    a="--env CartPole-v1 --trials 2 --steps 1024 --set n_steps=256"
    printf '# space\nmax_kl = loguniform(0.001, 0.1)\nmax_kll = uniform(0, 1)\n' > "$dir/s1"
    expect 2 "--space: .*s1:3: unknown key 'max_kll'" $a --space "$dir/s1" --out "$dir/x"
    printf 'gamma = uniform(0.9, 1.2)\n' > "$dir/s2"
    expect 2 "s2:1: gamma = 1.2 is out of range \[0, 1\]" $a --space "$dir/s2" --out "$dir/x"
    expect 2 "--space: .*(cannot|no such|not found)" $a --space "$dir/none" --out "$dir/x"
    printf '# only a comment\n\n' > "$dir/s0"
    expect 2 "--space .*s0: nothing to search: the file has no .key = DIST. line$" \
      $a --space "$dir/s0" --out "$dir/x"
    printf 'gamma = choice(0.9, 0.99)\n' > "$dir/s4"
    expect 2 "nothing to search: every key of the space is fixed by --set" \
      $a --space "$dir/s4" --set gamma=0.9 --out "$dir/x"
    [ -e "$dir/x" ] && { echo "a refused tune left a folder"; exit 1; }
    expect 2 "trial 0's config is not valid.*vf_minibatch" $a --set vf_minibatch=600 --out "$dir/x"
    printf 'gamma = choice(0.9, 0.99)\n' > "$dir/s3"
    expect 0 "best: trial" $a --space "$dir/s3" --out "$dir/t"
    expect 2 "already holds a tune; continue it with --resume" $a --space "$dir/s3" --out "$dir/t"
    cp "$dir/t/trials.csv" "$dir/before.csv"
    expect 0 "best: trial" $a --seed 1 --force --out "$dir/t"
    cmp -s "$dir/t/trials.csv" "$dir/before.csv" && { echo "--force did not start over"; exit 1; }
    grep -q "^seed = 1$" "$dir/t/tune.ini" || exit 1
    expect 2 "--env cannot be used with --resume" --resume "$dir/t" --env CartPole-v1
    expect 2 "--trial-seeds cannot be used with --resume" --resume "$dir/t" --trial-seeds 2
    expect 2 "no tune to continue" --resume "$dir/none"
    exit 0
  ]=] ${NG_TUNE_CLI} ${NG_TUNE_DIR}/errors)
  set_tests_properties(tune_errors_files PROPERTIES TIMEOUT 120
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1")

  # Bad flags: one-line errors, exit status 2.
  ng_cli_expect(tune_err_trials 2 "--trials: expected an integer in \\[1, 10000\\]"
                tune --env CartPole-v1 --trials 0 --steps 100)
  ng_cli_expect(tune_err_min_steps 2 "--min-steps 200 is above --steps 100"
                tune --env CartPole-v1 --trials 2 --steps 100 --min-steps 200)
  ng_cli_expect(tune_err_no_steps 2 "--steps S is required" tune --env CartPole-v1 --trials 2)
  ng_cli_expect(tune_err_no_env 2 "no environment: pass --env" tune --trials 2 --steps 100)
  ng_cli_expect(tune_err_env 2 "unknown environment id 'Nope-v0'"
                tune --env Nope-v0 --trials 2 --steps 100)
  ng_cli_expect(tune_err_trial_seeds 2 "--trial-seeds: expected an integer in \\[1, 10000\\]"
                tune --env CartPole-v1 --trials 2 --steps 100 --trial-seeds 0)
  ng_cli_expect(tune_err_trial_seeds_runs 2
                "--trials 5000 with --trial-seeds 3 is 15000 runs per rung, above 10000"
                tune --env CartPole-v1 --trials 5000 --steps 100 --trial-seeds 3)
  ng_cli_expect(tune_err_eta 2 "--eta: expected an integer in \\[2, 1000\\]"
                tune --env CartPole-v1 --trials 2 --steps 100 --eta 1)
  ng_cli_expect(tune_err_set_seed 2 "--set seed: set by the tune itself"
                tune --env CartPole-v1 --trials 2 --steps 100 --set seed=3)
  ng_cli_expect(tune_err_set_bad 2 "--set max_kl=-1: max_kl = -1 is out of range"
                tune --env CartPole-v1 --trials 2 --steps 100 --set max_kl=-1)
  ng_cli_expect(tune_err_algo 2 "--algo: " tune --env CartPole-v1 --algo ppo --trials 2 --steps 100)
  ng_cli_expect(tune_err_unknown 2 "unknown option '--fast'" tune --fast)
  ng_cli_expect(tune_show_space 0 "^init_log_std = uniform"
                tune --env Pendulum-v1 --algo npg --show-space)
  ng_cli_expect(tune_help 0 "usage: natgrad tune" tune --help)

  # Every space docs/tuning.md's commands pass (bench/spaces/ENV-ALGO[-what].ini, ENV the
  # id in lower case) is read against its task and algorithm, as a tune starting from it
  # would: a key, range or distribution the library refuses fails here, not an hour into a
  # tune.
  if(NG_HAVE_MUJOCO)
    add_test(NAME tune_shipped_spaces COMMAND sh -c [=[
      n=0; ids=$("$0" list --ids) || exit 1
      for f in "$1"/*.ini; do
        name=$(basename "$f" .ini)
        env=$(printf '%s\n' "$ids" | while read -r id; do
          case $name in "$(echo "$id" | tr A-Z a-z)"-*) echo "$id" ;; esac; done)
        [ -n "$env" ] || { echo "$f: no environment id starts its name"; exit 1; }
        algo=$(echo "${name#*-v[0-9]-}" | sed 's/-.*//')
        keys=$(grep -c '^[a-z_]* = ' "$f")
        out=$("$0" tune --env "$env" --algo "$algo" --space "$f" --show-space) ||
          { echo "$f ($env, $algo) refused"; exit 1; }
        [ "$keys" -gt 0 ] && [ "$(printf '%s\n' "$out" | grep -c ' = ')" -eq "$keys" ] ||
          { echo "$f: $keys keys in the file, read as:"; echo "$out"; exit 1; }
        echo "$name: $env, $algo, $keys keys"; n=$((n + 1))
      done
      [ "$n" -gt 0 ] || { echo "no space in $1"; exit 1; }
    ]=] ${NG_TUNE_CLI} ${CMAKE_SOURCE_DIR}/bench/spaces)
  endif()
endif()
