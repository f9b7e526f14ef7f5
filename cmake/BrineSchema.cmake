# brine_flatc(<target> OUT_DIR <dir> SCHEMAS <fbs>...): compiles FlatBuffers schemas at build
# time into <dir>/<name>_generated.h and makes <target> depend on them.
set(BRINE_GENERATED_INCLUDE_DIR ${PROJECT_BINARY_DIR}/generated/include)
function(brine_flatc target)
  cmake_parse_arguments(ARG "" "OUT_DIR" "SCHEMAS" ${ARGN})
  set(outputs)
  foreach(schema IN LISTS ARG_SCHEMAS)
    get_filename_component(abs ${schema} ABSOLUTE)
    get_filename_component(dir ${abs} DIRECTORY)
    get_filename_component(name ${schema} NAME_WE)
    set(out ${ARG_OUT_DIR}/${name}_generated.h)
    add_custom_command(OUTPUT ${out}
      COMMAND flatbuffers::flatc --cpp --scoped-enums -I ${dir} -o ${ARG_OUT_DIR} ${abs}
      DEPENDS ${abs} ${ARG_SCHEMAS} flatbuffers::flatc
      COMMENT "flatc ${name}.fbs" VERBATIM)
    list(APPEND outputs ${out})
  endforeach()
  add_custom_target(${target}_schemas DEPENDS ${outputs})
  add_dependencies(${target} ${target}_schemas)
endfunction()
