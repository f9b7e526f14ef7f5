// Definitions of the real-header corpus's tasks: each echo returns its argument, so a value
// travels to a worker and back through two envelopes.
#include "benchmark_cpuinfo.h"
#include "geojson.h"
#include "glibc_elf.h"
#include "libpng_time.h"
#include "linux_can.h"
#include "linux_tcp_info.h"
#include "map_tile.h"
#include "trading.h"

namespace linux_can {
can_frame echo_can(const can_frame& f) { return f; }
canfd_frame echo_canfd(const canfd_frame& f) { return f; }
}  // namespace linux_can
namespace glibc_elf {
SymbolTable echo_symbols(const SymbolTable& t) { return t; }
}  // namespace glibc_elf
namespace libpng {
png_time echo_png_time(const png_time& t) { return t; }
}  // namespace libpng
namespace linux_tcp {
tcp_info echo_tcp_info(const tcp_info& t) { return t; }
}  // namespace linux_tcp
namespace benchmark {
CPUInfo echo_cpuinfo(const CPUInfo& info) { return info; }
}  // namespace benchmark
namespace trading {
Order echo_order(const Order& o) { return o; }
Book echo_book(const Book& b) { return b; }
double mid(const Quote& q) noexcept { return (q.bid + q.ask) / 2; }
int64_t notional(const Order& pool, int64_t Pool) { return pool.price_ticks * static_cast<int64_t>(pool.quantity) * Pool; }
}  // namespace trading
namespace geojson {
FeatureCollection echo_features(const FeatureCollection& c) { return c; }
}  // namespace geojson
namespace map_tile {
Tile echo_tile(const Tile& t) { return t; }
World echo_world(const World& w) { return w; }
}  // namespace map_tile
