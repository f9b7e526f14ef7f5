# Installs brine from BUILD_DIR into a scratch prefix, then configures, builds and runs the
# project in SOURCE_DIR against it: proves find_package(brine) + brine::brine work outside.
set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} COMMAND_ERROR_IS_FATAL ANY OUTPUT_QUIET)
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build -G Ninja
  -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${CXX} "-DCMAKE_CXX_FLAGS=${FLAGS}" COMMAND_ERROR_IS_FATAL ANY)
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build COMMAND_ERROR_IS_FATAL ANY)
# RUNNER: a launcher for the program, e.g. "mpirun -np 3" (optional).
separate_arguments(runner UNIX_COMMAND "${RUNNER}")
if(DEFINED PYTHON)
  # A library of native tasks for Python: SOURCE_DIR/main.py runs it with the installed package
  # (PYTHON_DIR, relative to the prefix). ENV: a list of extra variables, e.g. the sanitizer runtime.
  execute_process(COMMAND ${CMAKE_COMMAND} -E env PYTHONPATH=${prefix}/${PYTHON_DIR} ${ENV}
                          ${PYTHON} ${SOURCE_DIR}/main.py ${WORK_DIR}/build/libmy_tasks.so
                  WORKING_DIRECTORY / COMMAND_ERROR_IS_FATAL ANY)
else()
  execute_process(COMMAND ${runner} ${WORK_DIR}/build/outside COMMAND_ERROR_IS_FATAL ANY)
endif()
file(REMOVE_RECURSE ${WORK_DIR})
