#pragma once
#include <string>

#include <brine/codegen/annotate.h>

namespace errors {

struct BRINE_EXPOSE Label {
  BRINE_REF std::string text;
};

}  // namespace errors

// Expected by check_tool.cmake (the tool must exit non-zero and write nothing):
// expect: errors/misplaced_ref.h:9:25: error: BRINE_REF on field 'text' of 'errors::Label' has no effect: only contiguous arithmetic data (std::vector<doubl
