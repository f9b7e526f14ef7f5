#pragma once
#include <brine/codegen/annotate.h>

namespace errors {

struct BRINE_EXPOSE Nothing {};

}  // namespace errors

// Expected by check_tool.cmake (the tool must exit non-zero and write nothing):
// expect: errors/empty_struct.h:6:21: error: 'errors::Nothing' has no fields: its hook lists them with brine::Fields
