// Exposed structs holding exposed structs, in and out of a namespace, and a nested class.
#pragma once

#include <string>

#include <brine/codegen/annotate.h>

namespace corpus::geo {

struct BRINE_EXPOSE Vec2 {
  float x = 0;
  float y = 0;
  bool operator==(const Vec2&) const = default;
};

struct BRINE_EXPOSE Segment {
  struct BRINE_EXPOSE Style {
    std::string color = "black";
    float width = 1;
    bool operator==(const Style&) const = default;
  };
  Vec2 from;
  Vec2 to;
  Style style;
  bool operator==(const Segment&) const = default;
};

BRINE_TASK float length(const Segment& s);

}  // namespace corpus::geo

struct BRINE_EXPOSE Labelled {
  corpus::geo::Segment segment;
  std::string text;
  bool operator==(const Labelled&) const = default;
};
