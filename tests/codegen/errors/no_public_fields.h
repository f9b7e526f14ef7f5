#pragma once
#include <brine/codegen/annotate.h>

namespace errors {

class Secret {
 public:
  int key() const { return key_; }

 private:
  int key_ = 0;
};

struct BRINE_EXPOSE Holder {
  Secret secret;
};

}  // namespace errors

// Expected by check_tool.cmake (the tool must exit non-zero and write nothing):
// expect: errors/no_public_fields.h:15:10: error: field 'secret' of 'errors::Holder' has type 'errors::Secret': 'errors::Secret' is a class with no public field
