// Scalars, a string and an alias: the smallest exposed struct, a BRINE_TABLE, and a task.
#pragma once

#include <cstdint>
#include <string>

#include <brine/codegen/annotate.h>

namespace corpus {

using Meters = double;

// Two floats would make a FlatBuffers struct; BRINE_TABLE keeps it a table that can grow.
struct BRINE_EXPOSE BRINE_TABLE Pose {
  float x = 0;
  float y = 0;
  bool operator==(const Pose&) const = default;
};

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
