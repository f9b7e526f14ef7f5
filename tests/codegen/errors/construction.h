// Structs generated hooks cannot build or copy (issue 12, item 7).
#pragma once
#include <cstdint>

#include <brine/codegen/annotate.h>

namespace errors {

struct BRINE_EXPOSE Order {
  explicit Order(int64_t id) : id_(id) {}
  int64_t id_;
};

struct BRINE_EXPOSE Handle {
  Handle() = default;
  Handle(const Handle&) = delete;
  int fd = -1;
};

struct BRINE_EXPOSE MoveOnly {
  MoveOnly() = default;
  MoveOnly(MoveOnly&&) = default;
  int value = 0;
};

}  // namespace errors

// Expected by check_tool.cmake (the tool must exit non-zero and write nothing):
// expect: errors/construction.h:9:21: error: 'errors::Order' cannot be default-constructed (it declares the constructor 'Order(int64_t)' and no default constructor): a generated hook rebuilds a received value by default-constructing it and setting its fields; give it a public default constructor (`Order() = default;`)
// expect: errors/construction.h:14:21: error: 'errors::Handle' cannot be copied (its copy constructor is deleted): brine copies values into and out of envelopes; give it a public copy constructor (`Handle(const Handle&) = default;`)
// expect: errors/construction.h:20:21: error: 'errors::MoveOnly' cannot be copied (it declares a move constructor and no copy constructor): brine copies values into and out of envelopes; give it a public copy constructor (`MoveOnly(const MoveOnly&) = default;`)
