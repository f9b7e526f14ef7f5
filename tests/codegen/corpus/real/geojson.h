// GeoJSON (RFC 7946) as a C++ application might hold it (written for this corpus): positions
// with an optional altitude, geometries of several kinds, features with string properties.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <brine/codegen/annotate.h>

namespace geojson {

enum class BRINE_EXPOSE GeometryType : uint8_t {
  kPoint,
  kMultiPoint,
  kLineString,
  kMultiLineString,
  kPolygon,
  kMultiPolygon
};

struct BRINE_EXPOSE Position {
  double lon = 0;
  double lat = 0;
  std::optional<double> alt;
};

struct BRINE_EXPOSE Ring {
  std::vector<Position> positions;
};

struct BRINE_EXPOSE Geometry {
  GeometryType type = GeometryType::kPoint;
  std::vector<Ring> rings;  // one for a Point or LineString, several for a Polygon
};

struct BRINE_EXPOSE Property {
  std::string key;
  std::string value;
};

struct BRINE_EXPOSE Feature {
  std::string id;
  std::optional<Geometry> geometry;
  std::vector<Property> properties;
  std::optional<std::vector<double>> bbox;
};

struct BRINE_EXPOSE FeatureCollection {
  std::vector<Feature> features;
};

BRINE_TASK FeatureCollection echo_features(const FeatureCollection& c);

}  // namespace geojson
