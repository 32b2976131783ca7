# `natgrad demo`.
#
# This file has two modes. Included by CMakeLists.txt it registers the tests. Run as a
# script (cmake -DMODE=... -P demo.cmake) it is the checker those tests call, for what
# PASS_REGULAR_EXPRESSION cannot see: exit codes, the SVG file, determinism.

if(NOT CMAKE_SCRIPT_MODE_FILE)
  if(TARGET natgrad_cli)
    set(_demo_dir ${CMAKE_BINARY_DIR}/demo-test)
    # Both iteration counts printed, the SVG written.
    add_test(NAME demo_gaussian_output
             COMMAND natgrad_cli demo gaussian --out ${CMAKE_BINARY_DIR}/demo.svg)
    set_tests_properties(demo_gaussian_output PROPERTIES
      PASS_REGULAR_EXPRESSION
        "gradient descent +[0-9]+\n +natural gradient +[0-9]+\n +speed-up +[0-9.]+x.*wrote [^\n]*demo.svg"
      FAIL_REGULAR_EXPRESSION "not reached|unstable|diverged|natgrad demo:"
      ENVIRONMENT "OPENBLAS_NUM_THREADS=1")
    # Exit status 0, a complete SVG with both panels and finite numbers, same bytes for the
    # same seed, different data for another seed.
    add_test(NAME demo_gaussian_run
             COMMAND ${CMAKE_COMMAND} -DMODE=run -DCLI=$<TARGET_FILE:natgrad_cli>
                     -DDIR=${_demo_dir} -P ${CMAKE_CURRENT_LIST_FILE})
    # Bad usage: exit status 2 and a message naming the problem; --help exits 0.
    add_test(NAME demo_usage
             COMMAND ${CMAKE_COMMAND} -DMODE=usage -DCLI=$<TARGET_FILE:natgrad_cli>
                     -DDIR=${_demo_dir} -P ${CMAKE_CURRENT_LIST_FILE})
    # The plain CTest way, for the record: an unknown flag fails.
    add_test(NAME demo_bad_flag COMMAND natgrad_cli demo gaussian --no-such-flag)
    set_tests_properties(demo_bad_flag PROPERTIES WILL_FAIL TRUE)
    set_tests_properties(demo_gaussian_run demo_usage demo_bad_flag PROPERTIES
      ENVIRONMENT "OPENBLAS_NUM_THREADS=1")
  endif()
  return()
endif()

# ---- script mode ----------------------------------------------------------------------------

function(demo_fail)
  string(JOIN "" msg ${ARGN})
  message(FATAL_ERROR "demo check failed: ${msg}")
endfunction()

# Runs the CLI with the given arguments; sets RC, OUT, ERR in the caller.
function(demo_run)
  execute_process(COMMAND ${CLI} ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err WORKING_DIRECTORY ${DIR})
  set(RC "${rc}" PARENT_SCOPE)
  set(OUT "${out}" PARENT_SCOPE)
  set(ERR "${err}" PARENT_SCOPE)
endfunction()

function(demo_expect_regex text regex what)
  if(NOT text MATCHES "${regex}")
    demo_fail("${what}: expected /${regex}/ in:\n${text}")
  endif()
endfunction()

if(NOT CLI OR NOT DIR)
  demo_fail("call with -DCLI=<natgrad> -DDIR=<scratch dir> -DMODE=run|usage")
endif()
file(MAKE_DIRECTORY ${DIR})

