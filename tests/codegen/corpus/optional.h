// std::optional of scalars, enums, strings, vectors and structs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <brine/codegen/annotate.h>

namespace corpus {

enum class BRINE_EXPOSE Unit : uint8_t { kMeter = 1, kFoot = 2 };

struct BRINE_EXPOSE Range {
  double low = 0;
  double high = 0;
  bool operator==(const Range&) const = default;
};

struct BRINE_EXPOSE Reading {
  std::optional<double> value;
  std::optional<Unit> unit;
  std::optional<std::string> note;
  std::optional<std::vector<int64_t>> history;
  std::optional<Range> valid;
  bool operator==(const Reading&) const = default;
};

BRINE_TASK std::optional<double> midpoint(const Reading& r);

}  // namespace corpus
