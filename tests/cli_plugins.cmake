# Environment plugins: the test plugins (tests/plugins/), loaded by test_env_api and by the
# CLI tests below (train to a threshold, eval, resume, replay, list, and every bad input).

add_library(ng_plugin_reach MODULE ${CMAKE_SOURCE_DIR}/tests/plugins/reach.c)
target_include_directories(ng_plugin_reach PRIVATE ${CMAKE_SOURCE_DIR}/include)
add_library(ng_plugin_ring MODULE ${CMAKE_SOURCE_DIR}/examples/envs/ring/ring.c)
target_include_directories(ng_plugin_ring PRIVATE ${CMAKE_SOURCE_DIR}/include)
set(NG_BROKEN_PLUGINS nosym abi abi1 abi2 space clash nan step_err crash)
foreach(kind ${NG_BROKEN_PLUGINS})
  add_library(ng_plugin_${kind} MODULE ${CMAKE_SOURCE_DIR}/tests/plugins/broken.c)
  target_include_directories(ng_plugin_${kind} PRIVATE ${CMAKE_SOURCE_DIR}/include)
  string(TOUPPER ${kind} KIND)
  target_compile_definitions(ng_plugin_${kind} PRIVATE BROKEN_${KIND})
endforeach()
# The crashing plugin is a user's code that really crashes: no sanitizer may catch its NULL
# store first (UBSan would report it and exit 1), and the test expects the kernel's SIGSEGV.
if(NG_SANITIZE)
  target_compile_options(ng_plugin_crash PRIVATE -fno-sanitize=all)
endif()
# The unit test loads the plugins too: it exports the library's symbols to them as the
# natgrad program does.
set_target_properties(test_env_api PROPERTIES ENABLE_EXPORTS ON)
target_compile_definitions(test_env_api PRIVATE
  NG_TEST_PLUGIN_DIR="$<TARGET_FILE_DIR:ng_plugin_reach>")
add_dependencies(test_env_api ng_plugin_reach ng_plugin_ring ng_plugin_nosym ng_plugin_abi
                 ng_plugin_abi1 ng_plugin_abi2 ng_plugin_space
                 ng_plugin_clash)

if(TARGET natgrad_cli)
  foreach(case train resume resume_nostate changed replay_list bad_plugins bad_envs
          ring_train ring_resume switches_train spaces_list_replay tune)
    add_test(NAME cli_plugins_${case}
             COMMAND bash ${CMAKE_SOURCE_DIR}/tests/cli_plugins.sh $<TARGET_FILE:natgrad_cli>
                     $<TARGET_FILE_DIR:ng_plugin_reach> ${CMAKE_BINARY_DIR}/cli_plugins ${case})
    set_tests_properties(cli_plugins_${case} PROPERTIES ENVIRONMENT "OPENBLAS_NUM_THREADS=1")
  endforeach()
endif()
