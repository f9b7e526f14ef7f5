// The pipeline: split particles into slabs, advance every slab in the pool, measure energy.
// Run: build/release/tools/examples/particles/brine_particles [particles] [slabs] [steps]
#include "particles.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>

#include <brine/brine.h>

#include "particles.brine.h"

namespace particles {

Slab advance(const Slab& in, const World& world, double dt, int32_t steps) {
  Slab s = in;
  for (int32_t k = 0; k < steps; ++k) {
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      s.vy[i] += world.gravity * dt;
      s.x[i] += s.vx[i] * dt;
      s.y[i] += s.vy[i] * dt;
      if (world.boundary == Boundary::kWrap) {
        s.x[i] -= world.width * std::floor(s.x[i] / world.width);
        s.y[i] -= world.height * std::floor(s.y[i] / world.height);
      } else {
        if (s.x[i] < 0 || s.x[i] > world.width) s.vx[i] = -s.vx[i];
        if (s.y[i] < 0 || s.y[i] > world.height) s.vy[i] = -s.vy[i];
      }
    }
  }
  return s;
}

Energy energy(const Slab& s, const World& world) {
  Energy e{s.id, 0, 0};
  for (std::size_t i = 0; i < s.x.size(); ++i) {
    e.kinetic += 0.5 * (s.vx[i] * s.vx[i] + s.vy[i] * s.vy[i]);
    e.potential += -world.gravity * s.y[i];
  }
  return e;
}

}  // namespace particles

int main(int argc, char** argv) {
  brine::run_if_worker();
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  const std::size_t slabs = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 8;
  const int32_t steps = argc > 3 ? std::atoi(argv[3]) : 20;
  const particles::World world{1, 1, -9.81, particles::Boundary::kBounce};

  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(0, 1);
  std::vector<particles::Slab> input(slabs);
  for (std::size_t k = 0; k < slabs; ++k) {
    auto& s = input[k];
    s.id = static_cast<uint32_t>(k);
    for (std::size_t i = k; i < n; i += slabs) {
      s.x.push_back(unit(rng));
      s.y.push_back(unit(rng));
      s.vx.push_back(unit(rng) - 0.5);
      s.vy.push_back(unit(rng) - 0.5);
    }
  }

  brine::Pool pool;
  const auto start = std::chrono::steady_clock::now();
  std::vector<brine::Future<particles::Slab>> advanced;
  for (const auto& s : input) advanced.push_back(particles::tasks::advance::submit(pool, s, world, 1e-3, steps));
  double kinetic = 0, potential = 0;
  for (auto& f : advanced) {
    const particles::Energy e = particles::tasks::energy::submit(pool, f.get(), world).get();
    kinetic += e.kinetic;
    potential += e.potential;
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("%zu particles in %zu slabs, %d steps on %u workers: %.1f ms; kinetic %.1f, potential %.1f\n", n, slabs,
              steps, pool.size(), ms, kinetic, potential);
  return std::isfinite(kinetic + potential) ? 0 : 1;
}
