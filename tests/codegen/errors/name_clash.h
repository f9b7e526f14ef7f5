// Names that would clash in the schema or in flatc's C++ output (issue 12, items 4 and 10).
#pragma once
#include <cstdint>
#include <string>

#include <brine/codegen/annotate.h>

namespace errors {

struct BRINE_EXPOSE Tile {
  struct BRINE_EXPOSE Header {
    uint32_t version = 0;
  };
  Header header;
  std::string name;
};

struct BRINE_EXPOSE Tile_Header {
  uint32_t width = 0;
};

struct BRINE_EXPOSE TileBuilder {
  std::string name;
};

struct BRINE_EXPOSE Letters {
  int32_t T = 0;
  int32_t t = 0;
  std::string label;
};

enum class BRINE_EXPOSE Bound : uint8_t { MIN = 0, MAX = 1 };

}  // namespace errors

// Expected by check_tool.cmake (the tool must exit non-zero and write nothing):
// expect: errors/name_clash.h:32:43: error: enumerator 'MIN' of 'errors::Bound' has a name flatc's C++ output gives an enumerator of its own (with --scoped-enums, which brine_generate uses, every enum gets MIN and MAX); rename it
// expect: errors/name_clash.h:32:52: error: enumerator 'MAX' of 'errors::Bound' has a name flatc's C++ output gives an enumerator of its own (with --scoped-enums, which brine_generate uses, every enum gets MIN and MAX); rename it
// expect: errors/name_clash.h:28:11: error: field 't' of 'errors::Letters' and field 'T' (errors/name_clash.h:27) differ only in case, and flatc's C++ output names a table's field constants in upper case (both are VT_T); rename one of them
// expect: errors/name_clash.h:18:21: error: 'errors::Tile_Header' and 'errors::Tile::Header' (errors/name_clash.h:11) would both be 'Tile_Header' in namespace errors.fb of the schema (a nested type is named Outer_Inner, a specialization Name_Args); rename one of them
// expect: errors/name_clash.h:22:21: error: 'errors::TileBuilder' has the name 'TileBuilder' that flatc's C++ output gives a helper of table 'errors::Tile' (TileBuilder); rename 'errors::TileBuilder' (or 'errors::Tile')
