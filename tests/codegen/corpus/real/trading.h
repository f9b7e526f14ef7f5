// A trading application's messages (written for this corpus): orders and quotes with enums of
// several widths (an alias, a 64-bit flag set with the top bit), durations, optionals, C++
// default member initializers that are the schema's defaults, a noexcept task, and a task
// whose parameter is named `pool`.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <brine/codegen/annotate.h>

namespace trading {

enum class BRINE_EXPOSE Side : uint8_t { kBuy = 1, kSell = 2 };
enum class BRINE_EXPOSE TimeInForce : uint8_t { kDay = 1, kGoodTillCancel = 2, kImmediateOrCancel = 3 };
enum class BRINE_EXPOSE Priority : int8_t { kLow = -1, kNormal = 0, kHigh = 1, kDefault = kNormal };
// Venue flags: the top bit set (>= 2^63) must stay an unsigned value in the schema.
enum class BRINE_EXPOSE Flags : uint64_t { kNone = 0, kHidden = 1, kPostOnly = 2, kVenueSpecific = 1ull << 63 };

struct BRINE_EXPOSE Order {
  uint64_t id = 0;
  std::string symbol;
  Side side = Side::kBuy;
  TimeInForce tif = TimeInForce::kDay;
  Priority priority = Priority::kDefault;
  Flags flags = Flags::kNone;
  int64_t price_ticks = 0;
  uint64_t quantity = 0;
  std::optional<double> limit;
  std::chrono::nanoseconds sent{};
  double tick_size = 0.01;
  std::string client_tag;
};

struct BRINE_EXPOSE Quote {
  std::string symbol;
  double bid = 0;
  double ask = 0;
  float bid_size = 0;
  float ask_size = 0;
  std::chrono::microseconds age{};
};

struct BRINE_EXPOSE Book {
  std::vector<Order> orders;
  std::vector<Quote> quotes;
  std::vector<Flags> flag_history;
};

BRINE_TASK Order echo_order(const Order& o);
BRINE_TASK Book echo_book(const Book& b);
BRINE_TASK double mid(const Quote& q) noexcept;
BRINE_TASK int64_t notional(const Order& pool, int64_t Pool);

}  // namespace trading
