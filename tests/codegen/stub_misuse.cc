// Must NOT compile: a typed stub rejects an argument of the wrong type at the call site.
// Built only by the ctest codegen.stub_rejects_wrong_argument, which expects the error below.
#include <string>

#include "local_pool.h"
#include "simple.brine.h"

int main() {
  brine::testing::LocalPool pool;
  return static_cast<int>(corpus::tasks::translate::submit(pool, std::string("not a point"), 1.0, 2.0).get().x);
}
