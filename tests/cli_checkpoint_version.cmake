# CTest registrations for the checkpoint's version field at the CLI (issue 17, item 7): a
# flipped bit there is damage, so eval and --resume fall back to the intact previous
# checkpoint; a genuinely newer format (a plausible version whose header carries its own
# CRC-32, src/ckpt_io.h) is refused as newer, with no fallback and nothing moved.
if(TARGET natgrad_cli)
  set(NG_CKV_CLI $<TARGET_FILE:natgrad_cli>)
  set(NG_CKV_DIR ${CMAKE_BINARY_DIR}/cli_checkpoint_version)
  file(MAKE_DIRECTORY ${NG_CKV_DIR})

  # Two iterations of 2 envs x 256 steps, a checkpoint after each: latest at 1024 steps,
  # previous at 512.
  add_test(NAME cli_checkpoint_version_run COMMAND sh -c [=[
    dir=$1; rm -rf "$dir"
    "$0" train --env CartPole-v1 --steps 1024 --set n_steps=256 --seed 4 --checkpoint-every 1 \
      --eval-episodes 0 --out "$dir" --quiet || exit 1
    "$0" eval "$dir/checkpoint.prev.ngc" --episodes 1 | grep -q " after 512 steps" || exit 1
  ]=] ${NG_CKV_CLI} ${NG_CKV_DIR}/run)
  set_tests_properties(cli_checkpoint_version_run PROPERTIES FIXTURES_SETUP ckv_run
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1" TIMEOUT 60)

  # Version 1 -> 17 (bit 4 of its first byte): reported as a corrupted header, and the
  # previous checkpoint is used, by eval and by --resume (which sets the damaged file aside).
  add_test(NAME cli_checkpoint_version_bitflip_falls_back COMMAND sh -c [=[
    src=$1; dir=$2; rm -rf "$dir"; cp -R "$src" "$dir" || exit 1
    printf '\021' | dd of="$dir/checkpoint.ngc" bs=1 seek=8 conv=notrunc 2>/dev/null
    out=$("$0" eval "$dir" --episodes 1 2>&1); rc=$?; printf '%s\n' "$out"
    [ "$rc" -eq 0 ] || { echo "eval exit status $rc, expected 0"; exit 1; }
    printf '%s\n' "$out" |
      grep -q "warning: the latest checkpoint is unusable (.*corrupted header: format version 17" ||
      exit 1
    printf '%s\n' "$out" | grep -q " after 512 steps" || exit 1
    out=$("$0" train --resume "$dir" --steps 1536 --quiet 2>&1); rc=$?; printf '%s\n' "$out"
    [ "$rc" -eq 0 ] || { echo "resume exit status $rc, expected 0"; exit 1; }
    [ -e "$dir/checkpoint.damaged.ngc" ] || { echo "the damaged file was not set aside"; exit 1; }
    "$0" eval "$dir" --episodes 1 | grep -q " after 1536 steps" || exit 1
  ]=] ${NG_CKV_CLI} ${NG_CKV_DIR}/run ${NG_CKV_DIR}/bitflip)
  set_tests_properties(cli_checkpoint_version_bitflip_falls_back PROPERTIES
                       FIXTURES_REQUIRED ckv_run ENVIRONMENT "OPENBLAS_NUM_THREADS=1" TIMEOUT 60)

  # Version 2 with the header's CRC-32 (zlib's, which is gzip's trailer) at offset 28: a
  # newer format. Refused with exit status 1 by eval and --resume; no fallback, no file moved.
  add_test(NAME cli_checkpoint_version_newer_refused COMMAND sh -c [=[
    src=$1; dir=$2; rm -rf "$dir"; cp -R "$src" "$dir" || exit 1
    f=$dir/checkpoint.ngc
    { head -c 8 "$f"; printf '\002\000\000\000'; tail -c +13 "$f" | head -c 16; } > "$dir/h28"
    gzip -c < "$dir/h28" | tail -c 8 | head -c 4 > "$dir/crc"
    { cat "$dir/h28" "$dir/crc"; tail -c +33 "$f"; } > "$dir/new" && mv "$dir/new" "$f"
    rm -f "$dir/h28" "$dir/crc"
    before=$(cksum < "$f")
    for cmd in "eval $dir --episodes 1" "train --resume $dir --steps 1536 --quiet"; do
      out=$("$0" $cmd 2>&1); rc=$?; printf '%s\n' "$out"
      [ "$rc" -eq 1 ] || { echo "$cmd: exit status $rc, expected 1"; exit 1; }
      printf '%s\n' "$out" | grep -q "format version 2 is newer than this build reads (1)" || exit 1
      if printf '%s\n' "$out" | grep -q "previous"; then echo "$cmd fell back"; exit 1; fi
    done
    [ ! -e "$dir/checkpoint.damaged.ngc" ] && [ "$(cksum < "$f")" = "$before" ] ||
      { echo "a file was moved or changed"; exit 1; }
  ]=] ${NG_CKV_CLI} ${NG_CKV_DIR}/run ${NG_CKV_DIR}/newer)
  set_tests_properties(cli_checkpoint_version_newer_refused PROPERTIES
                       FIXTURES_REQUIRED ckv_run ENVIRONMENT "OPENBLAS_NUM_THREADS=1" TIMEOUT 60)
endif()
