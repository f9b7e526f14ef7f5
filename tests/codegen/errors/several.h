#pragma once
#include <memory>
#include <string_view>

#include <brine/codegen/annotate.h>

namespace errors {

struct BRINE_EXPOSE Mixed {
  double ok = 0;
  std::unique_ptr<double> owned;
  std::string_view name;
  long double precise = 0;
};

}  // namespace errors

// Expected by check_tool.cmake (the tool must exit non-zero and write nothing):
// expect: errors/several.h:11:27: error: field 'owned' of 'errors::Mixed' has type 'std::unique_ptr<double>': a smart pointer owns memory of this proce
// expect: errors/several.h:12:20: error: field 'name' of 'errors::Mixed' has type 'std::string_view' (aka 'std::basic_string_view<char>'): a view does 
// expect: errors/several.h:13:15: error: field 'precise' of 'errors::Mixed' has type 'long double': this type has no FlatBuffers equivalent
