# `cmake --install` and the user's path through what it installs (tests/install/user_path.sh):
# install_prefix installs into the build tree, then install_headers, install_pkgconfig and
# install_cmake_package build against it as a user would; install_example_envs builds, trains
# and replays examples/envs/ against it. Not in sanitizer builds: their libraries need the
# sanitizer runtime loaded first, which a plain user program does not do.
if(NOT NG_SANITIZE AND NOT NG_SANITIZE_THREAD)
  find_program(NG_CXX NAMES c++ g++ clang++)  # optional: the headers' C++ check
  if(NOT NG_CXX)
    set(NG_CXX "")
  endif()
  set(_ng_script ${CMAKE_CURRENT_LIST_DIR}/install/user_path.sh)
  set(_ng_args ${CMAKE_BINARY_DIR} ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/install-test
      ${CMAKE_INSTALL_LIBDIR} ${CMAKE_C_COMPILER})
  add_test(NAME install_prefix COMMAND ${_ng_script} install ${_ng_args})
  add_test(NAME install_headers COMMAND ${_ng_script} headers ${_ng_args} ${NG_CXX})
  add_test(NAME install_pkgconfig COMMAND ${_ng_script} pkgconfig ${_ng_args})
  add_test(NAME install_cmake_package COMMAND ${_ng_script} cmake ${_ng_args})
  set_tests_properties(install_prefix PROPERTIES FIXTURES_SETUP natgrad_installed)
  # The example environments (examples/envs/), built by every C compiler there is, trained
  # by the installed CLI (tests/install/example_envs.sh).
  find_program(NG_CLANG NAMES clang)
  set(_ng_ccs ${CMAKE_C_COMPILER})
  if(NG_CLANG AND NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    list(APPEND _ng_ccs ${NG_CLANG})
  endif()
  add_test(NAME install_example_envs
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/install/example_envs.sh
                   ${CMAKE_BINARY_DIR}/install-test ${CMAKE_INSTALL_LIBDIR} ${CMAKE_SOURCE_DIR}
                   ${_ng_ccs})
  set_tests_properties(install_headers install_pkgconfig install_cmake_package
                       install_example_envs PROPERTIES FIXTURES_REQUIRED natgrad_installed)
  set_tests_properties(install_prefix install_headers install_pkgconfig install_cmake_package
                       install_example_envs
                       PROPERTIES ENVIRONMENT "OPENBLAS_NUM_THREADS=1" TIMEOUT 120)
endif()
