# Fuzz targets (fuzz/fuzz_*.c), each built twice:
#   fuzz_replay_NAME  always, with the normal compiler and a plain main (fuzz/replay_main.c)
#                     that feeds every file of fuzz/corpus/NAME (seeds and what fuzzing kept)
#                     and fuzz/regressions/NAME (inputs that once crashed) through the
#                     target: a CTest test on every run, no libFuzzer needed.
#   fuzz_NAME         with -DNG_FUZZ=ON and clang: the libFuzzer binary (scripts/fuzz.sh).
# The library is then instrumented for coverage (-fsanitize=fuzzer-no-link); configure
# that build with -DNG_SANITIZE=ON too, so findings are ASan/UBSan reports.
option(NG_FUZZ "Build the libFuzzer targets (needs clang)" OFF)
if(TARGET natgrad_cli)
  set(NG_FUZZ_DIR ${CMAKE_SOURCE_DIR}/fuzz)
  # the targets that need CLI sources besides the library (the others need none)
  set(NG_FUZZ_EXTRA_cli ${CMAKE_SOURCE_DIR}/cli/cmd_train.c ${CMAKE_SOURCE_DIR}/cli/cmd_eval.c
      ${CMAKE_SOURCE_DIR}/cli/run_dir.c ${CMAKE_SOURCE_DIR}/cli/progress.c
      ${CMAKE_SOURCE_DIR}/cli/args.c ${CMAKE_SOURCE_DIR}/cli/train_mpi.c
      ${CMAKE_SOURCE_DIR}/cli/mpi_run.c)
  if(NG_FUZZ)
    target_compile_options(natgrad PRIVATE -fsanitize=fuzzer-no-link)
  endif()
  foreach(name checkpoint config cli fit_checkpoint idx csv run_log env_def)
    foreach(kind replay fuzz)
      if(kind STREQUAL "replay")
        set(exe fuzz_replay_${name})
        set(srcs ${NG_FUZZ_DIR}/fuzz_${name}.c ${NG_FUZZ_DIR}/replay_main.c)
      elseif(NG_FUZZ)
        set(exe fuzz_${name})
        set(srcs ${NG_FUZZ_DIR}/fuzz_${name}.c)
      else()
        continue()
      endif()
      add_executable(${exe} ${srcs} ${NG_FUZZ_EXTRA_${name}})
      target_include_directories(${exe} PRIVATE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/cli
                                 ${NG_FUZZ_DIR} ${CBLAS_INCLUDE_DIR})
      target_link_libraries(${exe} PRIVATE natgrad)
      if(kind STREQUAL "fuzz")
        target_compile_options(${exe} PRIVATE -fsanitize=fuzzer)
        target_link_options(${exe} PRIVATE -fsanitize=fuzzer)
      endif()
    endforeach()
    add_test(NAME fuzz_replay_${name}
             COMMAND fuzz_replay_${name} ${NG_FUZZ_DIR}/corpus/${name}
                     ${NG_FUZZ_DIR}/regressions/${name})
    set_tests_properties(fuzz_replay_${name} PROPERTIES ENVIRONMENT "OPENBLAS_NUM_THREADS=1"
                         TIMEOUT 120)
  endforeach()
endif()
