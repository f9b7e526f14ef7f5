// What the reduce hooks brine-codegen generates (<stem>.brine.h) are built on: brine::Fields
// (a FlatBuffers struct) or brine::TableFields (a table), under the name the generated .fbs
// gives the type. A generated hook is one short specialization:
//
//   template <>
//   struct brine::Reducer<sim::Particle> : brine::codegen::Exposed<brine::codegen::kTable,
//                                                                   &sim::Particle::species,
//                                                                   &sim::Particle::mass> {
//     static std::string name() { return "sim::Particle"; }            // signature fingerprints
//     static std::string identifier() { return "PART"; }               // the header's file_identifier
//     static std::string schema_name() { return "sim.fb.Particle"; }   // its name in particles.fbs
//   };
//
// so brine::schema_of<sim::Particle>() and particles.fbs declare the same table, and a dump of
// any exposed type carries the identifier of its header's schema. Fields marked BRINE_REF or
// BRINE_COPY add a write() that forces their placement (codegen::ref / codegen::copy below).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "brine/core/reducer.h"

namespace brine::codegen {

inline constexpr bool kStruct = false;
inline constexpr bool kTable = true;

template <bool kIsTable, auto... kMembers>
struct Exposed : std::conditional_t<kIsTable, TableFields<kMembers...>, Fields<kMembers...>> {
  using Listed = Fields<kMembers...>;
  using Class = typename Listed::Class;
  static_assert(kIsTable || Listed::kIsStruct,
                "brine-codegen made this type a FlatBuffers struct, but the compiler lays it out otherwise "
                "(padding, alignment or a member that is not trivially copyable); mark it BRINE_TABLE");

  // The name is the generated Reducer's schema_name(): the one the generated .fbs uses.
  static std::string token() { return detail::name_token(Reducer<Class>::schema_name()); }
  static std::string schema_type(SchemaWriter& s) {
    const std::string qualified = Reducer<Class>::schema_name();
    static constexpr std::string_view kNames[] = {detail::member_name<kMembers>()...};
    if constexpr (kIsTable) {
      if (s.claim(qualified)) {
        s.define(qualified, "table", Listed::Table::fields(s, kNames, Listed::field_defaults()), Reducer<Class>::name());
      }
    } else {
      // The structs a struct holds are declared before it (flatc wants a struct defined before
      // an array of it); a struct cannot hold itself, so this ends.
      std::vector<std::string> fields;
      std::size_t i = 0;
      ((fields.push_back(std::string(kNames[i]) + ": " +
                         detail::struct_member_type<typename detail::MemberTraits<decltype(kMembers)>::Type>(s)),
        ++i),
       ...);
      if (s.claim(qualified)) s.define(qualified, "struct", fields, Reducer<Class>::name());
    }
    return qualified;
  }
};

// A table of `values`, field i in slot i, a scalar left out when it equals its default in
// `defaults` (Fields::field_defaults()): what a generated write() with placements calls.
template <class D, class... Ts>
flatbuffers::uoffset_t write_table(Encoder& e, const D* defaults, const Ts&... values) {
  return detail::TableOf<Ts...>::write_defaulted(e, defaults, values...);
}

// A field forced into the shared arena (BRINE_REF) or into the envelope (BRINE_COPY). An empty
// std::optional stays an absent field.
template <class T>
Placed<T> placed(const T& x, Placement p) {
  return {x, p};
}
template <class T>
std::optional<Placed<T>> placed(const std::optional<T>& x, Placement p) {
  return x ? std::optional<Placed<T>>(Placed<T>{*x, p}) : std::nullopt;
}
template <class T>
auto ref(const T& x) {
  return placed(x, Placement::kReference);
}
template <class T>
auto copy(const T& x) {
  return placed(x, Placement::kCopy);
}

}  // namespace brine::codegen
