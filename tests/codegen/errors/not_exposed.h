#pragma once
#include <vector>

#include <brine/codegen/annotate.h>

namespace errors {

struct Sample {
  double t = 0;
};

struct BRINE_EXPOSE Series {
  std::vector<Sample> samples;
};

}  // namespace errors

// Expected by check_tool.cmake (the tool must exit non-zero and write nothing):
// expect: errors/not_exposed.h:13:23: error: field 'samples' of 'errors::Series' has type 'std::vector<Sample>' (aka 'std::vector<errors::Sample>'): its el