if(MODE STREQUAL "run")
  set(svg1 ${DIR}/a.svg)
  set(svg2 ${DIR}/b.svg)
  file(REMOVE ${svg1} ${svg2})
  demo_run(demo gaussian --out ${svg1})
  if(NOT RC EQUAL 0)
    demo_fail("exit status ${RC}, stderr:\n${ERR}")
  endif()
  set(out1 "${OUT}")
  demo_expect_regex("${OUT}" "KL\\(p1\\|\\|p2\\)" "part (a) table")
  demo_expect_regex("${OUT}" "narrow +N\\(-1, 0\\.3\\^2\\) -> N\\(1, 0\\.3\\^2\\) +2\\.0000 +22\\.2222"
                    "narrow pair: |d| = 2, KL = 2/0.09")
  demo_expect_regex("${OUT}" "wide +N\\(-1, 3\\^2\\) -> N\\(1, 3\\^2\\) +2\\.0000 +0\\.2222"
                    "wide pair: |d| = 2, KL = 2/9")
  demo_expect_regex("${OUT}" "post's loop +0\\.000000" "the post's loop on a softmax Fisher")
  if(NOT OUT MATCHES "gradient descent +([0-9]+)\n +natural gradient +([0-9]+)\n")
    demo_fail("both iteration counts expected in:\n${OUT}")
  endif()
  if(NOT CMAKE_MATCH_1 GREATER CMAKE_MATCH_2)
    demo_fail("natural gradient (${CMAKE_MATCH_2}) not faster than GD (${CMAKE_MATCH_1})")
  endif()
  if(NOT EXISTS ${svg1})
    demo_fail("no SVG at ${svg1}")
  endif()
  file(READ ${svg1} doc)
  demo_expect_regex("${doc}" "^<\\?xml[^\n]*\n<svg " "SVG header")
  demo_expect_regex("${doc}" "</svg>\n$" "SVG end")
  string(REGEX MATCHALL "<g class=\"panel\"" panels "${doc}")
  list(LENGTH panels n_panels)
  if(NOT n_panels EQUAL 2)
    demo_fail("expected 2 panels in the SVG, found ${n_panels}")
  endif()
  string(TOLOWER "${doc}" lower)
  if(lower MATCHES "nan|inf")
    demo_fail("non-finite number in the SVG")
  endif()
  demo_expect_regex("${doc}" "class=\"contour\"" "contour lines")
  demo_expect_regex("${doc}" ">gradient descent, η = [0-9.]+: [0-9]+ it\\.</text>"
                    "legend entry of gradient descent")
  # determinism: same seed, same output and the same file, byte for byte
  demo_run(demo gaussian --out=${svg2})
  string(REPLACE "${svg2}" "${svg1}" out2 "${OUT}")
  if(NOT out1 STREQUAL out2)
    demo_fail("two runs with the same seed printed different output")
  endif()
  file(SHA256 ${svg1} h1)
  file(SHA256 ${svg2} h2)
  if(NOT h1 STREQUAL h2)
    demo_fail("two runs with the same seed wrote different SVG files")
  endif()
  # every flag is taken: another seed and data set change the optimum line
  demo_run(demo gaussian --seed 7 --samples 200 --mu -1 --sigma 2 --start-mu 3
           --start-sigma 0.5 --tol 1e-8 --max-iter 50000 --out ${svg2})
  if(NOT RC EQUAL 0)
    demo_fail("run with every flag: exit status ${RC}, stderr:\n${ERR}")
  endif()
  demo_expect_regex("${OUT}" "200 samples of N\\(-1, 2\\^2\\), seed 7" "flags reach the data")
  demo_expect_regex("${OUT}" "<= 1e-08" "--tol reaches the loops")
elseif(MODE STREQUAL "usage")
  demo_run(demo --help)
  if(NOT RC EQUAL 0 OR NOT OUT MATCHES "usage: natgrad demo NAME.*gaussian")
    demo_fail("natgrad demo --help: status ${RC}, output:\n${OUT}")
  endif()
  demo_run(demo gaussian --help)
  if(NOT RC EQUAL 0 OR NOT OUT MATCHES "usage: natgrad demo gaussian.*--seed.*--samples.*--tol.*--out")
    demo_fail("natgrad demo gaussian --help: status ${RC}, output:\n${OUT}")
  endif()
  # each bad invocation (arguments separated by commas): status 2, and stderr names the
  # problem
  set(cases
    "demo|which demo"
    "demo,nosuch|unknown demo 'nosuch'"
    "demo,gaussian,--bogus|unknown option '--bogus'"
    "demo,gaussian,--seed|needs a value"
    "demo,gaussian,--samples,1|bad value '1' for --samples"
    "demo,gaussian,--seed=-3|bad value '-3' for --seed"
    "demo,gaussian,--sigma,0|bad value '0' for --sigma"
    "demo,gaussian,--tol,abc|bad value 'abc' for --tol"
    "demo,gaussian,--tol,nan|bad value 'nan' for --tol"
    "demo,gaussian,--max-iter,0|bad value '0' for --max-iter"
    "demo,gaussian,--out=|bad value '' for --out"
    "demo,gaussian,extra|unexpected argument 'extra'")
  foreach(c IN LISTS cases)
    string(FIND "${c}" "|" bar)
    string(SUBSTRING "${c}" 0 ${bar} args)
    math(EXPR bar "${bar} + 1")
    string(SUBSTRING "${c}" ${bar} -1 expect)
    string(REPLACE "," ";" parts "${args}")
    demo_run(${parts})
    if(NOT RC EQUAL 2)
      demo_fail("'natgrad ${parts}': exit status ${RC}, expected 2")
    endif()
    string(FIND "${ERR}" "${expect}" pos)
    if(pos LESS 0)
      demo_fail("'natgrad ${parts}': expected '${expect}' on stderr, got:\n${ERR}")
    endif()
  endforeach()
  # an unwritable output file is a failure (1), not a usage error
  demo_run(demo gaussian --out ${DIR}/no/such/dir/x.svg)
  if(NOT RC EQUAL 1 OR NOT ERR MATCHES "cannot write")
    demo_fail("unwritable --out: status ${RC}, stderr:\n${ERR}")
  endif()
else()
  demo_fail("unknown MODE '${MODE}'")
endif()
