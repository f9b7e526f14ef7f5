// Compatible with a warning: a field renamed (same id, same type).
#pragma once
#include <cstdint>
#include <vector>

#include <brine/codegen/annotate.h>

namespace evo {

enum class BRINE_EXPOSE Kind : uint8_t { kA = 1, kB = 2 };

struct BRINE_EXPOSE Particle {
  double weight = 1;
  std::vector<double> position;
  Kind kind = Kind::kA;
};

}  // namespace evo

// Expected by check_tool.cmake, checking this header against the schema of base.h:
// compat-base: compat/base.h
// expect-exit: 0
// expect: compat/renamed.h:13:10: warning: field 'mass' (id 0) of 'evo::Particle' is now named 'weight': compatible on the wire (same id and type)
