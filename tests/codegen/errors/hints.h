// Fields whose hint must name the real fix (issue 12, item 13).
#pragma once
#include <chrono>
#include <cstdint>

#include <brine/codegen/annotate.h>

namespace errors {

template <class T>
struct BRINE_EXPOSE Box {
  T value;
};

struct BRINE_EXPOSE Holder {
  Box<int> box;
  std::chrono::system_clock::time_point when;
  double rate = compute();
  static double compute();
};

}  // namespace errors

// Expected by check_tool.cmake (the tool must exit non-zero and write nothing):
// expect: errors/hints.h:11:21: error: 'Box' is a class template: brine-codegen generates code for concrete types; expose an explicit specialization (`template <> struct BRINE_EXPOSE Box<...> {...};`) or a plain struct
// expect: errors/hints.h:16:12: error: field 'box' of 'errors::Holder' has type 'Box<int>' (aka 'errors::Box<int>'): 'errors::Box<int>' is an instantiation of the class template 'Box': brine-codegen exposes concrete types only; declare an explicit specialization `template <> struct BRINE_EXPOSE Box<...> {...};` in this header, or use a plain BRINE_EXPOSE struct
// expect: errors/hints.h:17:41: error: field 'when' of 'errors::Holder' has type 'std::chrono::system_clock::time_point' (aka 'std::chrono::time_point<std::chrono::system_clock, std::chrono::duration<long, std::ratio<1, 1000000000>>>'): a std::chrono::time_point is not supported; hold its time_since_epoch() as a std::chrono::duration field (e.g. std::chrono::nanoseconds) and rebuild the time_point from its clock
// expect: errors/hints.h:18:10: error: the default member initializer of field 'rate' of 'errors::Holder' is not a constant brine-codegen can evaluate, and the schema declares the field's default from it (what a reader sees when the field is absent); initialize it with a constant expression (a literal, an enumerator, a constexpr variable) or not at all
