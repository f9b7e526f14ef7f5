// Vectors of scalars, strings, bools and exposed structs, and a vector of a struct that holds
// a vector (the nesting FlatBuffers allows).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <brine/codegen/annotate.h>

namespace corpus {

struct BRINE_EXPOSE Particle {
  double mass = 1;
  std::vector<double> position;
  bool operator==(const Particle&) const = default;
};

struct BRINE_EXPOSE Cloud {
  std::vector<Particle> particles;
  std::vector<std::string> names;
  std::vector<bool> alive;
  std::vector<int32_t> ids;
  bool operator==(const Cloud&) const = default;
};

BRINE_TASK Cloud step(const Cloud& cloud, double dt);
BRINE_TASK double total_mass(const std::vector<Particle>& particles);

}  // namespace corpus
