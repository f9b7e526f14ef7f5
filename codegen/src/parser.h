// parse_header(): reads one C++ header with libclang and builds its Model (model.h).
//
// Only declarations written in the header itself count: a BRINE_EXPOSE struct or enum, a
// BRINE_TASK function, BRINE_REF / BRINE_COPY on fields. Field types are resolved through
// aliases to their canonical type. Every problem found is reported (not only the first), each
// at the declaration it concerns.
#pragma once

#include <string>
#include <vector>

#include "model.h"

namespace brine::codegen {

struct ParseResult {
  Header header;
  std::vector<Diagnostic> errors;  // empty on success
};

// `clang_args` are passed to clang as they are (-I, -D, -std=...).
ParseResult parse_header(const std::string& path, const std::vector<std::string>& clang_args);

}  // namespace brine::codegen
