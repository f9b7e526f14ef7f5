# brine_generate(TARGET <target> HEADERS <header>...
#                [OUTPUT_DIR <dir>] [COMPAT_DIR <dir>] [CLANG_ARGS <arg>...])
#
# Runs brine-codegen on each header (BRINE_EXPOSE types, BRINE_TASK functions; see
# docs/codegen.md), then flatc on the schema it writes, and adds the results to <target>:
#   <dir>/<stem>.fbs          the schema of the header's types, compiled by flatc into
#   <dir>/<stem>_generated.h  (namespace <C++ namespace>::fb) in the same build;
#   <dir>/<stem>.brine.h      reduce hooks and typed task stubs (include it where you submit);
#   <dir>/<stem>.brine.cc     the tasks' registration, compiled into <target>.
# <dir> (default: ${CMAKE_CURRENT_BINARY_DIR}/brine_generated/<target>) and each header's
# directory join <target>'s private include path, and <target> links brine::annotate.
#
# A header is parsed with <target>'s include directories and compile definitions (and any
# CLANG_ARGS). Editing it, or a file it includes, regenerates; nothing else does.
# COMPAT_DIR holds the schemas of the previous release (<stem>.fbs, committed): when one
# exists the build fails if the header's new schema is not compatible with it.
#
# Works in brine's own build and from an outside project after find_package(brine).
function(brine_generate)
  cmake_parse_arguments(ARG "" "TARGET;OUTPUT_DIR;COMPAT_DIR" "HEADERS;CLANG_ARGS" ${ARGN})
  if(NOT ARG_TARGET OR NOT ARG_HEADERS)
    message(FATAL_ERROR "brine_generate: TARGET and HEADERS are required")
  endif()
  if(NOT TARGET ${ARG_TARGET})
    message(FATAL_ERROR "brine_generate: '${ARG_TARGET}' is not a target; call it after add_executable/add_library")
  endif()
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "brine_generate: unexpected arguments: ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TARGET brine::codegen)
    message(FATAL_ERROR "brine_generate: brine::codegen is missing: brine was built without BRINE_BUILD_CODEGEN")
  endif()
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/brine_generated/${ARG_TARGET})
  endif()
  set(out ${ARG_OUTPUT_DIR})

  # The target's include path and definitions, transitive usage requirements included, plus
  # annotate.h's directory.
  set(includes "$<TARGET_PROPERTY:${ARG_TARGET},INCLUDE_DIRECTORIES>")
  set(defines "$<TARGET_PROPERTY:${ARG_TARGET},COMPILE_DEFINITIONS>")
  set(annotate_includes "$<TARGET_PROPERTY:brine::annotate,INTERFACE_INCLUDE_DIRECTORIES>")

  set(header_dirs)
  foreach(header IN LISTS ARG_HEADERS)
    get_filename_component(abs ${header} ABSOLUTE)
    get_filename_component(stem ${header} NAME_WE)
    get_filename_component(dir ${abs} DIRECTORY)
    list(APPEND header_dirs ${dir})
    set(fbs ${out}/${stem}.fbs)
    set(compat)
    set(compat_depends)
    if(ARG_COMPAT_DIR)
      get_filename_component(compat_dir ${ARG_COMPAT_DIR} ABSOLUTE)
      if(EXISTS ${compat_dir}/${stem}.fbs)
        set(compat --check-compat ${compat_dir}/${stem}.fbs)
        set(compat_depends ${compat_dir}/${stem}.fbs)
      endif()
    endif()
    add_custom_command(
      OUTPUT ${fbs} ${out}/${stem}.brine.h ${out}/${stem}.brine.cc
      COMMAND brine::codegen ${abs} -o ${out} --depfile ${out}/${stem}.d ${compat} --
        "$<$<BOOL:${includes}>:-I$<JOIN:${includes},;-I>>"
        "-I$<JOIN:${annotate_includes},;-I>"
        "$<$<BOOL:${defines}>:-D$<JOIN:${defines},;-D>>"
        ${ARG_CLANG_ARGS}
      DEPENDS ${abs} brine::codegen ${compat_depends}
      DEPFILE ${out}/${stem}.d
      COMMENT "brine-codegen ${header}"
      COMMAND_EXPAND_LISTS VERBATIM)
    add_custom_command(
      OUTPUT ${out}/${stem}_generated.h
      COMMAND flatbuffers::flatc --cpp --scoped-enums -o ${out} ${fbs}
      DEPENDS ${fbs} flatbuffers::flatc
      COMMENT "flatc ${stem}.fbs"
      VERBATIM)
    target_sources(${ARG_TARGET} PRIVATE ${out}/${stem}.brine.cc ${out}/${stem}.brine.h ${out}/${stem}_generated.h)
  endforeach()
  list(REMOVE_DUPLICATES header_dirs)
  target_include_directories(${ARG_TARGET} PRIVATE ${out} ${header_dirs})
  target_link_libraries(${ARG_TARGET} PRIVATE brine::annotate)
endfunction()
