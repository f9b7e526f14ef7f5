#pragma once
#include <string>

#include <brine/codegen/annotate.h>

namespace errors {

struct BRINE_EXPOSE View {
  const std::string& name;
};

}  // namespace errors

// Expected by check_tool.cmake (the tool must exit non-zero and write nothing):
// expect: errors/reference.h:9:22: error: field 'name' of 'errors::View' has type 'const std::string &' (aka 'const std::basic_string<char> &'): a refer
