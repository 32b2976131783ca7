# CTest registrations for interrupted runs and damaged checkpoints at the CLI: SIGTERM
# stops a run cleanly with a final checkpoint; a damaged latest checkpoint falls back to
# the previous one (eval and --resume, with a warning), and the resumed run still equals an
# uninterrupted one; a damaged checkpoint with no previous one is a clear error; --force
# clears every checkpoint. (The crash test with SIGKILL is scripts/crash_test.sh.)
if(TARGET natgrad_cli)
  set(NG_ROB_CLI $<TARGET_FILE:natgrad_cli>)
  set(NG_ROB_DIR ${CMAKE_BINARY_DIR}/cli_robustness)
  file(MAKE_DIRECTORY ${NG_ROB_DIR})

  # SIGTERM: the current iteration finishes, a checkpoint matching the log is saved, the
  # exit status is 143 (128 + 15) and the message says how to resume.
  add_test(NAME cli_train_sigterm COMMAND sh -c [=[
    dir=$1; rm -rf "$dir" "$dir.out"
    "$0" train --env CartPole-v1 --steps 100000000 --out "$dir" > "$dir.out" 2>&1 &
    pid=$!; i=0
    while [ "$i" -lt 1200 ]; do
      [ -f "$dir/progress.csv" ] && [ "$(wc -l < "$dir/progress.csv")" -ge 3 ] && break
      sleep 0.1; i=$((i + 1))
    done
    kill -TERM "$pid"; wait "$pid"; rc=$?
    cat "$dir.out"
    [ "$rc" -eq 143 ] || { echo "exit status $rc, expected 143"; exit 1; }
    grep -q "stopping after this iteration" "$dir.out" || exit 1
    grep -q -- "natgrad train --resume $dir" "$dir.out" || exit 1
    steps=$(tail -n 1 "$dir/progress.csv" | cut -d, -f2)
    "$0" eval "$dir/checkpoint.ngc" --episodes 1 | grep -q " after $steps steps" ||
      { echo "checkpoint is not at $steps steps"; exit 1; }
    "$0" train --resume "$dir" --steps $((steps + 2048)) --quiet || { echo "resume failed"; exit 1; }
  ]=] ${NG_ROB_CLI} ${NG_ROB_DIR}/sigterm)
  set_tests_properties(cli_train_sigterm PROPERTIES ENVIRONMENT "OPENBLAS_NUM_THREADS=1"
                       TIMEOUT 180)

  # A run with a checkpoint after every iteration: 4 iterations of 512 steps, so the latest
  # checkpoint is at 2048 steps and the previous one at 1536.
  add_test(NAME cli_robust_run COMMAND sh -c [=[
    dir=$1; rm -rf "$dir"
    "$0" train --env CartPole-v1 --steps 2048 --set n_steps=256 --seed 4 --checkpoint-every 1 \
      --eval-episodes 0 --out "$dir" --quiet || exit 1
    for f in checkpoint.ngc checkpoint.prev.ngc; do
      [ -s "$dir/$f" ] || { echo "missing: $dir/$f"; exit 1; }
    done
    "$0" eval "$dir/checkpoint.prev.ngc" --episodes 1 | grep -q " after 1536 steps" || exit 1
  ]=] ${NG_ROB_CLI} ${NG_ROB_DIR}/run)
  set_tests_properties(cli_robust_run PROPERTIES FIXTURES_SETUP robust_run
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1" TIMEOUT 120)

  # A flipped byte in the latest checkpoint: eval and --resume use the previous one and say
  # so; eval leaves the files alone, --resume sets the damaged one aside; the resumed run
  # equals one trained straight through.
  add_test(NAME cli_resume_falls_back COMMAND sh -c [=[
    src=$1; dir=$2; straight=$3
    rm -rf "$dir" "$straight"; cp -R "$src" "$dir" || exit 1
    printf 'x' | dd of="$dir/checkpoint.ngc" bs=1 seek=300 conv=notrunc 2>/dev/null
    out=$("$0" eval "$dir" --episodes 1 2>&1); rc=$?; printf '%s\n' "$out"
    [ "$rc" -eq 0 ] || { echo "eval exit status $rc"; exit 1; }
    printf '%s\n' "$out" | grep -q "warning: the latest checkpoint is unusable (.*corrupted" || exit 1
    printf '%s\n' "$out" | grep -q " after 1536 steps" || exit 1
    [ ! -e "$dir/checkpoint.damaged.ngc" ] || { echo "eval moved a file"; exit 1; }
    out=$("$0" eval "$dir/checkpoint.ngc" 2>&1); rc=$?; printf '%s\n' "$out"
    [ "$rc" -eq 1 ] && printf '%s\n' "$out" | grep -q "corrupted (CRC-32" || exit 1
    out=$("$0" train --resume "$dir" --steps 3072 --quiet 2>&1); rc=$?; printf '%s\n' "$out"
    [ "$rc" -eq 0 ] || { echo "resume exit status $rc"; exit 1; }
    printf '%s\n' "$out" | grep -q "using the previous one, '.*checkpoint.prev.ngc' (iteration 3); the damaged file is kept as '.*checkpoint.damaged.ngc'" || exit 1
    [ -s "$dir/checkpoint.damaged.ngc" ] || exit 1
    "$0" train --env CartPole-v1 --steps 3072 --set n_steps=256 --seed 4 --eval-episodes 0 \
      --out "$straight" --quiet || exit 1
    cut -d, -f1-14 "$dir/progress.csv" > "$dir/a.csv"
    cut -d, -f1-14 "$straight/progress.csv" > "$dir/b.csv"
    cmp "$dir/a.csv" "$dir/b.csv" || { echo "fallback resume differs:"; diff "$dir/a.csv" "$dir/b.csv"; exit 1; }
  ]=] ${NG_ROB_CLI} ${NG_ROB_DIR}/run ${NG_ROB_DIR}/fallback ${NG_ROB_DIR}/straight)
  set_tests_properties(cli_resume_falls_back PROPERTIES FIXTURES_REQUIRED robust_run
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1" TIMEOUT 180)

  # What a kill can leave behind: temporary files of a checkpoint write and of the
  # previous-checkpoint rotation, and (where the rotation had to copy) no latest file yet.
  # --resume uses the previous checkpoint, says why, and the next saves clean up.
  add_test(NAME cli_resume_after_torn_save COMMAND sh -c [=[
    src=$1; dir=$2; rm -rf "$dir"; cp -R "$src" "$dir" || exit 1
    head -c 5000 "$src/checkpoint.ngc" > "$dir/checkpoint.ngc.tmp"
    head -c 700 "$src/checkpoint.ngc" > "$dir/checkpoint.prev.ngc.tmp"
    rm "$dir/checkpoint.ngc"
    out=$("$0" train --resume "$dir" --steps 3072 --checkpoint-every 1 --quiet 2>&1); rc=$?
    printf '%s\n' "$out"
    [ "$rc" -eq 0 ] || { echo "exit status $rc"; exit 1; }
    printf '%s\n' "$out" | grep -q "checkpoint.ngc' is missing); using the previous one" || exit 1
    for f in checkpoint.ngc.tmp checkpoint.prev.ngc.tmp; do
      [ ! -e "$dir/$f" ] || { echo "$f left behind"; exit 1; }
    done
    "$0" eval "$dir/checkpoint.ngc" --episodes 1 | grep -q " after 3072 steps" || exit 1
    "$0" eval "$dir/checkpoint.prev.ngc" --episodes 1 | grep -q " after 2560 steps" || exit 1
    awk -F, 'NR > 1 && $1 != NR - 1 { print "bad row " NR ": " $0; bad = 1 } END { exit bad }' \
      "$dir/progress.csv" || exit 1
  ]=] ${NG_ROB_CLI} ${NG_ROB_DIR}/run ${NG_ROB_DIR}/torn)
  set_tests_properties(cli_resume_after_torn_save PROPERTIES FIXTURES_REQUIRED robust_run
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1" TIMEOUT 60)

  # Damaged with nothing to fall back to: a clear error, exit status 1, nothing changed.
  add_test(NAME cli_resume_damaged_no_prev COMMAND sh -c [=[
    src=$1; dir=$2; rm -rf "$dir"; cp -R "$src" "$dir" || exit 1
    rm "$dir/checkpoint.prev.ngc"
    head -c 1000 "$src/checkpoint.ngc" > "$dir/checkpoint.ngc"
    before=$(cksum < "$dir/progress.csv")
    out=$("$0" train --resume "$dir" --steps 4096 2>&1); rc=$?; printf '%s\n' "$out"
    [ "$rc" -eq 1 ] || { echo "exit status $rc, expected 1"; exit 1; }
    printf '%s\n' "$out" | grep -q "cannot resume: .*checkpoint.ngc: truncated" || exit 1
    [ "$(cksum < "$dir/progress.csv")" = "$before" ] || { echo "the log changed"; exit 1; }
    # a newer format's header (version 9, its CRC-32 over the first 28 bytes at offset 28)
    printf 'NGCKPT01\011\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\000\341\065\135\306' \
      > "$dir/checkpoint.ngc"
    out=$("$0" eval "$dir" 2>&1); rc=$?; printf '%s\n' "$out"
    [ "$rc" -eq 1 ] && printf '%s\n' "$out" | grep -q "format version 9 is newer" || exit 1
    printf 'GIF89a' > "$dir/checkpoint.ngc"
    out=$("$0" eval "$dir" 2>&1); rc=$?; printf '%s\n' "$out"
    [ "$rc" -eq 1 ] && printf '%s\n' "$out" | grep -q "not a natgrad checkpoint" || exit 1
  ]=] ${NG_ROB_CLI} ${NG_ROB_DIR}/run ${NG_ROB_DIR}/noprev)
  set_tests_properties(cli_resume_damaged_no_prev PROPERTIES FIXTURES_REQUIRED robust_run
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1" TIMEOUT 60)

  # A folder holding only a previous checkpoint is a run too; --force starts over without
# any of the old checkpoints.
  add_test(NAME cli_force_clears_checkpoints COMMAND sh -c [=[
    src=$1; dir=$2; rm -rf "$dir"; cp -R "$src" "$dir" || exit 1
    mv "$dir/checkpoint.ngc" "$dir/checkpoint.damaged.ngc"
    # a previous checkpoint alone still marks the folder as holding a run
    out=$("$0" train --env CartPole-v1 --steps 512 --out "$dir" 2>&1); rc=$?; printf '%s\n' "$out"
    [ "$rc" -eq 2 ] && printf '%s\n' "$out" | grep -q "already holds a run (checkpoint.prev.ngc)" || exit 1
    "$0" train --env CartPole-v1 --steps 512 --set n_steps=256 --out "$dir" --force --quiet \
      --eval-episodes 0 || exit 1
    [ ! -e "$dir/checkpoint.prev.ngc" ] && [ ! -e "$dir/checkpoint.damaged.ngc" ] ||
      { echo "old checkpoints survived --force"; ls "$dir"; exit 1; }
    "$0" eval "$dir" --episodes 1 | grep -q " after 512 steps" || exit 1
  ]=] ${NG_ROB_CLI} ${NG_ROB_DIR}/run ${NG_ROB_DIR}/forced)
  set_tests_properties(cli_force_clears_checkpoints PROPERTIES FIXTURES_REQUIRED robust_run
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1" TIMEOUT 60)
endif()
