// Breaking: BRINE_TABLE dropped from a struct of two floats turns its table into a FlatBuffers
// struct, and a struct (kept as it was) stays compatible.
#pragma once
#include <cstdint>

#include <brine/codegen/annotate.h>

namespace evo {

struct BRINE_EXPOSE Pixel {
  float r = 0;
  float g = 0;
  float b = 0;
};

struct BRINE_EXPOSE Pose {
  float x = 0;
  float y = 0;
};

}  // namespace evo

// Expected by check_tool.cmake, checking this header against the schema of struct_base.h:
// compat-base: compat/struct_base.h
// expect: compat/struct_kind_changed.h:16:21: error: 'evo::Pose' was a table and is now a FlatBuffers struct: the bytes of every value differ. Mark it BRINE_TABLE to keep it a table
