# The Python package natgrad (python/): its C extension natgrad._natgrad, built when Debian's
# python3-dev and python3-numpy are there (the rest of the build does not need them), laid
# out with the package's .py files in build/python/natgrad so that PYTHONPATH=build/python
# imports it; and the pytest files python/tests/test_*.py, one CTest test each.
#
# Not in sanitizer builds: /usr/bin/python3 is not instrumented, and a sanitized extension
# needs the sanitizer runtime loaded before the interpreter starts.
option(NG_PYTHON "Build the Python extension when python3-dev and python3-numpy are found" ON)
if(NG_PYTHON AND NOT NG_SANITIZE AND NOT NG_SANITIZE_THREAD)
  # Debian's interpreter (another python3 may come first on PATH).
  if(NOT Python3_EXECUTABLE AND EXISTS /usr/bin/python3)
    set(Python3_EXECUTABLE /usr/bin/python3)
  endif()
  find_package(Python3 COMPONENTS Interpreter Development.Module NumPy)
endif()

if(Python3_Development.Module_FOUND AND Python3_NumPy_FOUND)
  message(STATUS "Python: ${Python3_EXECUTABLE} ${Python3_VERSION}, NumPy "
                 "${Python3_NumPy_VERSION} (building natgrad._natgrad)")
  set(NG_PY_DIR ${CMAKE_BINARY_DIR}/python/natgrad)
  file(GLOB NG_PY_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/python/src/*.c)
  Python3_add_library(ngpy_module MODULE WITH_SOABI ${NG_PY_SOURCES})
  set_target_properties(ngpy_module PROPERTIES OUTPUT_NAME _natgrad
                        LIBRARY_OUTPUT_DIRECTORY ${NG_PY_DIR})
  # Python's and NumPy's headers as system headers: their warnings are not ours.
  target_include_directories(ngpy_module SYSTEM PRIVATE ${Python3_INCLUDE_DIRS}
                             ${Python3_NumPy_INCLUDE_DIRS})
  target_include_directories(ngpy_module PRIVATE ${CMAKE_SOURCE_DIR}/python/src)
  target_link_libraries(ngpy_module PRIVATE natgrad)
  # The package's pure-Python files next to the extension.
  file(GLOB NG_PY_FILES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/python/natgrad/*.py)
  set(_ng_py_out)
  foreach(f ${NG_PY_FILES})
    get_filename_component(name ${f} NAME)
    add_custom_command(OUTPUT ${NG_PY_DIR}/${name}
                       COMMAND ${CMAKE_COMMAND} -E copy_if_different ${f} ${NG_PY_DIR}/${name}
                       DEPENDS ${f} VERBATIM)
    list(APPEND _ng_py_out ${NG_PY_DIR}/${name})
  endforeach()
  add_custom_target(ngpy_package ALL DEPENDS ${_ng_py_out})
  add_dependencies(ngpy_module ngpy_package)

  if(NG_BUILD_TESTS)
    file(GLOB NG_PY_TESTS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/python/tests/test_*.py)
    # The test plugins (tests/cli_plugins.cmake), for load_plugin's tests.
    set(_ng_py_env "OPENBLAS_NUM_THREADS=1;NG_TEST_PLUGIN_DIR=$<TARGET_FILE_DIR:ng_plugin_reach>")
    # The CLI, for the tests that evaluate and resume Python's runs with it (test_train.py).
    list(APPEND _ng_py_env "NG_NATGRAD=$<TARGET_FILE:natgrad_cli>")
    # The C compiler, for the test that compiles an exported policy (test_export.py).
    list(APPEND _ng_py_env "NG_CC=${CMAKE_C_COMPILER}")
    foreach(t ${NG_PY_TESTS})
      get_filename_component(name ${t} NAME_WE)
      add_test(NAME python_${name}
               COMMAND ${Python3_EXECUTABLE} -m pytest -q -p no:cacheprovider ${t}
               WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/python/tests)
      set_tests_properties(python_${name} PROPERTIES TIMEOUT 300 ENVIRONMENT
        "PYTHONPATH=${CMAKE_BINARY_DIR}/python;PYTHONDONTWRITEBYTECODE=1;${_ng_py_env}")
    endforeach()
    # All of them again with Gymnasium hidden: the package must work without it.
    add_test(NAME python_no_gymnasium
             COMMAND ${Python3_EXECUTABLE} -m pytest -q -p no:cacheprovider .
             WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/python/tests)
    set(_ng_py_nogym "PYTHONPATH=${CMAKE_BINARY_DIR}/python;PYTHONDONTWRITEBYTECODE=1")
    set_tests_properties(python_no_gymnasium PROPERTIES TIMEOUT 300 ENVIRONMENT
      "${_ng_py_nogym};NG_NO_GYMNASIUM=1;${_ng_py_env}")
    # The README's install command (scripts/install_python.sh: a venv, pip, the extension
    # compiled by setup.py from the sources), then the tests again against what it installed.
    add_test(NAME python_install
             COMMAND ${CMAKE_SOURCE_DIR}/python/tests/install_test.sh ${CMAKE_SOURCE_DIR}
                     ${CMAKE_BINARY_DIR}/python-venv $<TARGET_FILE_DIR:ng_plugin_reach>)
    set_tests_properties(python_install PROPERTIES TIMEOUT 1200)
    # The extension's C under valgrind memcheck (any report fails; Python's allocator off).
    find_program(NG_VALGRIND valgrind)
    if(NG_VALGRIND)
      add_test(NAME python_memcheck
               COMMAND ${NG_VALGRIND} --quiet --error-exitcode=99
                       --suppressions=${CMAKE_SOURCE_DIR}/python/tests/valgrind.supp
                       ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/python/tests/memcheck_envs.py
                       $<TARGET_FILE_DIR:ng_plugin_reach>)
      set_tests_properties(python_memcheck PROPERTIES TIMEOUT 600 ENVIRONMENT
        "PYTHONPATH=${CMAKE_BINARY_DIR}/python;PYTHONMALLOC=malloc;${_ng_py_env}")
      # The same for the trainer's paths (train.c): Python environments, their faults, runs.
      add_test(NAME python_memcheck_train
               COMMAND ${NG_VALGRIND} --quiet --error-exitcode=99
                       --suppressions=${CMAKE_SOURCE_DIR}/python/tests/valgrind.supp
                       ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/python/tests/memcheck_train.py)
      set_tests_properties(python_memcheck_train PROPERTIES TIMEOUT 900 ENVIRONMENT
        "PYTHONPATH=${CMAKE_BINARY_DIR}/python;PYTHONMALLOC=malloc;${_ng_py_env}")
    endif()
  endif()
elseif(NG_PYTHON AND NOT NG_SANITIZE AND NOT NG_SANITIZE_THREAD)
  message(STATUS "Python: natgrad._natgrad not built (apt-get install python3-dev "
                 "python3-numpy python3-pytest, then reconfigure)")
endif()
