// Incompatible: two fields swapped.
#pragma once
#include <cstdint>
#include <vector>

#include <brine/codegen/annotate.h>

namespace evo {

enum class BRINE_EXPOSE Kind : uint8_t { kA = 1, kB = 2 };

struct BRINE_EXPOSE Particle {
  std::vector<double> position;
  double mass = 1;
  Kind kind = Kind::kA;
};

}  // namespace evo

// Expected by check_tool.cmake, checking this header against the schema of base.h:
// compat-base: compat/base.h
// expect-exit: 1
// expect: compat/reordered.h:14:10: error: field 'mass' of 'evo::Particle' moved from id 0 to id 1: readers built from the old schema would read another field i
// expect: compat/reordered.h:13:23: error: field 'position' of 'evo::Particle' moved from id 1 to id 0: readers built from the old schema would read another fie
