// check_names(): the names a header's schema would use, checked against what FlatBuffers and
// flatc's generated C++ can hold. A header that passes gives a schema flatc accepts and C++
// that compiles; one that does not is refused with a message naming both sides of a clash.
//
// Refused: identifiers that are not ASCII; two types with one schema name in one namespace
// (`Tile::Header` beside `Tile_Header`); a type named as flatc names a helper of another
// (`TileBuilder` beside table `Tile`); two fields of a table whose flatc slot constants clash
// (`T` and `t` both give VT_T); a field named as its type; enumerators MIN and MAX (flatc
// --scoped-enums adds its own).
#pragma once

#include <vector>

#include "model.h"

namespace brine::codegen {

std::vector<Diagnostic> check_names(const Header& header);

}  // namespace brine::codegen
