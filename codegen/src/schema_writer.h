// write_schema(): the FlatBuffers schema (.fbs) of a header's exposed types.
//
// Each exposed struct becomes a table in namespace <C++ namespace>.fb, each field gets an
// explicit id equal to its declaration index, which is also its position in the composite the
// generated reduce hook writes: the schema is the contract the wire follows. Extra facts the
// FlatBuffers type system does not carry are attributes, so --check-compat can compare them:
// brine_optional (std::optional of a non-scalar), brine_length (std::array<T, N>),
// brine_placement ("ref" / "copy", informative only).
#pragma once

#include <string>

#include "model.h"

namespace brine::codegen {

std::string write_schema(const Header& header);

// The 4-character file_identifier of a header's schema, from its file name: "shapes" -> "SHAP".
std::string file_identifier(const std::string& stem);

}  // namespace brine::codegen
