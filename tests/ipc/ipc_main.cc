// main() of pool_behaviour_tests. StartMethod::kSpawn execs /proc/self/exe with the same
// command line; brine::run_if_worker() must run first so that such a process serves as a
// worker instead of running the tests again (like multiprocessing.freeze_support()).
#include <gtest/gtest.h>

#include "brine/ipc/pool.h"

int main(int argc, char** argv) {
  brine::run_if_worker();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
