# CTest registrations for `natgrad train --config` files as an adversary writes them (issue
# 17 item 5): a NUL byte, a stream of zeros, /dev/zero, a FIFO and a key given twice are
# each refused with exit status 2 and a message naming the file (and line), before anything
# runs; a [npg] section's values reach NPG runs only, [trpo]'s TRPO runs only. Scripts are
# POSIX sh in bracket arguments; $0 is the CLI, $1 a scratch folder.
if(TARGET natgrad_cli)
  set(NG_CONFIG_CLI $<TARGET_FILE:natgrad_cli>)
  set(NG_CONFIG_DIR ${CMAKE_BINARY_DIR}/cli_config)

  # ng_config_test(NAME SCRIPT): SCRIPT runs with $0 the CLI and $1 an empty folder; its
  # `expect STATUS REGEX ARG...` runs `natgrad train --env CartPole-v1 ARG...` under a
  # 10 s timeout (into a run folder that must stay absent) and checks the exit status and a line of its output.
  function(ng_config_test name script)
    add_test(NAME ${name} COMMAND sh -c "
      dir=\$1; rm -rf \"\$dir\"; mkdir -p \"\$dir\" || exit 1
      expect() {
        want=\$1; re=\$2; shift 2
        out=\$(timeout 10 \"\$0\" train --env CartPole-v1 --out \"\$dir/never\" \"\$@\" 2>&1); rc=\$?
        printf '%s\\n[exit status %s, expected %s]\\n' \"\$out\" \"\$rc\" \"\$want\"
        [ \"\$rc\" -eq \"\$want\" ] || exit 1
        printf '%s\\n' \"\$out\" | grep -Eq -- \"\$re\" || { echo \"no line matches: \$re\"; exit 1; }
        [ ! -e \"\$dir/never\" ] || { echo 'a run folder was made'; exit 1; }
      }
      ${script}" ${NG_CONFIG_CLI} ${NG_CONFIG_DIR}/${name})
    set_tests_properties(${name} PROPERTIES ENVIRONMENT "OPENBLAS_NUM_THREADS=1" TIMEOUT 60)
  endfunction()

  # A NUL byte ends nothing silently: `cg_iters = 1\0000` is not read as cg_iters = 1.
  ng_config_test(cli_config_nul [=[
    printf '# line 1\ncg_iters = 1\0000\n' > "$dir/nul.ini"
    expect 2 "nul\.ini:2: a NUL byte" --config "$dir/nul.ini"
  ]=])

  # 3 MB of zero bytes is not an empty config.
  ng_config_test(cli_config_zeros [=[
    head -c 3000000 /dev/zero > "$dir/zeros.ini"
    expect 2 "zeros\.ini: too large \(3000000 bytes" --config "$dir/zeros.ini"
  ]=])

  # /dev/zero never ends and a FIFO blocks its reader: both refused before reading, at once
  # (each `expect` runs under `timeout`, so a hang fails the test instead of stalling it).
  ng_config_test(cli_config_dev_zero [=[
    start=$(date +%s)
    expect 2 "cannot read config file '/dev/zero': not a regular file" --config /dev/zero
    mkfifo "$dir/fifo.ini" || exit 1
    expect 2 "fifo\.ini': not a regular file" --config "$dir/fifo.ini"
    expect 2 "cannot read config file '.*': is a folder" --config "$dir"
    [ $(($(date +%s) - start)) -le 10 ] || { echo "too slow"; exit 1; }
  ]=])
  set_tests_properties(cli_config_dev_zero PROPERTIES TIMEOUT 20)

  # A key given twice in one section: refused, naming both lines (the last no longer wins).
  ng_config_test(cli_config_duplicate [=[
    printf 'max_kl = 0.02\n# a comment\n[trpo]\ncg_iters = 7\nmax_kl = 0.03\n\ncg_iters = 8\n' \
      > "$dir/dup.ini"
    expect 2 "dup\.ini:7: 'cg_iters' is set again in \[trpo\] \(first on line 4\)" \
      --config "$dir/dup.ini"
  ]=])

  # A section may not set algo: it would switch the run its values were chosen for.
  ng_config_test(cli_config_algo_in_section [=[
    printf '[npg]\nalgo = trpo\n' > "$dir/algo.ini"
    expect 2 "algo\.ini:2: algo cannot be set in \[npg\]" --config "$dir/algo.ini"
  ]=])

  # [trpo] values reach TRPO runs only and [npg] values NPG runs only, over the top level;
  # the run's algo comes from the flags, else the file's top level, else trpo.
  ng_config_test(cli_config_sections [=[
    printf 'env = CartPole-v1\ncg_iters = 9\n[npg]\nmax_kl = 0.05\ncg_iters = 11\n[trpo]\nls_shrink = 0.5\n' \
      > "$dir/s.ini"
    printf 'algo = npg\n' | cat - "$dir/s.ini" > "$dir/npg.ini"
    run() { # OUT ARG...: a one-iteration run, then its config.ini must hold each later line
      out=$1; shift
      "$0" train --steps 1024 --eval-episodes 0 --out "$dir/$out" --quiet "$@" || exit 1
    }
    has() { # OUT LINE...
      out=$1; shift
      for line in "$@"; do
        grep -qx "$line" "$dir/$out/config.ini" ||
          { echo "$out/config.ini lacks '$line':"; cat "$dir/$out/config.ini"; exit 1; }
      done
    }
    run trpo --config "$dir/s.ini"
    has trpo 'algo = trpo' 'max_kl = 0.01' 'cg_iters = 9' 'ls_shrink = 0.5'
    run npg --config "$dir/s.ini" --algo npg
    has npg 'algo = npg' 'max_kl = 0.05' 'cg_iters = 11' 'ls_shrink = 0.8'
    run file_npg --config "$dir/npg.ini"
    has file_npg 'algo = npg' 'max_kl = 0.05' 'cg_iters = 11'
    run flag_trpo --config "$dir/npg.ini" --set algo=trpo
    has flag_trpo 'algo = trpo' 'max_kl = 0.01' 'cg_iters = 9' 'ls_shrink = 0.5'
  ]=])
  set_tests_properties(cli_config_sections PROPERTIES TIMEOUT 120)
endif()
