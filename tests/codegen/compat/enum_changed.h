// Incompatible: an enumerator changed value.
#pragma once
#include <cstdint>
#include <vector>

#include <brine/codegen/annotate.h>

namespace evo {

enum class BRINE_EXPOSE Kind : uint8_t { kA = 1, kB = 3 };

struct BRINE_EXPOSE Particle {
  double mass = 1;
  std::vector<double> position;
  Kind kind = Kind::kA;
};

}  // namespace evo

// Expected by check_tool.cmake, checking this header against the schema of base.h:
// compat-base: compat/base.h
// expect-exit: 1
// expect: compat/enum_changed.h:10:25: error: enumerator 'kB' of 'evo::Kind' changed value from 2 to 3: old and new binaries would disagree on its meaning. Keep
