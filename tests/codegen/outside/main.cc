// Submits the typed task through an in-process pool and checks the answer; exits non-zero on a
// mismatch.
#include <cstdio>

#include "local_pool.h"
#include "particles.brine.h"
#include "particles_generated.h"

int main() {
  brine::testing::LocalPool pool;
  const std::vector<sim::Particle> particles = {{sim::Species::kProton, 1836}, {sim::Species::kElectron, 1}};
  const sim::Field field{.potential = std::vector<double>(50'000, 0.5), .width = 50'000};
  const sim::Summary s = sim::tasks::simulate::submit(pool, particles, field).get();
  const bool ok = s.name == "run" && s.energy == 25'000 && s.heaviest.size() == 1 &&
                  s.heaviest[0].species == sim::Species::kProton && pool.arena().blocks() > 0 &&
                  static_cast<int>(sim::fb::Species::kProton) == static_cast<int>(sim::Species::kProton);
  std::printf("%s: energy %g, %zu heavy, %zu arena blocks\n", ok ? "ok" : "FAILED", s.energy, s.heaviest.size(),
              pool.arena().blocks());
  return ok ? 0 : 1;
}
