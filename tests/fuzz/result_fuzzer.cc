// libFuzzer target: the parent side (verify_result + decode_result<T>). See fuzz_harness.h.
#include "fuzz_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  brine::fuzz::decode_result_input({reinterpret_cast<const std::byte*>(data), size});
  return 0;
}
