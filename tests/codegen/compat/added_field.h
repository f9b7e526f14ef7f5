// Compatible: a field and an enumerator added at the end.
#pragma once
#include <cstdint>
#include <vector>

#include <brine/codegen/annotate.h>

namespace evo {

enum class BRINE_EXPOSE Kind : uint8_t { kA = 1, kB = 2, kC = 3 };

struct BRINE_EXPOSE Particle {
  double mass = 1;
  std::vector<double> position;
  Kind kind = Kind::kA;
  float charge = 0;
};

}  // namespace evo

// Expected by check_tool.cmake, checking this header against the schema of base.h:
// compat-base: compat/base.h
// expect-exit: 0
