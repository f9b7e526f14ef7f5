#pragma once
#include <brine/codegen/annotate.h>

namespace errors {

struct BRINE_EXPOSE Broken {
  double x = 0
};

}  // namespace errors

// Expected by check_tool.cmake (the tool must exit non-zero and write nothing):
// expect: errors/syntax_error.h:7:15: error: expected '
