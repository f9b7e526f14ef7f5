// libFuzzer target: the worker side (verify_task + run_task). See fuzz_harness.h.
#include "fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  brine::fuzz::run_task_input({reinterpret_cast<const std::byte*>(data), size});
  return 0;
}
