#pragma once
#include <map>
#include <string>

#include <brine/codegen/annotate.h>

namespace errors {

struct BRINE_EXPOSE Config {
  std::map<std::string, int> values;
};

}  // namespace errors

// Expected by check_tool.cmake (the tool must exit non-zero and write nothing):
// expect: errors/map.h:10:30: error: field 'values' of 'errors::Config' has type 'std::map<std::string, int>' (aka 'std::map<std::basic_string<char
