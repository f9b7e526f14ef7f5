// Scalars, a string and an alias: the smallest exposed struct, and a task.
#pragma once

#include <cstdint>
#include <string>

#include <brine/codegen/annotate.h>

namespace corpus {

using Meters = double;

struct BRINE_EXPOSE Point {
  Meters x = 0;
  double y = 0;
  int32_t id = 0;
  uint8_t flags = 0;
  bool visible = true;
  std::string label;
  bool operator==(const Point&) const = default;
};

BRINE_TASK Point translate(const Point& p, double dx, double dy);
BRINE_TASK std::string describe(const Point& p);

}  // namespace corpus
