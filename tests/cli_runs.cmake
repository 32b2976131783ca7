# Run folders as an adversary tries them (the holes of issue 17, each now a regression test):
# concurrent writers, another run's checkpoint copied in, a damaged log row, fit's resume
# rules, and the smaller usage holes. POSIX sh in bracket arguments; $0 is the CLI.
if(TARGET natgrad_cli)
  set(NG_RUNS_CLI $<TARGET_FILE:natgrad_cli>)
  set(NG_RUNS_DIR ${CMAKE_BINARY_DIR}/cli_runs)
  file(MAKE_DIRECTORY ${NG_RUNS_DIR})
  set(NG_RUNS_ENV "OPENBLAS_NUM_THREADS=1")

  # 20 trainings into one new folder at once: exactly one runs; every other is refused,
  # naming the owner's PID (or, once the first has finished, saying the folder holds a run);
  # the survivor's log is whole and its checkpoint loads.
  add_test(NAME cli_runs_lock_20 COMMAND sh -c [=[
    dir=$1; rm -rf "$dir" "$dir.out"; mkdir -p "$dir.out"
    i=0; while [ $i -lt 20 ]; do
      ( "$0" train --env CartPole-v1 --steps 20000 --seed $i --threads 1 --eval-episodes 0 \
          --out "$dir/R" --quiet > "$dir.out/$i" 2>&1; echo $? > "$dir.out/$i.rc" ) &
      i=$((i + 1))
    done
    wait
    ok=$(grep -lx 0 "$dir.out"/*.rc | wc -l)
    pid=$(grep -l "in use by another natgrad process (PID [0-9]*)" "$dir.out"/[0-9]* | wc -l)
    held=$(grep -l "already holds a run" "$dir.out"/[0-9]* | wc -l)
    echo "ran: $ok, refused naming a PID: $pid, refused as finished: $held"
    [ "$ok" -eq 1 ] && [ $((pid + held)) -eq 19 ] || { cat "$dir.out"/*; exit 1; }
    [ "$pid" -ge 1 ] || { echo "no attempt met the lock"; exit 1; }
    awk -F, 'NR > 1 && $1 != NR - 1 { print "row " NR ": " $0; bad = 1 } END { exit bad }' \
      "$dir/R/progress.csv" || exit 1
    "$0" eval "$dir/R" --episodes 1 | grep -q "CartPole-v1 after 20480 steps" || exit 1
    # and two long resumes at once: one runs, one is refused, no row twice
    "$0" train --resume "$dir/R" --steps 120000 --quiet > "$dir.out/a" 2>&1 & a=$!
    "$0" train --resume "$dir/R" --steps 120000 --quiet > "$dir.out/b" 2>&1 & b=$!
    wait $a; ra=$?; wait $b; rb=$?
    cat "$dir.out/a" "$dir.out/b"
    [ $((ra + rb)) -eq 1 ] || { echo "resume exit statuses $ra and $rb"; exit 1; }
    awk -F, 'NR > 1 && $1 != NR - 1 { print "row " NR ": " $0; bad = 1 } END { exit bad }' \
      "$dir/R/progress.csv" || exit 1
  ]=] ${NG_RUNS_CLI} ${NG_RUNS_DIR}/lock)
  set_tests_properties(cli_runs_lock_20 PROPERTIES ENVIRONMENT ${NG_RUNS_ENV} TIMEOUT 300
                       RUN_SERIAL TRUE)

  # Another run's checkpoint in a folder: refused by eval and --resume, naming the key;
  # nothing in the folder changes.
  add_test(NAME cli_runs_foreign_checkpoint COMMAND sh -c [=[
    dir=$1; rm -rf "$dir"; mkdir -p "$dir"
    "$0" train --env CartPole-v1 --steps 2048 --eval-episodes 0 --out "$dir/cart" --quiet || exit 1
    "$0" train --env Pendulum-v1 --steps 4096 --eval-episodes 0 --out "$dir/pend" --quiet || exit 1
    cp "$dir/cart/checkpoint.ngc" "$dir/pend/checkpoint.ngc"
    (cd "$dir/pend" && ls -l --time-style=+%s . && md5sum *) > "$dir/before"
    out=$("$0" eval "$dir/pend" 2>&1); rc=$?; echo "$out"
    [ "$rc" -eq 1 ] && echo "$out" | grep -q "belongs to another run.*env = CartPole-v1 in checkpoint.ngc, Pendulum-v1 in config.ini" || exit 1
    out=$("$0" train --resume "$dir/pend" --steps 8192 2>&1); rc=$?; echo "$out"
    [ "$rc" -eq 1 ] && echo "$out" | grep -q "belongs to another run" || exit 1
    (cd "$dir/pend" && ls -l --time-style=+%s . && md5sum *) > "$dir/after"
    cmp "$dir/before" "$dir/after" || { echo "the folder changed"; diff "$dir/before" "$dir/after"; exit 1; }
  ]=] ${NG_RUNS_CLI} ${NG_RUNS_DIR}/foreign)

  # A run folder whose config.ini writes doubles long (%.17g, as natgrad did before it wrote
  # the shortest exact form) is the same run: eval and --resume take it; a value that really
  # differs is still refused.
  add_test(NAME cli_runs_long_numbers COMMAND sh -c [=[
    dir=$1; rm -rf "$dir"; mkdir -p "$dir"
    "$0" train --env CartPole-v1 --steps 2048 --eval-episodes 0 --out "$dir/r" --quiet || exit 1
    grep -qx "gamma = 0.99" "$dir/r/config.ini" && grep -qx "gae_lambda = 0.98" "$dir/r/config.ini" || exit 1
    sed -i 's/^gamma = 0.99$/gamma = 0.98999999999999999/; s/^gae_lambda = 0.98$/gae_lambda = 0.97999999999999998/' "$dir/r/config.ini"
    "$0" eval "$dir/r" --episodes 1 > /dev/null || exit 1
    "$0" train --resume "$dir/r" --steps 4096 --quiet || exit 1
    sed -i 's/^gamma = .*/gamma = 0.98/' "$dir/r/config.ini"
    out=$("$0" eval "$dir/r" --episodes 1 2>&1); rc=$?; echo "$out"
    [ "$rc" -eq 1 ] && echo "$out" | grep -q "belongs to another run.*gamma = 0.99 in checkpoint.ngc, 0.98 in config.ini" || exit 1
  ]=] ${NG_RUNS_CLI} ${NG_RUNS_DIR}/long_numbers)

  # A damaged row in the middle of progress.csv: --resume refuses it naming the line,
  # instead of dropping the good rows after it; the log is left as it was.
  add_test(NAME cli_runs_damaged_log_row COMMAND sh -c [=[
    dir=$1; rm -rf "$dir"
    "$0" train --env CartPole-v1 --steps 4096 --set n_steps=256 --eval-episodes 0 --out "$dir" --quiet || exit 1
    sed -i '6s/^5,/5,x,/' "$dir/progress.csv"; cp "$dir/progress.csv" "$dir/before.csv"
    out=$("$0" train --resume "$dir" --steps 8192 2>&1); rc=$?; echo "$out"
    [ "$rc" -eq 1 ] && echo "$out" | grep -q "progress.csv:6: malformed row" || exit 1
    cmp "$dir/progress.csv" "$dir/before.csv" || exit 1
  ]=] ${NG_RUNS_CLI} ${NG_RUNS_DIR}/damaged)

  # fit: --resume trains to the run's own total; --epochs below what is done is refused;
  # the data path is absolute, so a resume works from another folder; a damaged latest
  # checkpoint falls back to the previous one; a failed set-up leaves no folder.
  add_test(NAME cli_runs_fit_resume_rules COMMAND sh -c [=[
    dir=$1; rm -rf "$dir"; mkdir -p "$dir/data" "$dir/else"
    awk 'BEGIN { srand(3); for (i = 0; i < 90; i++) printf "%.4f,%.4f,%d\n", rand() + i % 3, rand(), i % 3 }' > "$dir/data/t.csv"
    (cd "$dir/data" && "$0" fit --data t.csv --model auto-8-auto --epochs 4 --batch 10 --out ../run -q) || exit 1
    (cd "$dir/data" && "$0" fit --data t.csv --model auto-8-auto --epochs 2 --batch 10 --out ../short -q) || exit 1
    # resumed from another folder, to its own total (2), then to 4: the same as straight
    (cd "$dir/else" && "$0" fit --resume ../short -q) || exit 1
    [ "$(tail -n 1 "$dir/short/progress.csv" | cut -d, -f1)" -eq 2 ] || { echo "not the run's own total"; exit 1; }
    out=$("$0" fit --resume "$dir/short" --epochs 1 2>&1); rc=$?; echo "$out"
    [ "$rc" -eq 2 ] && echo "$out" | grep -q -- "--epochs 1: the run has already trained 2 epochs" || exit 1
    (cd "$dir/else" && "$0" fit --resume ../short --epochs 4 -q) || exit 1
    cut -d, -f1,2,4-9,11,12 "$dir/run/progress.csv" > "$dir/a"; cut -d, -f1,2,4-9,11,12 "$dir/short/progress.csv" > "$dir/b"
    cmp "$dir/a" "$dir/b" || { diff "$dir/a" "$dir/b"; exit 1; }
    printf 'x' | dd of="$dir/short/checkpoint.ngc" bs=1 seek=200 conv=notrunc 2>/dev/null
    out=$("$0" fit --resume "$dir/short" --epochs 5 2>&1); rc=$?; echo "$out"
    [ "$rc" -eq 0 ] && echo "$out" | grep -q "using the previous one, '.*checkpoint.prev.ngc' (epoch 3, batch 0)" || exit 1
    # another fit run's checkpoint is refused, naming what differs
    cp "$dir/run/checkpoint.ngc" "$dir/short/checkpoint.ngc"
    out=$("$0" fit --resume "$dir/short" --epochs 6 2>&1); rc=$?; echo "$out"
    [ "$rc" -eq 1 ] && echo "$out" | grep -q "belongs to another run.*epochs\|belongs to another run" || exit 1
    # killed before its first checkpoint: not a run yet, so a new run may start there, and
    # --resume says there is nothing to resume
    mkdir -p "$dir/killed"; cp "$dir/run/config.ini" "$dir/killed/"; head -n 2 "$dir/run/progress.csv" > "$dir/killed/progress.csv"
    out=$("$0" fit --resume "$dir/killed" 2>&1); rc=$?; echo "$out"
    [ "$rc" -eq 2 ] && echo "$out" | grep -q "no checkpoint to resume" || exit 1
    "$0" fit --data "$dir/data/t.csv" --model auto-8-auto --epochs 1 --batch 10 --out "$dir/killed" -q || exit 1
    # a model spec that does not parse is refused before the folder is looked at (not
    # "holds a run"); one that does not fit the data is found after the folder is made: it
    # is removed
    out=$("$0" fit --data "$dir/data/t.csv" --model 5--3 --out "$dir/killed" 2>&1); rc=$?
    [ "$rc" -eq 2 ] && echo "$out" | grep -q "not a list of layer widths" || { echo "$out"; exit 1; }
    out=$("$0" fit --data "$dir/data/t.csv" --model 5-8-3 --out "$dir/never" 2>&1); rc=$?
    [ "$rc" -eq 2 ] && [ ! -e "$dir/never" ] || { echo "rc $rc; $out"; ls -la "$dir/never"; exit 1; }
  ]=] ${NG_RUNS_CLI} ${NG_RUNS_DIR}/fit)
  file(CREATE_LINK loop_b ${NG_RUNS_DIR}/loop_a SYMBOLIC)
  file(CREATE_LINK loop_a ${NG_RUNS_DIR}/loop_b SYMBOLIC)
  file(WRITE ${NG_RUNS_DIR}/one_row.csv "1,2,0\n")
  file(WRITE ${NG_RUNS_DIR}/rows.csv "1,2,0\n3,4,1\n5,6,0\n7,8,1\n9,1,0\n2,3,1\n")
  ng_cli_expect(cli_runs_out_empty 2 "--out: run folder: empty path"
                train --env CartPole-v1 --out=)
  ng_cli_expect(cli_runs_eval_symlink_loop 2 "loop_a' Too many levels of symbolic links"
                eval ${NG_RUNS_DIR}/loop_a)
  ng_cli_expect(cli_runs_resume_symlink_loop 1 "loop_a': Too many levels of symbolic links"
                train --resume ${NG_RUNS_DIR}/loop_a)
  foreach(spec 16--10 -16-8-10 16-8-10-) # a folder each: ctest -j runs them side by side
    ng_cli_expect(cli_runs_fit_model_${spec} 2 "is not a list of layer widths"
                  fit --data ${NG_RUNS_DIR}/rows.csv --model=${spec} --out ${NG_RUNS_DIR}/m${spec})
  endforeach()
  ng_cli_expect(cli_runs_fit_one_row 1 "data rows? \\(after any header line\\): at least 2"
                fit --data ${NG_RUNS_DIR}/one_row.csv --out ${NG_RUNS_DIR}/one)
endif()

# A fit run written before run folders (tests/data/fit-old: kfac.ckpt and kfac.csv side by
# side, made by natgrad 09b15b1 with `fit --data t.csv --model auto-4-auto --epochs 2
# --batch 4 --out runs`): --resume refuses the folder with the commands that move the run
# into a folder of its own; after them it resumes, and equals a run trained straight.
if(TARGET natgrad_cli)
  add_test(NAME cli_runs_fit_old_layout COMMAND sh -c [=[
    src=$1; dir=$2; rm -rf "$dir"; mkdir -p "$dir/runs"
    cp "$src/t.csv" "$dir/"; cp "$src/kfac.ckpt" "$src/kfac.csv" "$dir/runs/"
    cd "$dir" || exit 1
    out=$("$0" fit --resume runs 2>&1); rc=$?; echo "$out"
    [ "$rc" -eq 2 ] || exit 1
    cmd=$(echo "$out" | sed -n "s/.*To continue 'kfac': \(.*\), then natgrad fit --resume .*/\1/p")
    [ -n "$cmd" ] || { echo "no commands in the message"; exit 1; }
    sh -c "$cmd" || exit 1
    "$0" fit --resume runs/kfac --epochs 4 -q || exit 1
    "$0" fit --data t.csv --model auto-4-auto --epochs 4 --batch 4 --out straight -q || exit 1
    cut -d, -f1,2,4-9,11,12 runs/kfac/progress.csv > a; cut -d, -f1,2,4-9,11,12 straight/progress.csv > b
    cmp a b || { diff a b; exit 1; }
  ]=] ${NG_RUNS_CLI} ${CMAKE_SOURCE_DIR}/tests/data/fit-old ${NG_RUNS_DIR}/old)
  set_tests_properties(cli_runs_fit_old_layout PROPERTIES ENVIRONMENT ${NG_RUNS_ENV} TIMEOUT 60)
endif()
