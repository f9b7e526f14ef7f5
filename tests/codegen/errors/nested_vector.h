#pragma once
#include <vector>

#include <brine/codegen/annotate.h>

namespace errors {

struct BRINE_EXPOSE Matrix {
  std::vector<std::vector<double>> rows;
};

}  // namespace errors

// Expected by check_tool.cmake (the tool must exit non-zero and write nothing):
// expect: errors/nested_vector.h:9:36: error: field 'rows' of 'errors::Matrix' has type 'std::vector<std::vector<double>>': FlatBuffers has no vectors of ve
