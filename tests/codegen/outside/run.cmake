# cmake -P: installs brine from BUILD into WORK/prefix, then configures, builds and runs the
# project in SOURCE (copied to WORK/src) against it. Also checks the build's dependencies: a
# second build does nothing, and editing the header regenerates.
cmake_minimum_required(VERSION 3.25)
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK})
file(COPY ${SOURCE}/ DESTINATION ${WORK}/src)
run(${CMAKE_COMMAND} --install ${BUILD} --prefix ${WORK}/prefix)
run(${CMAKE_COMMAND} -S ${WORK}/src -B ${WORK}/build -G ${GENERATOR} -DCMAKE_PREFIX_PATH=${WORK}/prefix
    -DCMAKE_CXX_COMPILER=${CXX} "-DCMAKE_CXX_FLAGS=${FLAGS}" -DBRINE_TEST_HARNESS_DIR=${HARNESS})
run(${CMAKE_COMMAND} --build ${WORK}/build)
run(${WORK}/build/particles_app)
message(STATUS "${out}")

run(${CMAKE_COMMAND} --build ${WORK}/build --verbose)
if(out MATCHES "brine-codegen|flatc")
  message(FATAL_ERROR "a second build regenerated code although nothing changed:\n${out}")
endif()
file(TOUCH ${WORK}/src/particles.h)
run(${CMAKE_COMMAND} --build ${WORK}/build)
if(NOT out MATCHES "brine-codegen particles.h")
  message(FATAL_ERROR "editing particles.h did not regenerate:\n${out}")
endif()
