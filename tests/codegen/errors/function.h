#pragma once
#include <functional>

#include <brine/codegen/annotate.h>

namespace errors {

using Transform = std::function<double(double)>;

struct BRINE_EXPOSE Stage {
  int order = 0;
  Transform apply;
};

}  // namespace errors

// Expected by check_tool.cmake (the tool must exit non-zero and write nothing):
// expect: errors/function.h:12:13: error: field 'apply' of 'errors::Stage' has type 'errors::Transform' (aka 'std::function<double (double)>'): a std::f
