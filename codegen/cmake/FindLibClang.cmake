# FindLibClang: the libclang C API (clang-c/Index.h + libclang), for brine-codegen.
#
# Looks, in order, in LIBCLANG_ROOT, the prefix `llvm-config` reports, and the usual
# distribution places (/usr/lib/llvm-<N>, newest first; Homebrew's llvm). Defines
# LibClang_FOUND, LibClang_INCLUDE_DIR, LibClang_LIBRARY and the imported target LibClang::LibClang.
include(FindPackageHandleStandardArgs)

set(_libclang_hints)
if(LIBCLANG_ROOT)
  list(APPEND _libclang_hints ${LIBCLANG_ROOT})
endif()
find_program(LibClang_LLVM_CONFIG NAMES llvm-config llvm-config-19 llvm-config-18 llvm-config-17 llvm-config-16
  llvm-config-15 llvm-config-14)
if(LibClang_LLVM_CONFIG)
  execute_process(COMMAND ${LibClang_LLVM_CONFIG} --prefix OUTPUT_VARIABLE _llvm_prefix
    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  list(APPEND _libclang_hints ${_llvm_prefix})
endif()
file(GLOB _llvm_dirs /usr/lib/llvm-* /usr/local/opt/llvm /opt/homebrew/opt/llvm)
list(SORT _llvm_dirs COMPARE NATURAL ORDER DESCENDING)
list(APPEND _libclang_hints ${_llvm_dirs})

find_path(LibClang_INCLUDE_DIR clang-c/Index.h HINTS ${_libclang_hints} PATH_SUFFIXES include)
# Prefer the library of the same installation as the header.
get_filename_component(_libclang_prefix "${LibClang_INCLUDE_DIR}" DIRECTORY)
find_library(LibClang_LIBRARY NAMES clang libclang HINTS ${_libclang_prefix} ${_libclang_hints} PATH_SUFFIXES lib)

find_package_handle_standard_args(LibClang REQUIRED_VARS LibClang_LIBRARY LibClang_INCLUDE_DIR)
if(LibClang_FOUND AND NOT TARGET LibClang::LibClang)
  add_library(LibClang::LibClang UNKNOWN IMPORTED)
  set_target_properties(LibClang::LibClang PROPERTIES
    IMPORTED_LOCATION "${LibClang_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${LibClang_INCLUDE_DIR}")
endif()
mark_as_advanced(LibClang_INCLUDE_DIR LibClang_LIBRARY LibClang_LLVM_CONFIG)
