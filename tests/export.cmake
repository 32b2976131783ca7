# natgrad export (issue 15): an exported policy header against the library, and the CLI's
# errors. Each test trains a short run, exports it in f64 and f32, compiles the headers with
# the build's C compiler (-Wall -Wextra -Werror -pedantic -ffp-contract=off) into shared
# objects that export_check loads (tests/export/export_check.c says what it checks; once more
# for f64 built -std=gnu99 -march=native without -ffp-contract=off), checks
# that every other C / C++ compiler found compiles them warning-free, and that the header's
# 10 episodes print natgrad eval's mean return.
if(TARGET natgrad_cli)
  add_executable(export_check ${CMAKE_SOURCE_DIR}/tests/export/export_check.c)
  target_link_libraries(export_check PRIVATE natgrad ${CMAKE_DL_LIBS})
  find_program(NG_EXPORT_GCC gcc)
  find_program(NG_EXPORT_CLANG clang)
  find_program(NG_EXPORT_GXX g++)
  find_program(NG_EXPORT_CLANGXX clang++)
  set(NG_EXPORT_DIR ${CMAKE_BINARY_DIR}/export_tests)
  file(MAKE_DIRECTORY ${NG_EXPORT_DIR})
  # export_check loads the example plugin (Discrete observations fed one-hot; MultiDiscrete
  # and MultiBinary actions) as natgrad does: the library's symbols exported to it
  set_target_properties(export_check PROPERTIES ENABLE_EXPORTS ON)
  set(NG_RING $<TARGET_FILE:ng_plugin_ring>)
  set(NG_EXPORT_ENVS CartPole-v1 2048 - Pendulum-v1 4096 - Ring-v0 2048 ${NG_RING}
                     Switches-v0 2048 ${NG_RING})
  if(NG_MUJOCO AND NG_MUJOCO_INCLUDE_DIR AND NG_MUJOCO_LIBRARY)
    list(APPEND NG_EXPORT_ENVS Hopper-v5 2048 -)
  endif()
  while(NG_EXPORT_ENVS)
    list(POP_FRONT NG_EXPORT_ENVS env steps plugin)
    add_test(NAME export_${env} COMMAND sh -c [=[
      cli=$0; check=$1; cc=$2; src=$3; dir=$4/$5; env=$5; steps=$6; plugin=$7; shift 7
      rm -rf "$dir"; mkdir -p "$dir"; cd "$dir" || exit 1
      pflag=; [ "$plugin" = - ] || pflag="--plugin $plugin"
      "$cli" train --env "$env" --steps "$steps" --seed 1 --eval-episodes 0 --out run \
        --quiet $pflag || exit 1
      "$cli" export run --out p64.h --prefix pol || exit 1
      "$cli" export run --out p32.h --prefix pol --precision f32 || exit 1
      flags="-Wall -Wextra -Werror -pedantic -ffp-contract=off"
      for p in 64 32; do
        t=double; [ $p = 32 ] && t=float
        $cc -std=c99 $flags -O2 -fPIC -shared -DNG_POLICY="\"p$p.h\"" -DNG_T=$t -I. \
          "$src/shim.c" -o shim$p.so || exit 1
        for other in "$@"; do
          case $other in *++) std=-std=c++98; lang=c++ ;; *) std=-std=c99; lang=c ;; esac
          $other -x $lang $std $flags -DNG_POLICY="\"p$p.h\"" -DNG_T=$t -I. -c "$src/shim.c" \
            -o /dev/null || { echo "$other: p$p.h"; exit 1; }
        done
      done
      echo "compiled with $cc and: $*"
      "$check" run/checkpoint.ngc ./shim64.so ./shim32.so $plugin > check.out \
        || { cat check.out; exit 1; }
      cat check.out
      # the header's own pragmas keep contraction off where the flags do not: a GNU mode,
      # the host's FMA units, no -ffp-contract=off
      $cc -std=gnu99 -march=native -O2 -fPIC -shared -DNG_POLICY='"p64.h"' -DNG_T=double -I. \
        "$src/shim.c" -o shim64g.so || exit 1
      "$check" run/checkpoint.ngc ./shim64g.so ./shim32.so $plugin > check_gnu.out \
        || { cat check_gnu.out; echo "-std=gnu99 -march=native"; exit 1; }
      want=$(sed -n 's/^header f64: \(mean return [^ ]* ± [^ ]*\) .*/\1/p' check.out)
      "$cli" eval run --episodes 10 | tee eval.out | grep -qF "$want" \
        || { cat eval.out; echo "natgrad eval does not print: $want"; exit 1; }
      echo "natgrad eval prints the same: $want"
    ]=] $<TARGET_FILE:natgrad_cli> $<TARGET_FILE:export_check> ${CMAKE_C_COMPILER}
      ${CMAKE_SOURCE_DIR}/tests/export ${NG_EXPORT_DIR} ${env} ${steps} ${plugin} ${NG_EXPORT_GCC}
      ${NG_EXPORT_CLANG} ${NG_EXPORT_GXX} ${NG_EXPORT_CLANGXX})
    set_tests_properties(export_${env} PROPERTIES TIMEOUT 300 ENVIRONMENT
                         "OPENBLAS_NUM_THREADS=1")
  endwhile()

  # The CLI's refusals: each a one-line error and the exit code of the other commands; a
  # refused or failed export leaves an existing header as it was.
  add_test(NAME export_cli_errors COMMAND sh -c [=[
    cli=$0; dir=$1; rm -rf "$dir"; mkdir -p "$dir/empty"; cd "$dir" || exit 1
    expect() { # STATUS REGEX ARG...
      want=$1; re=$2; shift 2
      out=$("$cli" export "$@" 2>&1); rc=$?
      printf '%s\n[exit status %s, expected %s]\n' "$out" "$rc" "$want"
      [ "$rc" -eq "$want" ] || exit 1
      printf '%s\n' "$out" | grep -Eq -- "$re" || { echo "no line matches: $re"; exit 1; }
    }
    "$cli" train --env CartPole-v1 --steps 1024 --eval-episodes 0 --out run --quiet || exit 1
    expect 2 "which run" --out p.h
    expect 2 "--out FILE is required" run
    expect 2 "no checkpoint: 'nowhere' does not exist" nowhere --out p.h
    expect 2 "empty" empty --out p.h
    expect 2 "--precision: expected f64 or f32, got 'f16'" run --out p.h --precision f16
    expect 2 "prefix '9x' is not a C identifier" run --out p.h --prefix 9x
    expect 2 "unknown option '--bogus'" run --out p.h --bogus
    expect 0 "p.h: policy_act for CartPole-v1" run --out p.h
    cp p.h p.orig
    expect 2 "p.h already exists \(--force replaces it\)" run --out p.h --precision f32
    cmp p.h p.orig || { echo "a refused export changed the header"; exit 1; }
    expect 1 "cannot write nodir/p.h: No such file or directory" run --out nodir/p.h
    mkdir ro && chmod 555 ro
    [ -w ro ] || expect 1 "cannot write ro/p.h: Permission denied" run --out ro/p.h
    # a damaged latest checkpoint: the previous one, with a warning; both damaged: refused
    cp run/checkpoint.ngc run/checkpoint.prev.ngc
    printf 'garbage' | dd of=run/checkpoint.ngc bs=1 seek=100 conv=notrunc 2>/dev/null
    expect 0 "warning: .*checkpoint.prev.ngc" run --out p.h --force
    cmp p.h p.orig || { echo "the previous checkpoint exported differently"; exit 1; }
    printf 'garbage' | dd of=run/checkpoint.prev.ngc bs=1 seek=100 conv=notrunc 2>/dev/null
    expect 1 "cannot load checkpoint" run --out p.h --force
    cmp p.h p.orig || { echo "a failed export changed the header"; exit 1; }
    expect 1 "cannot load checkpoint" run/checkpoint.ngc --out p.h --force
    ls *.tmp 2>/dev/null && { echo "a temporary file was left"; exit 1; }
    exit 0
  ]=] $<TARGET_FILE:natgrad_cli> ${NG_EXPORT_DIR}/cli_errors)
  set_tests_properties(export_cli_errors PROPERTIES TIMEOUT 120 ENVIRONMENT
                       "OPENBLAS_NUM_THREADS=1")

  # The f32 header on a Cortex-M4F under qemu, bit for bit against the host's f32 build, and
  # its flash and RAM (scripts/export_mcu.sh); skipped without the ARM toolchain and qemu.
  set(NG_EXPORT_MCU_ENVS CartPole-v1)
  if(NG_MUJOCO AND NG_MUJOCO_INCLUDE_DIR AND NG_MUJOCO_LIBRARY)
    list(APPEND NG_EXPORT_MCU_ENVS Hopper-v5)
  endif()
  add_test(NAME export_cortex_m4 COMMAND ${CMAKE_SOURCE_DIR}/scripts/export_mcu.sh
           $<TARGET_FILE:natgrad_cli> ${NG_EXPORT_DIR}/cortex_m4 ${NG_EXPORT_MCU_ENVS})
  set_tests_properties(export_cortex_m4 PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77
                       ENVIRONMENT "OPENBLAS_NUM_THREADS=1;CC=${CMAKE_C_COMPILER}")
endif()
