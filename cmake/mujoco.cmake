# MuJoCo physics for the locomotion environments (src/envs/mujoco): optional.
#
# Two modes, like tests/demo.cmake.
# Included by CMakeLists.txt after the `natgrad` target exists, it looks for Debian's
# libmujoco-dev (headers mujoco/mujoco.h, library libmujoco). If found: both libraries link it
# (through NG_LIB_DEPS), NG_HAVE_MUJOCO is defined in the build (and set ON for
# cmake/install.cmake), and models/*.xml are embedded in the library as C arrays generated at
# build time, so that no model file is needed at run time. If not found (or
# -DNG_MUJOCO=OFF): everything else builds unchanged, and creating a MuJoCo environment
# returns NG_EUNSUPPORTED with a message saying `apt-get install libmujoco-dev`.
# Run as a script (cmake -DMODELS=<dir> -DOUT=<file.c> -P mujoco.cmake) it writes that C
# file: for each <dir>/<name>.xml, `const unsigned char ng_mj_xml_<name>[]` (the text and a
# terminating NUL) and `const size_t ng_mj_xml_<name>_len` (its length without the NUL).

if(CMAKE_SCRIPT_MODE_FILE)
  file(GLOB _xmls ${MODELS}/*.xml)
  list(SORT _xmls)
  set(_code "/* Generated from the models directory by cmake/mujoco.cmake: do not edit. */\n")
  string(APPEND _code "#include <stddef.h>\n")
  foreach(_xml ${_xmls})
    get_filename_component(_name ${_xml} NAME_WE)
    file(READ ${_xml} _hex HEX)
    string(LENGTH "${_hex}" _nhex)
    math(EXPR _nbytes "${_nhex} / 2")
    # 24 bytes a line: "0x3c,0x6d,..."
    string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," _bytes "${_hex}")
    string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){24})" "\\1\n  " _bytes "${_bytes}")
    string(APPEND _code "extern const unsigned char ng_mj_xml_${_name}[];\n")
    string(APPEND _code "extern const size_t ng_mj_xml_${_name}_len;\n")
    string(APPEND _code "const unsigned char ng_mj_xml_${_name}[] = {\n  ${_bytes}0x00};\n")
    string(APPEND _code "const size_t ng_mj_xml_${_name}_len = ${_nbytes};\n")
  endforeach()
  # Rewrite only on change, so that an unchanged model does not relink the library.
  file(WRITE ${OUT}.tmp "${_code}")
  execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
  file(REMOVE ${OUT}.tmp)
  return()
endif()

option(NG_MUJOCO "Build the MuJoCo environments if libmujoco-dev is installed" ON)

if(NG_MUJOCO)
  find_path(NG_MUJOCO_INCLUDE_DIR mujoco/mujoco.h)
  find_library(NG_MUJOCO_LIBRARY mujoco)
endif()

if(NG_MUJOCO AND NG_MUJOCO_INCLUDE_DIR AND NG_MUJOCO_LIBRARY)
  file(GLOB NG_MUJOCO_MODELS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/models/*.xml)
  set(_ng_mj_out ${CMAKE_BINARY_DIR}/generated/ng_mujoco_models.c)
  add_custom_command(
    OUTPUT ${_ng_mj_out}
    COMMAND ${CMAKE_COMMAND} -DMODELS=${CMAKE_SOURCE_DIR}/models -DOUT=${_ng_mj_out}
            -P ${CMAKE_CURRENT_LIST_FILE}
    DEPENDS ${NG_MUJOCO_MODELS} ${CMAKE_CURRENT_LIST_FILE}
    COMMENT "Embedding the MuJoCo models (models/*.xml)"
    VERBATIM)
  target_sources(natgrad PRIVATE ${_ng_mj_out})
  # For tests/test_mujoco.c, which compares against MuJoCo called directly; not part of the
  # installed interface (no installed header depends on MuJoCo).
  target_compile_definitions(natgrad PUBLIC $<BUILD_INTERFACE:NG_HAVE_MUJOCO=1>)
  target_include_directories(natgrad PUBLIC $<BUILD_INTERFACE:${NG_MUJOCO_INCLUDE_DIR}>)
  # Both libraries link it (NG_LIB_DEPS); natgradConfig.cmake defines the same target again
  # for the installed static library's users.
  add_library(natgrad::mujoco UNKNOWN IMPORTED)
  set_target_properties(natgrad::mujoco PROPERTIES IMPORTED_LOCATION ${NG_MUJOCO_LIBRARY})
  list(APPEND NG_LIB_DEPS natgrad::mujoco)
  set(NG_HAVE_MUJOCO ON)
  message(STATUS "MuJoCo: ${NG_MUJOCO_LIBRARY} (MuJoCo environments enabled)")
else()
  set(NG_HAVE_MUJOCO OFF)
  message(STATUS "MuJoCo: not used; the MuJoCo environments will report NG_EUNSUPPORTED "
                 "(apt-get install libmujoco-dev, then reconfigure)")
endif()
