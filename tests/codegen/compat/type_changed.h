// Incompatible: a field changed type.
#pragma once
#include <cstdint>
#include <vector>

#include <brine/codegen/annotate.h>

namespace evo {

enum class BRINE_EXPOSE Kind : uint8_t { kA = 1, kB = 2 };

struct BRINE_EXPOSE Particle {
  float mass = 1;
  std::vector<double> position;
  Kind kind = Kind::kA;
};

}  // namespace evo

// Expected by check_tool.cmake, checking this header against the schema of base.h:
// compat-base: compat/base.h
// expect-exit: 1
// expect: compat/type_changed.h:13:9: error: field 'mass' (id 0) of 'evo::Particle' changed type from double to float: readers built from the old schema would m
