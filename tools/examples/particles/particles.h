// A particle simulation step, declared once: brine-codegen turns these declarations into a
// FlatBuffers schema (particles.fbs), reduce hooks and typed task stubs (particles.brine.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <brine/codegen/annotate.h>

namespace particles {

enum class BRINE_EXPOSE Boundary : uint8_t { kWrap, kBounce };

struct BRINE_EXPOSE World {
  double width = 1;
  double height = 1;
  double gravity = -9.81;
  Boundary boundary = Boundary::kBounce;
};

// A slab of particles, structure-of-arrays: the big arrays travel through the shared arena.
struct BRINE_EXPOSE Slab {
  uint32_t id = 0;
  BRINE_REF std::vector<double> x;
  BRINE_REF std::vector<double> y;
  BRINE_REF std::vector<double> vx;
  BRINE_REF std::vector<double> vy;
};

struct BRINE_EXPOSE Energy {
  uint32_t slab = 0;
  double kinetic = 0;
  double potential = 0;
};

// Advances a slab by `steps` steps of `dt` seconds.
BRINE_TASK Slab advance(const Slab& slab, const World& world, double dt, int32_t steps);
// The energy of a slab, to check the simulation.
BRINE_TASK Energy energy(const Slab& slab, const World& world);

}  // namespace particles
