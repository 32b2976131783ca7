# libnatgrad.so's link options, and what `cmake --install build [--prefix P]` puts where:
#   P/include/natgrad/*.h            the public headers (the private src/**/*.h stay behind)
#   P/lib/libnatgrad.so.X.Y.Z        the shared library, SONAME libnatgrad.so.X.Y, with the
#   P/lib/libnatgrad.so.X.Y, .so     links to it
#   P/lib/libnatgrad.a               the static library (position-independent code)
#   P/bin/natgrad                    the command-line tool
#   P/lib/pkgconfig/natgrad.pc       cc app.c $(pkg-config --cflags --libs natgrad)
#   P/lib/cmake/natgrad/             find_package(natgrad): natgrad::natgrad (shared) and
#                                    natgrad::natgrad_static
# (lib is CMAKE_INSTALL_LIBDIR: lib/<multiarch> when P is /usr, as Debian has it.)
# Included by CMakeLists.txt once the libraries and the CLI exist.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# ---- the shared library ----------------------------------------------------------------------
# Before 1.0 every minor version may change the ABI, so the SONAME carries MAJOR.MINOR.
set_target_properties(natgrad_shared PROPERTIES
  OUTPUT_NAME natgrad
  VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR}
  EXPORT_NAME natgrad
  LINK_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/natgrad.map)
set_target_properties(natgrad PROPERTIES EXPORT_NAME natgrad_static)
# Exports all but the ng__ internals (natgrad.map). -Bsymbolic-functions binds the library's
# calls to its own functions at link time, as -fno-semantic-interposition let the compiler
# assume (CMakeLists.txt).
target_link_options(natgrad_shared PRIVATE
  -Wl,--version-script=${CMAKE_CURRENT_LIST_DIR}/natgrad.map -Wl,-Bsymbolic-functions)
# Every symbol it uses must come from a library it names, so that users need only
# -lnatgrad. Not in instrumented builds, whose runtimes only executables link.
if(NOT NG_SANITIZE AND NOT NG_SANITIZE_THREAD AND NOT NG_FUZZ)
  target_link_options(natgrad_shared PRIVATE -Wl,--no-undefined)
endif()

# ---- install ---------------------------------------------------------------------------------
set(NG_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/natgrad)
install(TARGETS natgrad_shared natgrad EXPORT natgradTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/natgrad DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
if(TARGET natgrad_cli)
  install(TARGETS natgrad_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

# pkg-config. The prefix is found from the .pc file's own place (${pcfiledir}), so that
# `cmake --install build --prefix P` and a moved tree give the right paths. Libs.private and
# Requires.private are for `pkg-config --static`: what libnatgrad.a needs (NG_LIB_DEPS).
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(NG_PC_PREFIX ${CMAKE_INSTALL_PREFIX})
  set(NG_PC_LIBDIR ${CMAKE_INSTALL_FULL_LIBDIR})
  set(NG_PC_INCLUDEDIR ${CMAKE_INSTALL_FULL_INCLUDEDIR})
else()
  file(RELATIVE_PATH _ng_up /_/${CMAKE_INSTALL_LIBDIR}/pkgconfig /_)
  string(REGEX REPLACE "/$" "" _ng_up "${_ng_up}")
  set(NG_PC_PREFIX "\${pcfiledir}/${_ng_up}")
  set(NG_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(NG_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
set(NG_PC_REQUIRES_PRIVATE "openblas zlib")
set(NG_PC_LIBS_PRIVATE "-lm -lpthread")
foreach(_ng_lib ${CMAKE_DL_LIBS})  # dlopen, where it is not in libc
  string(APPEND NG_PC_LIBS_PRIVATE " -l${_ng_lib}")
endforeach()
if(NG_HAVE_MUJOCO)  # Debian's libmujoco-dev has no .pc file
  get_filename_component(_ng_mj_dir ${NG_MUJOCO_LIBRARY} DIRECTORY)
  if(NOT _ng_mj_dir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
    set(NG_PC_LIBS_PRIVATE "-L${_ng_mj_dir} ${NG_PC_LIBS_PRIVATE}")
  endif()
  set(NG_PC_LIBS_PRIVATE "-lmujoco ${NG_PC_LIBS_PRIVATE}")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/natgrad.pc.in ${CMAKE_BINARY_DIR}/natgrad.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/natgrad.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# CMake package: natgradConfig.cmake finds the static library's dependencies, then includes
# the exported targets. Versions: same MAJOR.MINOR, as the SONAME.
install(EXPORT natgradTargets NAMESPACE natgrad:: DESTINATION ${NG_CMAKE_INSTALL_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/natgradConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/natgradConfig.cmake
                              INSTALL_DESTINATION ${NG_CMAKE_INSTALL_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/natgradConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/natgradConfig.cmake
              ${CMAKE_BINARY_DIR}/natgradConfigVersion.cmake
        DESTINATION ${NG_CMAKE_INSTALL_DIR})
