// Definitions of the corpus's tasks (the corpus headers only declare them).
#include <algorithm>
#include <numeric>

#include "arrays.h"
#include "enums.h"
#include "nested.h"
#include "optional.h"
#include "simple.h"
#include "vectors.h"

namespace corpus {

Point translate(const Point& p, double dx, double dy) {
  Point out = p;
  out.x += dx;
  out.y += dy;
  return out;
}

std::string describe(const Point& p) { return p.label + "@" + std::to_string(p.id); }

namespace geo {
float length(const Segment& s) {
  const float dx = s.to.x - s.from.x;
  const float dy = s.to.y - s.from.y;
  return dx * dx + dy * dy;  // squared: exact for the test
}
}  // namespace geo

std::optional<double> midpoint(const Reading& r) {
  if (!r.valid) return std::nullopt;
  return (r.valid->low + r.valid->high) / 2;
}

Color brightest(const Palette& p) {
  return p.colors.empty() ? p.primary : *std::max_element(p.colors.begin(), p.colors.end());
}

Cloud step(const Cloud& cloud, double dt) {
  Cloud out = cloud;
  for (auto& particle : out.particles) {
    for (double& x : particle.position) x += dt;
  }
  return out;
}

double total_mass(const std::vector<Particle>& particles) {
  double m = 0;
  for (const auto& p : particles) m += p.mass;
  return m;
}

Image blur(const Image& in, int radius) {
  Image out = in;
  for (float& p : out.pixels) p *= static_cast<float>(radius);
  return out;
}

double sum(std::span<const double> values) { return std::accumulate(values.begin(), values.end(), 0.0); }

}  // namespace corpus
