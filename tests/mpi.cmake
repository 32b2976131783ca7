# `mpirun natgrad train` (tests/mpi.sh): the same run for K = 1, 2, 3; a killed and a hung
# rank; ranks with different configs; runs of env blocks; `mpirun natgrad tune`. Without
# MPI in the build (cmake/mpi.cmake), or no mpiexec, each test says so and is skipped.
foreach(case same killed mismatch fit blocks tune)
  if(NG_HAVE_MPI AND MPIEXEC_EXECUTABLE AND TARGET natgrad_cli)
    add_test(NAME cli_mpi_${case} COMMAND bash ${CMAKE_SOURCE_DIR}/tests/mpi.sh ${case}
             $<TARGET_FILE:natgrad_cli> ${MPIEXEC_EXECUTABLE}
             ${CMAKE_CURRENT_BINARY_DIR}/cli_mpi_${case} $<TARGET_FILE:ng_plugin_reach>)
    # OpenMPI's own allocations outlive MPI_Finalize: not ours to report under ASan
    set_tests_properties(cli_mpi_${case} PROPERTIES TIMEOUT 600 RUN_SERIAL ON
      ENVIRONMENT "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1")
  else()
    add_test(NAME cli_mpi_${case} COMMAND sh -c
      "echo 'skipped: natgrad built without MPI (Debian: libopenmpi-dev openmpi-bin)'; exit 77")
    set_tests_properties(cli_mpi_${case} PROPERTIES SKIP_RETURN_CODE 77)
  endif()
endforeach()
