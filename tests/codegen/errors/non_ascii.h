// Identifiers a FlatBuffers schema cannot hold (issue 12, item 5).
#pragma once

#include <brine/codegen/annotate.h>

namespace errors {

struct BRINE_EXPOSE Body {
  double größe = 0;
  double mass = 0;
};

}  // namespace errors

// Expected by check_tool.cmake (the tool must exit non-zero and write nothing):
// expect: errors/non_ascii.h:9:10: error: field 'größe' of 'errors::Body' is not an ASCII identifier, and a FlatBuffers schema holds only ASCII letters, digits and '_' (flatc refuses anything else); rename it in ASCII
