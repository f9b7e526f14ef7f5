#pragma once
#include <brine/codegen/annotate.h>

namespace errors {

class BRINE_EXPOSE Account {
 public:
  double limit = 0;

 private:
  double balance_ = 0;
};

}  // namespace errors

// Expected by check_tool.cmake (the tool must exit non-zero and write nothing):
// expect: errors/private_field.h:11:10: error: field 'balance_' of 'errors::Account' is private: generated hooks can only reach public fields
