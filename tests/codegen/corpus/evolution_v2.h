// Version 2 of evolution_v1.h's Particle: one field added at the end.
#pragma once

#include <vector>

#include <brine/codegen/annotate.h>

namespace evolution_v2 {

struct BRINE_EXPOSE Particle {
  double mass = 1;
  std::vector<double> position;
  float charge = -1;
};

}  // namespace evolution_v2
