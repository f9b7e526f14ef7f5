#pragma once
#include <brine/codegen/annotate.h>

namespace errors {

struct BRINE_EXPOSE Node {
  int value = 0;
  Node* next = nullptr;
};

}  // namespace errors

// Expected by check_tool.cmake (the tool must exit non-zero and write nothing):
// expect: errors/raw_pointer.h:8:9: error: field 'next' of 'errors::Node' has type 'errors::Node *': a raw pointer is an address in this process and mean
