#include "particles.h"

#include <algorithm>
#include <numeric>

namespace sim {

Summary simulate(const std::vector<Particle>& particles, const Field& field) {
  Summary s{.name = "run", .energy = std::accumulate(field.potential.begin(), field.potential.end(), 0.0), .heaviest = {}};
  for (const auto& p : particles) {
    if (p.mass > 1) s.heaviest.push_back(p);
  }
  return s;
}

}  // namespace sim
