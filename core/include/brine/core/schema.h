// The schema of any type, from its reduce hooks: the .fbs that describes brine's bytes, for
// any FlatBuffers reader (flatc --cpp, --python, --json...).
//
//   std::cout << brine::schema_of<sim::Particle>();
//   // table Particle { species: ubyte; mass: double; }  root_type sim.fb.Particle; ...
//
// The root of the schema is T's table, or a one-field table around a T that is not a table
// (a scalar, a struct, a string, a vector): the root of a dump of T. Its file identifier is
// four characters derived from the root's name (or the identifier a codegen-generated hook
// declares, shared by a header's types), and brine's dumps of T carry it.
//
// Thread safety: pure functions of T.
#pragma once

#include <string>

#include "brine/core/reducer.h"

namespace brine {

namespace detail {
template <class T>
concept DeclaresIdentifier = requires { { Reducer<T>::identifier() } -> std::convertible_to<std::string>; };
}  // namespace detail

// What a dump of T is checked against.
struct SchemaFacts {
  std::string root;        // qualified name of the root table
  std::string identifier;  // its file identifier
  std::string descriptor;  // its shape (brine::describe)
};

template <class T>
SchemaFacts schema_facts() {
  SchemaWriter s;
  SchemaFacts f;
  f.root = detail::Root<T>::schema_type(s);
  if constexpr (detail::DeclaresIdentifier<T>) {
    f.identifier = Reducer<T>::identifier();
  } else {
    f.identifier = detail::identifier_for(f.root);
  }
  detail::describe_root<T>(f.descriptor);
  return f;
}

// The .fbs of T: every table and struct it needs, root_type and file_identifier.
template <class T>
std::string schema_of() {
  detail::require_reducible<T>();
  SchemaWriter s;
  const std::string root = detail::Root<T>::schema_type(s);
  return s.text(root, schema_facts<T>().identifier);
}

// Whether bytes of shape `written` can be read as shape `reader`: equal, or tables that differ
// only by fields added at the end (either way), recursively. Structs must be equal.
bool shapes_compatible(std::string_view written, std::string_view reader);

}  // namespace brine
