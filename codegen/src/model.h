// What brine-codegen knows about one header: its exposed enums and structs, with every field
// type resolved to one of the shapes the generator supports, and its tasks. Built by
// parse_header() (parser.h) from libclang; read by the schema and C++ writers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace brine::codegen {

struct SourceLocation {
  std::string file;
  unsigned line = 0;
  unsigned column = 0;
};

// An error a user can act on, printed as "file:line:col: error: message".
struct Diagnostic {
  SourceLocation where;
  std::string message;
  bool warning = false;
};
std::string format(const Diagnostic& d);

enum class Scalar { kBool, kInt8, kUInt8, kInt16, kUInt16, kInt32, kUInt32, kInt64, kUInt64, kFloat, kDouble };

// A field type. Value semantics; `element` is set for kVector, kArray and kOptional.
struct TypeRef {
  enum class Kind { kScalar, kString, kEnum, kStruct, kVector, kArray, kOptional };
  Kind kind = Kind::kScalar;
  Scalar scalar = Scalar::kInt32;          // kScalar
  std::string name;                        // kEnum, kStruct: qualified C++ name
  std::size_t length = 0;                  // kArray
  std::shared_ptr<const TypeRef> element;  // kVector, kArray, kOptional

  // True when the type holds contiguous arithmetic data somewhere (what BRINE_REF can move).
  bool has_contiguous_data() const;
};

// A constant converted to a scalar type (as C++ converts an initializer): how the schema
// writes it as a field's default ("-9.81", "true", "inf") and a C++ expression of its value.
// Both are empty when its bits are all zero, FlatBuffers' implicit default.
struct DefaultValue {
  std::string schema;
  std::string cxx;
  static DefaultValue of(Scalar s, int64_t v);
  static DefaultValue of(Scalar s, uint64_t v);
  static DefaultValue of(Scalar s, double v);
};

enum class FieldPlacement { kAuto, kCopy, kReference };

struct Field {
  std::string name;
  TypeRef type;
  FieldPlacement placement = FieldPlacement::kAuto;
  SourceLocation where;
  // The C++ default member initializer of a scalar or enum field, when it is not zero: as the
  // schema writes it ("-9.81", "2") and as a C++ expression of the field's type's value.
  std::string default_schema;
  std::string default_cxx;
};

// A C++ name split into its namespaces and the name inside them. A class nested in a class
// keeps the outer class in `name` ("Outer::Inner").
struct QualifiedName {
  std::vector<std::string> namespaces;
  std::string name;

  std::string cxx() const;         // "shapes::Outer::Inner"
  std::string schema_name() const; // "Outer_Inner": a FlatBuffers identifier
  std::string schema_namespace() const;  // "shapes.fb"
};

struct Struct {
  QualifiedName name;
  std::vector<Field> fields;  // in declaration order: field i has schema id i
  SourceLocation where;
  bool force_table = false;   // BRINE_TABLE
  bool plain = true;          // no virtual functions, no user-provided copy/move/destructor
  std::size_t size = 0;       // sizeof and alignof as the compiler lays the struct out
  std::size_t align = 0;
  // Decided by decide_layouts(): a FlatBuffers struct (inline, fixed forever) or a table.
  bool is_struct = false;
};

struct Enumerator {
  std::string name;
  int64_t value = 0;  // the value's bits; an unsigned enum's values are uint64_t(value)
  SourceLocation where;
};

struct Enum {
  QualifiedName name;
  Scalar underlying = Scalar::kInt32;
  std::vector<Enumerator> values;  // in declaration order
  SourceLocation where;

  bool is_unsigned() const;
  std::string value_text(const Enumerator& v) const;  // as the schema writes it
  bool less(const Enumerator& a, const Enumerator& b) const;  // by value
  // The first enumerator of each value; a later one with the same value is an alias.
  std::vector<const Enumerator*> distinct() const;
  const Enumerator* find(int64_t value) const;
};

struct Param {
  std::string name;
  std::string type;  // fully qualified C++ spelling, e.g. "const shapes::Frame &"
};

struct Task {
  QualifiedName name;
  std::string result;  // fully qualified C++ spelling
  std::vector<Param> params;
  SourceLocation where;
};

struct Header;

// Decides which exposed structs are FlatBuffers structs, by the rule brine::Fields applies at
// compile time: every field a fixed-width scalar other than bool, an enum, a struct-kind exposed
// struct, or a std::array of those; the struct plain (trivially copyable), not BRINE_TABLE, no
// BRINE_REF/BRINE_COPY field, and the compiler's sizeof/alignof equal FlatBuffers' struct
// layout (no padding FlatBuffers would not add). Everything else is a table.
void decide_layouts(Header& header);

// The structs in an order where every struct comes after the exposed structs it holds,
// else in declaration order: how the schema and the hooks list them.
std::vector<const Struct*> dependency_order(const Header& header);

// Size and alignment of a scalar as FlatBuffers stores it.
std::size_t scalar_size(Scalar s);

struct Header {
  std::string path;        // as given on the command line
  std::string stem;        // "shapes" for "dir/shapes.h"
  std::vector<Enum> enums;
  std::vector<Struct> structs;  // in declaration order
  std::vector<Task> tasks;
  std::vector<std::string> dependencies;  // files read, for the build system's depfile
};

}  // namespace brine::codegen
