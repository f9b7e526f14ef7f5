// Unions and unnamed types (issue 12, items 1 and 2).
#pragma once
#include <cstdint>

#include <brine/codegen/annotate.h>

namespace errors {

union Value {
  int64_t i;
  double d;
};

struct BRINE_EXPOSE Cell {
  Value value;
};

struct BRINE_EXPOSE Packet {
  uint32_t id;
  struct {
    uint16_t x;
    uint16_t y;
  };
};

enum BRINE_EXPOSE { kUnnamedA, kUnnamedB };

}  // namespace errors

// Expected by check_tool.cmake (the tool must exit non-zero and write nothing):
// expect: errors/unions.h:26:1: error: this enum has no name the schema and the generated code can use; name it (or name it with a typedef: `typedef enum {...} Name;`)
// expect: errors/unions.h:15:9: error: field 'value' of 'errors::Cell' has type 'errors::Value': a union holds one of its members and nothing records which one is live, so brine-codegen cannot send it; hold the one member you use as a plain field instead
// expect: errors/unions.h:20:3: error: 'errors::Packet' has an anonymous struct (members 'x', 'y'): brine-codegen would have to drop it; name the struct, expose it, and hold it as a field
