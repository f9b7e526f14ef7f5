// Two versions of one struct, in two namespaces so one test can hold both: v2 adds a field at
// the end. The wire does not carry names, so v2 data decodes as v1 and back.
#pragma once

#include <vector>

#include <brine/codegen/annotate.h>

namespace evolution_v1 {

struct BRINE_EXPOSE Particle {
  double mass = 1;
  std::vector<double> position;
};

}  // namespace evolution_v1
