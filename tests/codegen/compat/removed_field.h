// Incompatible: a field in the middle removed (from a table: without BRINE_TABLE the struct left
// would be a FlatBuffers struct, itself a breaking change).
#pragma once
#include <cstdint>
#include <vector>

#include <brine/codegen/annotate.h>

namespace evo {

enum class BRINE_EXPOSE Kind : uint8_t { kA = 1, kB = 2 };

struct BRINE_EXPOSE BRINE_TABLE Particle {
  double mass = 1;
  Kind kind = Kind::kA;
};

}  // namespace evo

// Expected by check_tool.cmake, checking this header against the schema of base.h:
// compat-base: compat/base.h
// expect-exit: 1
// expect: compat/removed_field.h:13:33: error: field 'position' (id 1, [double]) of 'evo::Particle' was removed and 'kind' took its place: readers built from th
// expect: compat/removed_field.h:15:8: error: field 'kind' of 'evo::Particle' moved from id 2 to id 1: readers built from the old schema would read another fiel
