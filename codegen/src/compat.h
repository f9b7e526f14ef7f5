// check_compat(): whether a header's new schema can replace the schema brine-codegen wrote
// before (a committed .fbs), under the rules of docs/codegen.md:
//  - every old field keeps its id, name and type (moving, removing, or retyping one is an error:
//    readers built from the old schema would misread the data);
//  - fields added after the last old id are compatible (old readers ignore them, new readers
//    give old data their default);
//  - enumerators keep their values; new ones may be added.
// Both schemas are parsed with flatbuffers::Parser, never by hand.
#pragma once

#include <string>
#include <vector>

#include "model.h"

namespace brine::codegen {

// Returns the problems found, located in the header where possible; warnings are marked.
std::vector<Diagnostic> check_compat(const Header& header, const std::string& new_schema,
                                     const std::string& old_schema_path);

}  // namespace brine::codegen
