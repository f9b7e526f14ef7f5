#include <brine/brine.h>

#include <cstdio>

int square(int x) { return x * x; }
BRINE_REGISTER(square);

int main() {
  brine::Pool pool({.workers = 1});
  const int v = pool.submit(square, 12).get();
  std::printf("square(12) = %d in a worker\n", v);
  return v == 144 ? 0 : 1;
}
