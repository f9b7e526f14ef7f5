// Large contiguous data: forced by reference (BRINE_REF), forced copied (BRINE_COPY) and by
// the size rule; std::array of scalars and of structs, in a table and in a FlatBuffers struct.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include <brine/codegen/annotate.h>

namespace corpus {

struct BRINE_EXPOSE Tap {
  float gain = 0;
  bool operator==(const Tap&) const = default;
};

// A FlatBuffers struct holding fixed-length arrays ([float:3], [Tap:2]).
struct BRINE_EXPOSE Window {
  std::array<float, 3> weights{};
  std::array<Tap, 2> edges{};
  uint32_t size = 0;
  bool operator==(const Window&) const = default;
};

struct BRINE_EXPOSE Image {
  uint32_t width = 0;
  uint32_t height = 0;
  BRINE_REF std::vector<float> pixels;      // always in the shared arena
  BRINE_COPY std::array<float, 9> kernel{};  // always inside the task
  std::vector<uint16_t> histogram;          // by size
  BRINE_REF std::array<double, 4096> lut{};
  std::array<Tap, 3> taps{};
  Window window;
  bool operator==(const Image&) const = default;
};

BRINE_TASK Image blur(const Image& in, int radius);
BRINE_TASK double sum(std::span<const double> values);

}  // namespace corpus
