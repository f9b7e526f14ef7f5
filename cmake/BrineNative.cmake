# brine_add_native(<target> <sources>...): a shared library of native C++ tasks for Python
# (BRINE_PYTHON_NATIVE in <brine/python/native.h>), loaded with brine.load_native(path) and called
# with pool.submit_native("name", ...). It is compiled against brine's headers only: its brine
# symbols resolve against the brine Python module at load time, so the two share one function
# registry (linking brine's static libraries into it would make a second one).
#
# Works in brine's own tree and from an installed package (find_package(brine)).
function(brine_add_native name)
  add_library(${name} MODULE ${ARGN})
  target_compile_features(${name} PRIVATE cxx_std_20)
  foreach(dep IN ITEMS brine::core brine::ipc flatbuffers::flatbuffers)
    target_include_directories(${name} PRIVATE $<TARGET_PROPERTY:${dep},INTERFACE_INCLUDE_DIRECTORIES>)
    target_compile_definitions(${name} PRIVATE $<TARGET_PROPERTY:${dep},INTERFACE_COMPILE_DEFINITIONS>)
  endforeach()
  if(DEFINED BRINE_PYTHON_INCLUDE_DIR)  # brine's own tree; installed, the header is beside brine's
    target_include_directories(${name} PRIVATE ${BRINE_PYTHON_INCLUDE_DIR})
  endif()
  if(TARGET brine_core)  # in brine's tree: the generated FlatBuffers headers come first
    add_dependencies(${name} brine_core brine_ipc)
  endif()
endfunction()
