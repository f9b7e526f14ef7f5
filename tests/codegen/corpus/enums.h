// Scoped and unscoped enums of several widths, one without a zero value, and vectors of them.
#pragma once

#include <cstdint>
#include <vector>

#include <brine/codegen/annotate.h>

namespace corpus {

enum class BRINE_EXPOSE Color : uint8_t { kRed = 1, kGreen = 2, kBlue = 7 };
enum class BRINE_EXPOSE Level : int16_t { kLow = -1, kNone = 0, kHigh = 1 };
enum BRINE_EXPOSE Shape { kCircle, kSquare, kTriangle };

struct BRINE_EXPOSE Palette {
  Color primary = Color::kRed;
  Level level = Level::kNone;
  Shape shape = kCircle;
  std::vector<Color> colors;
  bool operator==(const Palette&) const = default;
};

BRINE_TASK Color brightest(const Palette& p);

}  // namespace corpus
