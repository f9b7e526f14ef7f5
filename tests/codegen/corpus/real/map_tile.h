// A vector map tile as an application might hold it (written for this corpus): a nested
// Tile::Header, explicit specializations of a class template (Level<1>, Level<2>, distinct
// schema names Level_1 and Level_2), plain char arrays (a byte on every platform),
// std::byte, std::array<uint8_t, 0>, and a World whose C++ defaults (gravity = -9.81) are the
// schema's defaults.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <brine/codegen/annotate.h>

namespace map_tile {

template <int N>
struct Level;

template <>
struct BRINE_EXPOSE Level<1> {
  uint32_t roads = 0;
};

template <>
struct BRINE_EXPOSE Level<2> {
  uint32_t roads = 0;
  uint32_t paths = 0;
};

enum class BRINE_EXPOSE Mode : uint8_t { kWalk = 1, kDrive = 2, kFly = 3 };

struct BRINE_EXPOSE Tile {
  struct BRINE_EXPOSE Header {
    std::array<char, 4> magic{};
    uint32_t version = 0;
    std::array<std::byte, 4> flags{};
  };
  Header header;
  uint32_t x = 0;
  uint32_t y = 0;
  uint8_t zoom = 0;
  std::vector<uint32_t> geometry;
  std::array<uint8_t, 0> reserved{};
  std::vector<std::byte> blob;
  std::byte kind{};
  std::string name;
  Level<1> overview;
  Level<2> detail;
};

struct BRINE_EXPOSE World {
  double gravity = -9.81;
  float scale = 0.5f;
  int32_t sea_level = -100;
  Mode mode = Mode::kDrive;
  bool wrap = true;
  std::vector<Tile> tiles;
};

BRINE_TASK Tile echo_tile(const Tile& t);
BRINE_TASK World echo_world(const World& w);

}  // namespace map_tile
