// Three exposed structs and a task: what a user writes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <brine/codegen/annotate.h>

namespace sim {

enum class BRINE_EXPOSE Species : uint8_t { kElectron, kProton };

struct BRINE_EXPOSE Particle {
  Species species = Species::kElectron;
  double mass = 1;
};

struct BRINE_EXPOSE Field {
  BRINE_REF std::vector<double> potential;  // large: travels by reference
  uint32_t width = 0;
};

struct BRINE_EXPOSE Summary {
  std::string name;
  double energy = 0;
  std::vector<Particle> heaviest;
};

BRINE_TASK Summary simulate(const std::vector<Particle>& particles, const Field& field);

}  // namespace sim
