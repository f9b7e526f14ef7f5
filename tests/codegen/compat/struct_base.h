// The previous release of a header whose struct is a FlatBuffers struct (struct_added_field.h
// is checked against its schema).
#pragma once
#include <cstdint>

#include <brine/codegen/annotate.h>

namespace evo {

struct BRINE_EXPOSE Pixel {
  float r = 0;
  float g = 0;
  float b = 0;
};

struct BRINE_EXPOSE BRINE_TABLE Pose {
  float x = 0;
  float y = 0;
};

}  // namespace evo
