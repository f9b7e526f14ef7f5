// Breaking: a field added at the end of a FlatBuffers struct (a plain struct of floats) changes
// its size. The same change to a BRINE_TABLE struct is compatible.
#pragma once
#include <cstdint>

#include <brine/codegen/annotate.h>

namespace evo {

struct BRINE_EXPOSE Pixel {
  float r = 0;
  float g = 0;
  float b = 0;
  float a = 1;
};

struct BRINE_EXPOSE BRINE_TABLE Pose {
  float x = 0;
  float y = 0;
  float angle = 0;
};

}  // namespace evo

// Expected by check_tool.cmake, checking this header against the schema of struct_base.h:
// compat-base: compat/struct_base.h
// expect: compat/struct_added_field.h:14:9: error: field 'a' was added to 'evo::Pixel', a FlatBuffers struct: a struct's size is fixed (12 bytes, now 16)
