// The previous release: the other headers of this directory are checked against base.fbs.
#pragma once
#include <cstdint>
#include <vector>

#include <brine/codegen/annotate.h>

namespace evo {

enum class BRINE_EXPOSE Kind : uint8_t { kA = 1, kB = 2 };

struct BRINE_EXPOSE Particle {
  double mass = 1;
  std::vector<double> position;
  Kind kind = Kind::kA;
};

}  // namespace evo
