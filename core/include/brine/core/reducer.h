// Reduce hooks: how a value of type T is written into an envelope and rebuilt from it — the
// C++ counterpart of Python's __reduce__ / copyreg. The wire is the schema: every value is
// written in its own FlatBuffers layout, and brine::schema_of<T>() (schema.h) prints the .fbs
// that any FlatBuffers reader can use to read brine's bytes.
//
// The customization point is a specialization of brine::Reducer<T>, in one of two short forms:
//
//   // 1. List the fields: a FlatBuffers table whose field i is member i, in its natural type
//   //    (a trivially copyable struct of fixed-width scalars becomes a FlatBuffers struct).
//   struct Point { double x, y; std::string label; };
//   template <> struct brine::Reducer<Point> : brine::Fields<&Point::x, &Point::y, &Point::label> {};
//
//   // 2. Reduce to a type that already travels (Python's __reduce__):
//   template <> struct brine::Reducer<Celsius> {
//     using As = double;
//     static double reduce(const Celsius& c) { return c.value; }
//     static Celsius rebuild(double v) { return Celsius{v}; }
//   };
//
// Built in: arithmetic types and bool (as themselves), enums (as their underlying type),
// std::string and std::string_view (string), std::vector / std::array / std::span<const T> of
// scalars or plain structs (a vector, decoded in place as a span: zero-copy), of anything else
// (a vector of tables), std::pair and std::tuple (a table), std::optional (an absent field),
// std::variant (a table with one field per alternative, exactly one present), std::map and
// std::unordered_map (a vector of key/value tables sorted by key).
// A type with no Reducer fails to compile with a message naming brine::Reducer.
//
// Below the two forms is the protocol every hook implements (the built-ins use it directly):
// `kind` (WireKind), then for kScalar/kStruct a storage type and store()/load(), for
// kTable/kString/kVector write()/read()/verify() of an object, and for all describe() (the
// shape, for fingerprints and compatibility) and schema_type() (the .fbs type expression).
#pragma once

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstring>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "brine/core/codec.h"

// Forces inlining of the small per-field steps (a scalar's read, a field's verify): without
// it GCC leaves some of them as calls inside every table's loop over its fields.
#define BRINE_DETAIL_INLINE [[gnu::always_inline]] inline

namespace brine {

// Specialize for your type (see the header comment). The primary template is left undefined.
template <class T, class Enable = void>
struct Reducer;

enum class WireKind : uint8_t { kScalar, kStruct, kTable, kString, kVector };

class SchemaWriter;

namespace detail {

template <class T>
concept LowLevel = requires {
  { Reducer<T>::kind } -> std::convertible_to<WireKind>;
};
template <class T>
concept ReduceTo = requires(const T& v) {
  typename Reducer<T>::As;
  { Reducer<T>::reduce(v) };
  { Reducer<T>::rebuild(std::declval<const typename Reducer<T>::As&>()) } -> std::convertible_to<T>;
};

template <class T>
void require_reducible() {
  static_assert(LowLevel<T> || ReduceTo<T>,
                "brine: this type has no reduce hook. Specialize brine::Reducer<T>: derive it from "
                "brine::Fields<&T::member...>, or reduce it to a type that travels (using As = U; "
                "static U reduce(const T&); static T rebuild(const U&)); see the README section "
                "'Reduce hooks'. The type is named in the 'required from' lines below.");
}

template <class T>
struct ReduceAdapter;

// The normalized hook of T: Reducer<T> itself, or an adapter over a reduce-to hook.
template <class T>
struct WireOf {
  using type = Reducer<T>;
};
template <class T>
  requires ReduceTo<T> && (!LowLevel<T>)
struct WireOf<T> {
  using type = ReduceAdapter<T>;
};
}  // namespace detail

template <class T>
using Wire = typename detail::WireOf<std::remove_cvref_t<T>>::type;

// The type an override in a ReducerTable maps T to and from: the `As` of a reduce-to hook,
// else T itself.
template <class T>
struct Reduced {
  using type = T;
};
template <class T>
  requires detail::ReduceTo<T> && (!detail::LowLevel<T>)
struct Reduced<T> {
  using type = typename Reducer<T>::As;
};
template <class T>
using reduced_t = typename Reduced<T>::type;

// ---- names: readable signatures (error messages, function fingerprints) ---------------------

template <class T>
std::string type_signature();

namespace detail {
template <class T>
concept HasName = requires { { Reducer<T>::name() } -> std::convertible_to<std::string>; };

template <class... Ts>
std::string signature_list() {
  std::string out;
  ((out += (out.empty() ? "" : ","), out += type_signature<Ts>()), ...);
  return out;
}
}  // namespace detail

template <class T>
std::string type_signature() {
  if constexpr (detail::HasName<T>) {
    return Reducer<T>::name();
  } else {
    return demangle(typeid(T).name());
  }
}

constexpr uint64_t fnv1a(std::string_view s) noexcept {
  uint64_t h = 1469598103934665603ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

template <class T>
uint64_t type_fingerprint() {
  return fnv1a(type_signature<T>());
}

// The wire shape of T: "i32", "s", "[f64]", "S(f32,f32)", "T(i32,?s,[T(f64)])"... Two types
// with equal shapes have identical bytes; a table shape that extends another by trailing
// fields is compatible with it (FlatBuffers' evolution rule).
template <class T>
std::string describe() {
  std::string out;
  Wire<T>::describe(out);
  return out;
}

// ---- schema text ----------------------------------------------------------------------------

// Collects the declarations a schema needs (tables, structs), each once, in the order they
// are first needed. Hooks call type<T>() for their fields' type expressions.
class SchemaWriter {
 public:
  template <class T>
  std::string type() {
    detail::require_reducible<T>();
    return Wire<T>::schema_type(*this);
  }
  // Reserves a declaration; false if it was already made (then do not define it again).
  bool claim(const std::string& qualified_name);
  // Defines a claimed declaration: `keyword` is "table" or "struct", fields "name: type".
  void define(const std::string& qualified_name, std::string_view keyword, const std::vector<std::string>& fields,
              std::string_view comment = {});
  // The whole .fbs: every declaration in its namespace, then root_type and file_identifier.
  std::string text(const std::string& root, std::string_view identifier) const;

 private:
  struct Declaration {
    std::string name;
    std::string body;
  };
  std::vector<Declaration> declarations_;
};

namespace detail {

// Namespace-qualified FlatBuffers name of a C++ class: a::b::C becomes a.b.fb.C (the
// generated C++ then lives in a::b::fb, beside the user's own types, as brine-codegen does).
std::string qualified_schema_name(const std::string& demangled);
// A token usable inside a generated name: "a.b.fb.C" -> "a_b_fb_C".
std::string name_token(std::string_view qualified);
// Four characters from [A-Z0-9] derived from a root table's qualified name.
std::string identifier_for(std::string_view qualified);
[[noreturn]] void throw_not_struct_layout(const std::string& type, std::size_t index);

template <auto kMember>
constexpr std::string_view member_name() {
  constexpr std::string_view f = __PRETTY_FUNCTION__;
  constexpr std::size_t at = f.find("kMember = &");
  if constexpr (at == std::string_view::npos) {
    return {};
  } else {
    constexpr std::string_view rest = f.substr(at + 11);
    constexpr std::string_view qualified = rest.substr(0, rest.find_first_of(";]"));
    constexpr std::size_t colon = qualified.rfind("::");
    return colon == std::string_view::npos ? qualified : qualified.substr(colon + 2);
  }
}

constexpr flatbuffers::voffset_t slot_of(std::size_t i) {
  return static_cast<flatbuffers::voffset_t>(4 + 2 * i);
}

template <class S>
BRINE_DETAIL_INLINE bool all_zero(const S& s) noexcept {
  std::array<unsigned char, sizeof(S)> raw;
  std::memcpy(raw.data(), &s, sizeof(S));
  return std::all_of(raw.begin(), raw.end(), [](unsigned char c) { return c == 0; });
}

// A scalar as a schema writes it as a default: "true", "-3", "-9.81" (the shortest text that
// reads back exactly), "inf", "nan". brine-codegen writes defaults the same way.
template <class S>
std::string scalar_text(S v, bool is_bool) {
  if (is_bool) return v != S{} ? "true" : "false";
  if constexpr (std::is_floating_point_v<S>) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
    char text[64];
    return std::string(text, std::to_chars(text, text + sizeof(text), v).ptr);
  } else {
    return std::to_string(v);
  }
}

inline const uint8_t* deref(const uint8_t* at) noexcept {
  return at + flatbuffers::ReadScalar<flatbuffers::uoffset_t>(at);
}

// ---- write / read a whole value of T: every override check happens here ----------------------

template <class T>
using Storage = std::remove_cvref_t<decltype(Wire<T>::store(std::declval<const T&>()))>;

template <class T>
BRINE_DETAIL_INLINE auto store_value(const Encoder& e, const T& v) {
  if constexpr (!std::is_same_v<reduced_t<T>, T>) {
    if (const ReducerTable* o = e.overrides()) {
      if (const auto* h = o->find<T, reduced_t<T>>()) return Wire<reduced_t<T>>::store(h->reduce(v));
    }
  } else {
    if (const ReducerTable* o = e.overrides()) {
      if (const auto* h = o->find<T, T>()) return Wire<T>::store(h->reduce(v));
    }
  }
  return Wire<T>::store(v);
}

template <class T, class S>
BRINE_DETAIL_INLINE T load_value(const Decoder& d, const S& s) {
  if (const ReducerTable* o = d.overrides()) {
    if constexpr (!std::is_same_v<reduced_t<T>, T>) {
      if (const auto* h = o->find<T, reduced_t<T>>()) return h->rebuild(Wire<reduced_t<T>>::load(s));
    } else {
      if (const auto* h = o->find<T, T>()) return h->rebuild(Wire<T>::load(s));
    }
  }
  return Wire<T>::load(s);
}

template <class T>
flatbuffers::uoffset_t write_value(Encoder& e, const T& v) {
  if (const ReducerTable* o = e.overrides()) {
    if constexpr (!std::is_same_v<reduced_t<T>, T>) {
      if (const auto* h = o->find<T, reduced_t<T>>()) return Wire<reduced_t<T>>::write(e, h->reduce(v));
    } else {
      if (const auto* h = o->find<T, T>()) return Wire<T>::write(e, h->reduce(v));
    }
  }
  return Wire<T>::write(e, v);
}

// `p` is the object (table, vector length word, string length word), or nullptr: absent.
template <class T>
T read_value(const Decoder& d, const uint8_t* p) {
  if (const ReducerTable* o = d.overrides()) {
    if constexpr (!std::is_same_v<reduced_t<T>, T>) {
      if (const auto* h = o->find<T, reduced_t<T>>()) return h->rebuild(Wire<reduced_t<T>>::read(d, p));
    } else {
      if (const auto* h = o->find<T, T>()) return h->rebuild(Wire<T>::read(d, p));
    }
  }
  return Wire<T>::read(d, p);
}

template <class T>
constexpr bool kInline = Wire<T>::kind == WireKind::kScalar || Wire<T>::kind == WireKind::kStruct;

// ---- a value in a table field ---------------------------------------------------------------

// T held in slot `i` of a table. prepare() runs before the table starts (children first, as
// FlatBuffers builds back to front); add() places the prepared value into the open table.
template <class T>
struct Slot {
  using W = Wire<T>;
  BRINE_DETAIL_INLINE static auto prepare(Encoder& e, const T& v) {
    if constexpr (kInline<T>) {
      return store_value<T>(e, v);
    } else {
      return write_value<T>(e, v);
    }
  }
  template <class P>
  static constexpr std::size_t align() {
    return kInline<T> ? alignof(P) : sizeof(flatbuffers::uoffset_t);
  }
  // A scalar is left out when its bits are its default's: `dflt` (the field's declared
  // default, see Fields) or else zero. Bitwise: -0.0 is kept, and a NaN payload.
  template <class P>
  BRINE_DETAIL_INLINE static void add(flatbuffers::FlatBufferBuilder& b, flatbuffers::voffset_t slot, const P& p,
                                      bool force = false, const T* dflt = nullptr) {
    if constexpr (W::kind == WireKind::kScalar) {
      bool absent = all_zero(p);
      if (dflt != nullptr) {
        const P d = W::store(*dflt);
        absent = std::memcmp(&p, &d, sizeof(P)) == 0;
      }
      if (force || !absent) b.AddElement<P>(slot, p);
    } else if constexpr (W::kind == WireKind::kStruct) {
      b.Align(alignof(P));
      b.PushBytes(reinterpret_cast<const uint8_t*>(&p), sizeof(P));
      b.TrackField(slot, b.GetSize());
    } else {
      if (p != 0) b.AddOffset(slot, flatbuffers::Offset<void>(p));
    }
  }
  static bool present(const flatbuffers::Table* t, flatbuffers::voffset_t slot) {
    return t != nullptr && t->CheckField(slot);
  }
  BRINE_DETAIL_INLINE static T read(const Decoder& d, const flatbuffers::Table* t, flatbuffers::voffset_t slot,
                                    const T* dflt = nullptr) {
    if constexpr (W::kind == WireKind::kScalar) {
      using S = Storage<T>;
      const S absent = dflt != nullptr ? S(W::store(*dflt)) : S{};
      return load_value<T>(d, t != nullptr ? t->GetField<S>(slot, absent) : absent);
    } else if constexpr (W::kind == WireKind::kStruct) {
      using S = Storage<T>;
      if (const S* s = t != nullptr ? t->GetStruct<const S*>(slot) : nullptr) {
        S copy;
        std::memcpy(&copy, s, sizeof(S));
        return load_value<T>(d, copy);
      }
      return load_value<T>(d, S{});
    } else {
      return read_value<T>(d, t != nullptr ? t->GetPointer<const uint8_t*>(slot) : nullptr);
    }
  }
  BRINE_DETAIL_INLINE static bool verify(Verifier& v, const flatbuffers::Table* t, flatbuffers::voffset_t slot) {
    if constexpr (kInline<T>) {
      using S = Storage<T>;
      return t->VerifyField<S>(v, slot, alignof(S));
    } else {
      if (!t->VerifyOffset(v, slot)) return false;
      const uint8_t* p = t->GetPointer<const uint8_t*>(slot);
      return p == nullptr || W::verify(v, p);
    }
  }
  static std::string schema(SchemaWriter& s) { return s.type<T>(); }
  static void describe(std::string& out) { W::describe(out); }
  // " = <default>" for a scalar whose declared default is not zero, as a schema writes it.
  static std::string default_text(const T* dflt) {
    if constexpr (W::kind == WireKind::kScalar) {
      if (dflt != nullptr) {
        const auto stored = W::store(*dflt);
        if (!all_zero(stored)) return " = " + scalar_text(stored, std::is_same_v<T, bool>);
      }
    }
    return "";
  }
};

// std::optional<T> in a field: absent when empty. A scalar is then written even when zero.
template <class T>
struct Slot<std::optional<T>> {
  using Inner = Slot<T>;
  static auto prepare(Encoder& e, const std::optional<T>& v) {
    using P = decltype(Inner::prepare(e, std::declval<const T&>()));
    return v ? std::optional<P>(Inner::prepare(e, *v)) : std::optional<P>();
  }
  template <class P>
  static constexpr std::size_t align() {
    return Inner::template align<typename P::value_type>();
  }
  template <class P>
  static void add(flatbuffers::FlatBufferBuilder& b, flatbuffers::voffset_t slot, const P& p, bool = false,
                  const std::optional<T>* = nullptr) {
    if (p) Inner::add(b, slot, *p, /*force=*/true);
  }
  static bool present(const flatbuffers::Table* t, flatbuffers::voffset_t slot) {
    return t != nullptr && t->CheckField(slot);
  }
  static std::optional<T> read(const Decoder& d, const flatbuffers::Table* t, flatbuffers::voffset_t slot,
                               const std::optional<T>* = nullptr) {
    if (!present(t, slot)) return std::nullopt;
    return Inner::read(d, t, slot);
  }
  static bool verify(Verifier& v, const flatbuffers::Table* t, flatbuffers::voffset_t slot) {
    return Inner::verify(v, t, slot);
  }
  static std::string schema(SchemaWriter& s) {
    std::string type = Inner::schema(s);
    if constexpr (Wire<T>::kind == WireKind::kScalar) type += " = null";
    return type;
  }
  static void describe(std::string& out) {
    out += '?';
    Inner::describe(out);
  }
  static std::string default_text(const std::optional<T>*) { return ""; }
};

// A table of fields Ts..., field i in slot i. Fields are added widest first, as flatc does.
template <class... Ts>
struct TableOf {
  template <std::size_t I>
  using At = std::tuple_element_t<I, std::tuple<Ts...>>;

  // Field I's default in `defaults` (a tuple whose element I is a field's declared default
  // when it has At<I>'s type), or nullptr: zero.
  template <std::size_t I, class D>
  static const At<I>* default_at(const D* defaults) {
    if constexpr (I < std::tuple_size_v<D>) {
      if constexpr (std::is_same_v<std::tuple_element_t<I, D>, At<I>>) {
        return defaults != nullptr ? &std::get<I>(*defaults) : nullptr;
      }
    }
    return nullptr;
  }

  template <class Tuple, class D = std::tuple<>>
  static void add_all(flatbuffers::FlatBufferBuilder& b, const Tuple& prepared, std::size_t first = 0,
                      const D* defaults = nullptr) {
    auto pass = [&]<std::size_t... I>([[maybe_unused]] std::size_t width, std::index_sequence<I...>) {
      (
          [&] {
            using P = std::tuple_element_t<I, Tuple>;
            constexpr std::size_t a = Slot<At<I>>::template align<P>();
            if ((width == 8 && a >= 8) || (width != 8 && a == width)) {
              Slot<At<I>>::add(b, slot_of(first + I), std::get<I>(prepared), false, default_at<I>(defaults));
            }
          }(),
          ...);
    };
    for (std::size_t width : {8, 4, 2, 1}) pass(width, std::index_sequence_for<Ts...>());
  }

  // Writes a table of `values`, at slots [first, first + N); a scalar equal to its default in
  // `defaults` (see default_at) is left out.
  template <class D = std::tuple<>>
  static flatbuffers::uoffset_t write_defaulted(Encoder& e, const D* defaults, const Ts&... values) {
    Encoder::Nest nest(e);
    const auto prepared = std::tuple{Slot<Ts>::prepare(e, values)...};
    auto& b = e.builder();
    const auto start = b.StartTable();
    add_all(b, prepared, 0, defaults);
    return e.end_table(start);
  }
  static flatbuffers::uoffset_t write(Encoder& e, const Ts&... values) {
    return write_defaulted(e, static_cast<const std::tuple<>*>(nullptr), values...);
  }

  static bool verify(Verifier& v, const uint8_t* p, std::size_t first = 0) {
    const auto* t = reinterpret_cast<const flatbuffers::Table*>(p);
    if (!t->VerifyTableStart(v)) return false;
    const bool ok = [&]<std::size_t... I>(std::index_sequence<I...>) {
      return (Slot<Ts>::verify(v, t, slot_of(first + I)) && ...);
    }(std::index_sequence_for<Ts...>());
    return ok && v.EndTable();
  }

  static void describe(std::string& out) {
    out += "T(";
    bool first = true;
    ((out += first ? "" : ",", first = false, Slot<Ts>::describe(out)), ...);
    out += ')';
  }

  // Field lines "name: type[ = default]" for a schema; names from `names`, else f0, f1...
  template <class D = std::tuple<>>
  static std::vector<std::string> fields(SchemaWriter& s, const std::string_view* names = nullptr,
                                         const D* defaults = nullptr) {
    std::vector<std::string> out;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((out.push_back((names != nullptr && !names[I].empty() ? std::string(names[I]) : "f" + std::to_string(I)) +
                      ": " + Slot<At<I>>::schema(s) + Slot<At<I>>::default_text(default_at<I>(defaults)))),
       ...);
    }(std::index_sequence_for<Ts...>());
    return out;
  }
};

// A one-field table around a value that cannot stand alone where FlatBuffers needs a table
// (the root of a dump, a result, an element of a vector of vectors).
template <class T>
struct Box {
  static constexpr WireKind kind = WireKind::kTable;
  static flatbuffers::uoffset_t write(Encoder& e, const T& v) { return TableOf<T>::write(e, v); }
  static T read(const Decoder& d, const uint8_t* p) {
    return Slot<T>::read(d, reinterpret_cast<const flatbuffers::Table*>(p), slot_of(0));
  }
  static bool verify(Verifier& v, const uint8_t* p) { return TableOf<T>::verify(v, p); }
  static void describe(std::string& out) { TableOf<T>::describe(out); }
  static std::string schema_name() { return "brine.fb.Box_" + Wire<T>::token(); }
  static std::string schema_type(SchemaWriter& s) {
    const std::string name = schema_name();
    if (s.claim(name)) s.define(name, "table", {"value: " + Slot<T>::schema(s)});
    return name;
  }
  static std::string token() { return "Box_" + Wire<T>::token(); }
};

// Where only a table (or string) can stand — an element of a vector of offsets, a root — a
// value that is not one is boxed.
template <class T>
using Standalone = std::conditional_t<Wire<T>::kind == WireKind::kTable || Wire<T>::kind == WireKind::kString,
                                      Wire<T>, Box<T>>;

// ---- contiguous data ------------------------------------------------------------------------

// Whether T's bytes are its storage's bytes (encode by memcpy), and whether any storage bytes
// are a valid T (decode in place, as a span).
template <class T>
constexpr bool native_encode() {
  if constexpr (kInline<T>) {
    return Wire<T>::kNative && !ReduceTo<T>;
  } else {
    return false;
  }
}
template <class T>
constexpr bool native_decode() {
  return native_encode<T>() && !std::is_same_v<T, bool>;
}

template <class T>
bool overridden(const ReducerTable* o) {
  return o != nullptr && o->find<T, reduced_t<T>>() != nullptr;
}

// Writes n inline elements (scalars or structs) as one vector.
template <class T>
flatbuffers::uoffset_t write_inline(Encoder& e, const T* data, std::size_t n) {
  using S = Storage<T>;
  if constexpr (native_encode<T>()) {
    if (!overridden<T>(e.overrides())) return e.contiguous(data, n, sizeof(S), alignof(S));
  }
  std::vector<S> stored;
  stored.reserve(n);
  for (std::size_t i = 0; i < n; ++i) stored.push_back(store_value<T>(e, data[i]));
  return e.contiguous(stored.data(), n, sizeof(S), alignof(S));
}

// The elements of a verified vector as storage values.
template <class T>
std::span<const Storage<T>> inline_elements(const Decoder& d, const uint8_t* p) {
  using S = Storage<T>;
  if (p == nullptr) return {};
  const auto bytes = d.contiguous(p, sizeof(S), alignof(S));
  return {reinterpret_cast<const S*>(bytes.data()), bytes.size() / sizeof(S)};
}

template <class T>
bool verify_inline(Verifier& v, const uint8_t* p) {
  return v.VerifyVectorOrString(p, sizeof(Storage<T>));
}

// A vector of offsets: strings or tables (other values boxed).
template <class T, class It>
flatbuffers::uoffset_t write_offsets(Encoder& e, It first, std::size_t n) {
  using E = Standalone<T>;
  std::vector<flatbuffers::Offset<void>> offsets;
  offsets.reserve(n);
  for (std::size_t i = 0; i < n; ++i, ++first) {
    if constexpr (std::is_same_v<E, Wire<T>>) {
      offsets.emplace_back(write_value<T>(e, *first));
    } else {
      offsets.emplace_back(E::write(e, *first));
    }
  }
  e.reserve(n * sizeof(flatbuffers::uoffset_t));
  return e.builder().CreateVector(offsets.data(), n).o;
}

template <class T>
T read_element(const Decoder& d, const uint8_t* elem) {
  using E = Standalone<T>;
  if constexpr (std::is_same_v<E, Wire<T>>) {
    return read_value<T>(d, deref(elem));
  } else {
    return E::read(d, deref(elem));
  }
}

template <class T>
bool verify_offsets(Verifier& v, const uint8_t* p) {
  if (!v.VerifyVectorOrString(p, sizeof(flatbuffers::uoffset_t))) return false;
  const auto n = flatbuffers::ReadScalar<flatbuffers::uoffset_t>(p);
  const uint8_t* elems = p + sizeof(flatbuffers::uoffset_t);
  for (flatbuffers::uoffset_t i = 0; i < n; ++i) {
    const uint8_t* at = elems + std::size_t{i} * sizeof(flatbuffers::uoffset_t);
    if (v.VerifyOffset(at, 0) == 0) return false;
    if (!Standalone<T>::verify(v, deref(at))) return false;
  }
  return true;
}

template <class T>
std::string element_type(SchemaWriter& s) {
  if constexpr (kInline<T> || std::is_same_v<Standalone<T>, Wire<T>>) {
    return s.type<T>();
  } else {
    return Box<T>::schema_type(s);
  }
}
template <class T>
void describe_elements(std::string& out) {
  out += '[';
  if constexpr (kInline<T> || std::is_same_v<Standalone<T>, Wire<T>>) {
    Wire<T>::describe(out);
  } else {
    Box<T>::describe(out);
  }
  out += ']';
}
template <class T>
std::string element_token() {
  if constexpr (kInline<T> || std::is_same_v<Standalone<T>, Wire<T>>) {
    return Wire<T>::token();
  } else {
    return Box<T>::token();
  }
}

// Common to every sequence type: the shape and schema of a vector of T.
template <class T>
struct SequenceOf {
  static constexpr WireKind kind = WireKind::kVector;
  static void describe(std::string& out) { describe_elements<T>(out); }
  static std::string schema_type(SchemaWriter& s) { return "[" + element_type<T>(s) + "]"; }
  static std::string token() { return "Vector_" + element_token<T>(); }
  static bool verify(Verifier& v, const uint8_t* p) {
    if constexpr (kInline<T>) {
      return verify_inline<T>(v, p);
    } else {
      return verify_offsets<T>(v, p);
    }
  }
  template <class Out>
  static void read_into(const Decoder& d, const uint8_t* p, Out&& push) {
    if (p == nullptr) return;
    if constexpr (kInline<T>) {
      for (const auto& s : inline_elements<T>(d, p)) push(load_value<T>(d, s));
    } else {
      const auto n = flatbuffers::ReadScalar<flatbuffers::uoffset_t>(p);
      for (flatbuffers::uoffset_t i = 0; i < n; ++i) {
        push(read_element<T>(d, p + sizeof(flatbuffers::uoffset_t) + std::size_t{i} * sizeof(flatbuffers::uoffset_t)));
      }
    }
  }
  // Calls `each` with every element's offset slot of a vector of offsets. (read_into spells the
  // same loop out: written through this one, GCC stops inlining the element reads there.)
  template <class Each>
  static void read_elements(const uint8_t* p, Each&& each) {
    if (p == nullptr) return;
    const auto n = flatbuffers::ReadScalar<flatbuffers::uoffset_t>(p);
    for (flatbuffers::uoffset_t i = 0; i < n; ++i) {
      each(p + sizeof(flatbuffers::uoffset_t) + std::size_t{i} * sizeof(flatbuffers::uoffset_t));
    }
  }
  static std::size_t count(const uint8_t* p) {
    return p == nullptr ? 0 : flatbuffers::ReadScalar<flatbuffers::uoffset_t>(p);
  }
};

// Reads the field in `slot` into `dst`: a std::string straight into its own storage, anything
// else by assignment.
template <class M>
BRINE_DETAIL_INLINE void read_slot_into(const Decoder& d, const flatbuffers::Table* t, flatbuffers::voffset_t slot,
                                        const M* dflt, M& dst) {
  if constexpr (std::is_same_v<M, std::string>) {
    if (!overridden<M>(d.overrides())) {
      const auto* s = t != nullptr ? t->GetPointer<const flatbuffers::String*>(slot) : nullptr;
      if (s == nullptr) {
        dst.clear();
      } else {
        dst.assign(s->c_str(), s->size());
      }
      return;
    }
  }
  dst = Slot<M>::read(d, t, slot, dflt);
}

// Converts to the element at `elem` when a container constructs it in place: emplace_back of
// one of these decodes the element directly into the container's storage.
template <class T>
struct ElementReader {
  const Decoder& d;
  const uint8_t* elem;
  operator T() const { return read_element<T>(d, elem); }
};

// Elements I... of a tuple type, without constructing anything.
template <class Tuple, class Seq>
struct TupleSlice;
template <class Tuple, std::size_t... I>
struct TupleSlice<Tuple, std::index_sequence<I...>> {
  using type = std::tuple<std::tuple_element_t<I, Tuple>...>;
};

}  // namespace detail

// ---- arithmetic, bool, enums ----------------------------------------------------------------

template <class T>
struct Reducer<T, std::enable_if_t<std::is_arithmetic_v<T> || std::is_enum_v<T>>> {
  static_assert(!std::is_same_v<T, long double>, "brine: long double has no FlatBuffers type; send a double");
  using Stored = typename std::conditional_t<
      std::is_same_v<T, bool>, std::type_identity<uint8_t>,
      std::conditional_t<std::is_enum_v<T>, std::underlying_type<T>, std::type_identity<T>>>::type;
  static constexpr WireKind kind = WireKind::kScalar;
  static constexpr bool kNative = true;
  static std::string name() {
    if constexpr (std::is_enum_v<T>) {
      return "enum:" + demangle(typeid(T).name());
    } else if constexpr (std::is_same_v<T, bool>) {
      return "bool";
    } else {
      return std::string(std::is_floating_point_v<T> ? "f" : kSigned<T> ? "i" : "u") + std::to_string(sizeof(T) * 8);
    }
  }
  static Stored store(T v) noexcept { return static_cast<Stored>(v); }
  static T load(Stored v) {
    if constexpr (std::is_same_v<T, bool>) {
      if (v > 1) throw DecodeError("brine: a bool value holds " + std::to_string(v));
    }
    return static_cast<T>(v);
  }
  static void describe(std::string& out) {
    using U = Stored;
    if constexpr (std::is_same_v<T, bool>) {
      out += 'b';
    } else {
      out += std::is_floating_point_v<U> ? 'f' : kSigned<U> ? 'i' : 'u';
      out += std::to_string(sizeof(U) * 8);
    }
  }
  static std::string schema_type(SchemaWriter&) { return token(); }
  static std::string token() {
    using U = Stored;
    if constexpr (std::is_same_v<T, bool>) return "bool";
    if constexpr (std::is_floating_point_v<U>) return sizeof(U) == 4 ? "float" : "double";
    constexpr const char* kSignedNames[] = {"byte", "short", "", "int", "", "", "", "long"};
    constexpr const char* kUnsignedNames[] = {"ubyte", "ushort", "", "uint", "", "", "", "ulong"};
    return kSigned<U> ? kSignedNames[sizeof(U) - 1] : kUnsignedNames[sizeof(U) - 1];
  }

 private:
  // Plain char is a signed byte whatever the platform's char signedness (-funsigned-char,
  // ARM's ABI): a schema never depends on where it was made.
  template <class U>
  static constexpr bool kSigned = std::is_signed_v<U> || std::is_same_v<U, char>;
};

// A std::chrono::duration travels as its count, a scalar of its Rep; the period is part of the
// C++ type (and of the signature fingerprint), not of the bytes.
template <class Rep, class Period>
struct Reducer<std::chrono::duration<Rep, Period>> {
  using D = std::chrono::duration<Rep, Period>;
  using Count = Reducer<Rep>;
  static constexpr WireKind kind = WireKind::kScalar;
  static constexpr bool kNative = false;
  static std::string name() {
    return "duration<" + Count::name() + "," + std::to_string(Period::num) + "/" + std::to_string(Period::den) + ">";
  }
  static auto store(const D& v) noexcept { return Count::store(v.count()); }
  template <class S>
  static D load(S v) {
    return D(Count::load(v));
  }
  static void describe(std::string& out) { Count::describe(out); }
  static std::string schema_type(SchemaWriter& s) { return Count::schema_type(s); }
  static std::string token() { return Count::token(); }
};

// ---- strings -------------------------------------------------------------------------------

namespace detail {
template <class Str>
struct StringWire {
  static constexpr WireKind kind = WireKind::kString;
  static std::string name() { return "string"; }
  static flatbuffers::uoffset_t write(Encoder& e, std::string_view s) {
    e.reserve(s.size() + 8);
    e.count_copied(s.size());
    return e.builder().CreateString(s.data(), s.size()).o;
  }
  static Str read(const Decoder&, const uint8_t* p) {
    if (p == nullptr) return Str();
    const auto* s = reinterpret_cast<const flatbuffers::String*>(p);
    return Str(s->data(), s->size());
  }
  static bool verify(Verifier& v, const uint8_t* p) { return v.VerifyString(reinterpret_cast<const flatbuffers::String*>(p)); }
  static void describe(std::string& out) { out += 's'; }
  static std::string schema_type(SchemaWriter&) { return "string"; }
  static std::string token() { return "string"; }
};
}  // namespace detail

template <>
struct Reducer<std::string> : detail::StringWire<std::string> {};
// Decodes as a view into the envelope: zero-copy, valid while the envelope is.
template <>
struct Reducer<std::string_view> : detail::StringWire<std::string_view> {};

// ---- sequences ------------------------------------------------------------------------------

template <class T, class A>
struct Reducer<std::vector<T, A>> : detail::SequenceOf<T> {
  static std::string name() {
    return (detail::kInline<T> ? "array<" : "vector<") + type_signature<T>() + ">";
  }
  static flatbuffers::uoffset_t write(Encoder& e, const std::vector<T, A>& v) {
    if constexpr (std::is_same_v<T, bool>) {
      std::vector<uint8_t> bytes(v.begin(), v.end());
      return e.contiguous(bytes.data(), bytes.size(), 1, 1);
    } else if constexpr (detail::kInline<T>) {
      return detail::write_inline<T>(e, v.data(), v.size());
    } else {
      return detail::write_offsets<T>(e, v.begin(), v.size());
    }
  }
  static std::vector<T, A> read(const Decoder& d, const uint8_t* p) {
    if constexpr (detail::native_decode<T>()) {
      if (!detail::overridden<T>(d.overrides())) {
        const auto s = detail::inline_elements<T>(d, p);
        // One pass over the elements (a memmove for trivial T; for a struct with member
        // initializers a copy loop the compiler vectorizes), never a zero-fill and a copy.
        const T* first = reinterpret_cast<const T*>(s.data());
        return std::vector<T, A>(first, first + s.size());
      }
    }
    std::vector<T, A> out;
    out.reserve(detail::SequenceOf<T>::count(p));
    if constexpr (!detail::kInline<T> && std::is_aggregate_v<T> && !std::is_trivially_copyable_v<T>) {
      // Each element decoded straight into the vector's storage: no temporary whose strings
      // and vectors would be moved (a trivially copyable element is cheaper pushed). Only for
      // aggregates: a class with a constructor template taking anything would take the reader
      // itself as its argument.
      detail::SequenceOf<T>::read_elements(p, [&](const uint8_t* elem) {
        out.emplace_back(detail::ElementReader<T>{d, elem});
      });
    } else {
      detail::SequenceOf<T>::read_into(d, p, [&](T&& x) { out.push_back(std::move(x)); });
    }
    return out;
  }
};

// Decodes in place: zero-copy, valid while the envelope (or arena block, or mapping) is.
template <class T>
  requires(detail::native_decode<T>())
struct Reducer<std::span<const T>> : detail::SequenceOf<T> {
  static std::string name() { return "array<" + type_signature<T>() + ">"; }
  static flatbuffers::uoffset_t write(Encoder& e, std::span<const T> s) {
    return detail::write_inline<T>(e, s.data(), s.size());
  }
  static std::span<const T> read(const Decoder& d, const uint8_t* p) {
    if (detail::overridden<T>(d.overrides())) {
      throw DecodeError("brine: a std::span<const " + type_signature<T>() +
                        "> cannot be decoded in place while a ReducerTable overrides its element type; take a "
                        "std::vector instead");
    }
    const auto s = detail::inline_elements<T>(d, p);
    return {reinterpret_cast<const T*>(s.data()), s.size()};
  }
};

template <class T, std::size_t N>
struct Reducer<std::array<T, N>> : detail::SequenceOf<T> {
  static std::string name() { return "array<" + type_signature<T>() + "," + std::to_string(N) + ">"; }
  static flatbuffers::uoffset_t write(Encoder& e, const std::array<T, N>& a) {
    if constexpr (detail::kInline<T>) {
      return detail::write_inline<T>(e, a.data(), N);
    } else {
      return detail::write_offsets<T>(e, a.begin(), N);
    }
  }
  static std::array<T, N> read(const Decoder& d, const uint8_t* p) {
    // Inline elements may stand in the arena (an empty vector in the envelope): count those.
    std::size_t n = 0;
    if constexpr (detail::kInline<T>) {
      n = detail::inline_elements<T>(d, p).size();
    } else {
      n = detail::SequenceOf<T>::count(p);
    }
    if (n != N && !(p == nullptr && N == 0)) {
      throw DecodeError("brine: std::array of " + std::to_string(N) + " elements received " + std::to_string(n));
    }
    std::array<T, N> out{};
    std::size_t i = 0;
    detail::SequenceOf<T>::read_into(d, p, [&](T&& x) { out[i++] = std::move(x); });
    return out;
  }
};

// ---- composites ----------------------------------------------------------------------------

namespace detail {
template <class... Ts>
std::string tokens() {
  std::string out;
  ((out += "_", out += Wire<Ts>::token()), ...);
  return out;
}
// A built-in composite of Ts..., written as a table named brine.fb.<prefix>_<tokens>.
template <class Self, class... Ts>
struct CompositeTable {
  static constexpr WireKind kind = WireKind::kTable;
  static bool verify(Verifier& v, const uint8_t* p) { return TableOf<Ts...>::verify(v, p); }
  static void describe(std::string& out) { TableOf<Ts...>::describe(out); }
  static std::string token() { return std::string(Self::kPrefix) + tokens<Ts...>(); }
  static std::string schema_type(SchemaWriter& s) {
    const std::string name = "brine.fb." + token();
    if (s.claim(name)) s.define(name, "table", TableOf<Ts...>::fields(s, Self::field_names()));
    return name;
  }
  static const std::string_view* field_names() { return nullptr; }
};
}  // namespace detail

template <class... Ts>
struct Reducer<std::tuple<Ts...>> : detail::CompositeTable<Reducer<std::tuple<Ts...>>, Ts...> {
  static constexpr const char* kPrefix = "Tuple";
  static std::string name() { return "tuple<" + detail::signature_list<Ts...>() + ">"; }
  static flatbuffers::uoffset_t write(Encoder& e, const std::tuple<Ts...>& t) {
    return std::apply([&](const auto&... x) { return detail::TableOf<Ts...>::write(e, x...); }, t);
  }
  static std::tuple<Ts...> read(const Decoder& d, const uint8_t* p) {
    const auto* t = reinterpret_cast<const flatbuffers::Table*>(p);
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return std::tuple<Ts...>{detail::Slot<Ts>::read(d, t, detail::slot_of(I))...};
    }(std::index_sequence_for<Ts...>());
  }
};

template <class A, class B>
struct Reducer<std::pair<A, B>> : detail::CompositeTable<Reducer<std::pair<A, B>>, A, B> {
  static constexpr const char* kPrefix = "Pair";
  static std::string name() { return "pair<" + detail::signature_list<A, B>() + ">"; }
  static flatbuffers::uoffset_t write(Encoder& e, const std::pair<A, B>& p) {
    return detail::TableOf<A, B>::write(e, p.first, p.second);
  }
  static std::pair<A, B> read(const Decoder& d, const uint8_t* p) {
    const auto* t = reinterpret_cast<const flatbuffers::Table*>(p);
    return {detail::Slot<A>::read(d, t, detail::slot_of(0)), detail::Slot<B>::read(d, t, detail::slot_of(1))};
  }
  static const std::string_view* field_names() {
    static constexpr std::string_view kNames[] = {"first", "second"};
    return kNames;
  }
};

// Standing alone (a root, an element, a result) an optional is a one-field table whose field
// is absent when empty; as a field of a table it is that field, absent when empty.
template <class T>
struct Reducer<std::optional<T>> : detail::CompositeTable<Reducer<std::optional<T>>, std::optional<T>> {
  static constexpr const char* kPrefix = "Optional";
  static std::string name() { return "optional<" + type_signature<T>() + ">"; }
  static flatbuffers::uoffset_t write(Encoder& e, const std::optional<T>& o) {
    return detail::TableOf<std::optional<T>>::write(e, o);
  }
  static std::optional<T> read(const Decoder& d, const uint8_t* p) {
    return detail::Slot<std::optional<T>>::read(d, reinterpret_cast<const flatbuffers::Table*>(p), detail::slot_of(0));
  }
  static std::string token() { return "Optional" + detail::tokens<T>(); }
  static const std::string_view* field_names() {
    static constexpr std::string_view kNames[] = {"value"};
    return kNames;
  }
};

// A table with one field per alternative; exactly one is present (a scalar even when zero).
template <class... Ts>
struct Reducer<std::variant<Ts...>> : detail::CompositeTable<Reducer<std::variant<Ts...>>, std::optional<Ts>...> {
  static constexpr const char* kPrefix = "Variant";
  static std::string name() { return "variant<" + detail::signature_list<Ts...>() + ">"; }
  static flatbuffers::uoffset_t write(Encoder& e, const std::variant<Ts...>& var) {
    if (var.valueless_by_exception()) throw NotSerializable("brine: cannot send a valueless std::variant");
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return detail::TableOf<std::optional<Ts>...>::write(
          e, (var.index() == I ? std::optional<Ts>(std::get<I>(var)) : std::optional<Ts>())...);
    }(std::index_sequence_for<Ts...>());
  }
  static std::variant<Ts...> read(const Decoder& d, const uint8_t* p) {
    const auto* t = reinterpret_cast<const flatbuffers::Table*>(p);
    std::size_t present = 0, which = 0;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((detail::Slot<Ts>::present(t, detail::slot_of(I)) ? (++present, which = I) : 0), ...);
    }(std::index_sequence_for<Ts...>());
    if (present != 1) {
      throw DecodeError("brine: a variant holds " + std::to_string(present) +
                        " alternatives; exactly one must be present");
    }
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      std::variant<Ts...> out;
      ((which == I ? (out.template emplace<I>(detail::Slot<Ts>::read(d, t, detail::slot_of(I))), 0) : 0), ...);
      return out;
    }(std::index_sequence_for<Ts...>());
  }
  static std::string token() { return "Variant" + detail::tokens<Ts...>(); }
};

namespace detail {
template <class Map, bool kSorted>
struct MapWire {
  using K = typename Map::key_type;
  using V = typename Map::mapped_type;
  struct Entry {
    static std::string token() { return "Entry" + tokens<K, V>(); }
  };
  static constexpr WireKind kind = WireKind::kVector;
  static std::string name() { return "map<" + signature_list<K, V>() + ">"; }
  static flatbuffers::uoffset_t write(Encoder& e, const Map& m) {
    std::vector<const typename Map::value_type*> entries;
    entries.reserve(m.size());
    for (const auto& kv : m) entries.push_back(&kv);
    if constexpr (!kSorted) {
      std::sort(entries.begin(), entries.end(), [](const auto* a, const auto* b) { return a->first < b->first; });
    }
    std::vector<flatbuffers::Offset<void>> offsets;
    offsets.reserve(entries.size());
    for (const auto* kv : entries) offsets.emplace_back(TableOf<K, V>::write(e, kv->first, kv->second));
    e.reserve(offsets.size() * sizeof(flatbuffers::uoffset_t));
    return e.builder().CreateVector(offsets.data(), offsets.size()).o;
  }
  static Map read(const Decoder& d, const uint8_t* p) {
    Map out;
    if (p == nullptr) return out;
    const auto n = flatbuffers::ReadScalar<flatbuffers::uoffset_t>(p);
    for (flatbuffers::uoffset_t i = 0; i < n; ++i) {
      const auto* t = reinterpret_cast<const flatbuffers::Table*>(
          deref(p + sizeof(flatbuffers::uoffset_t) + std::size_t{i} * sizeof(flatbuffers::uoffset_t)));
      out.emplace(Slot<K>::read(d, t, slot_of(0)), Slot<V>::read(d, t, slot_of(1)));
    }
    return out;
  }
  static bool verify(Verifier& v, const uint8_t* p) {
    if (!v.VerifyVectorOrString(p, sizeof(flatbuffers::uoffset_t))) return false;
    const auto n = flatbuffers::ReadScalar<flatbuffers::uoffset_t>(p);
    for (flatbuffers::uoffset_t i = 0; i < n; ++i) {
      const uint8_t* at = p + sizeof(flatbuffers::uoffset_t) + std::size_t{i} * sizeof(flatbuffers::uoffset_t);
      if (v.VerifyOffset(at, 0) == 0 || !TableOf<K, V>::verify(v, deref(at))) return false;
    }
    return true;
  }
  static void describe(std::string& out) {
    out += '[';
    TableOf<K, V>::describe(out);
    out += ']';
  }
  static std::string token() { return "Map" + tokens<K, V>(); }
  static std::string schema_type(SchemaWriter& s) {
    const std::string name = "brine.fb." + Entry::token();
    if (s.claim(name)) {
      const std::string key = Slot<K>::schema(s);
      const bool keyed = Wire<K>::kind == WireKind::kScalar || Wire<K>::kind == WireKind::kString;
      s.define(name, "table", {"key: " + key + (keyed ? " (key)" : ""), "value: " + Slot<V>::schema(s)});
    }
    return "[" + name + "]";
  }
};
}  // namespace detail

template <class K, class V, class C, class A>
struct Reducer<std::map<K, V, C, A>> : detail::MapWire<std::map<K, V, C, A>, true> {};
template <class K, class V, class H, class E, class A>
struct Reducer<std::unordered_map<K, V, H, E, A>> : detail::MapWire<std::unordered_map<K, V, H, E, A>, false> {};

// ---- reduce-to hooks ------------------------------------------------------------------------

namespace detail {
template <class T>
struct ReduceAdapter {
  using R = Reducer<T>;
  using As = std::remove_cvref_t<typename R::As>;
  using W = Wire<As>;
  static constexpr WireKind kind = W::kind;
  static constexpr bool kNative = false;
  static std::string name() { return type_signature<As>(); }
  static auto store(const T& v) { return W::store(R::reduce(v)); }
  template <class S>
  static T load(const S& s) {
    return R::rebuild(W::load(s));
  }
  static flatbuffers::uoffset_t write(Encoder& e, const T& v) { return write_value<As>(e, R::reduce(v)); }
  static T read(const Decoder& d, const uint8_t* p) { return R::rebuild(read_value<As>(d, p)); }
  static bool verify(Verifier& v, const uint8_t* p) { return W::verify(v, p); }
  static void describe(std::string& out) { W::describe(out); }
  static std::string schema_type(SchemaWriter& s) { return s.type<As>(); }
  static std::string token() { return W::token(); }
};
}  // namespace detail

// ---- aggregates: a hook that lists the fields ----------------------------------------------

namespace detail {
template <class M>
struct MemberTraits;
template <class C, class T>
struct MemberTraits<T C::*> {
  using Class = C;
  using Type = T;
};

// Whether T can be a member of a FlatBuffers struct, byte for byte: fixed-width scalars other
// than bool (any byte pattern must be a valid value), enums, plain structs, arrays of them.
template <class T>
constexpr bool struct_member() {
  if constexpr (std::is_arithmetic_v<T>) {
    return !std::is_same_v<T, bool> && !std::is_same_v<T, long double>;
  } else if constexpr (std::is_enum_v<T>) {
    return true;
  } else if constexpr (requires { typename T::rep; typename T::period; }) {
    return std::is_same_v<T, std::chrono::duration<typename T::rep, typename T::period>> &&
           struct_member<typename T::rep>();
  } else if constexpr (requires { typename std::tuple_size<T>::type; } && requires { typename T::value_type; }) {
    if constexpr (std::is_same_v<T, std::array<typename T::value_type, std::tuple_size_v<T>>>) {
      return std::tuple_size_v<T> > 0 && struct_member<typename T::value_type>();
    } else {
      return false;
    }
  } else if constexpr (LowLevel<T>) {
    return Wire<T>::kind == WireKind::kStruct;
  } else {
    return false;
  }
}

struct StructLayout {
  std::size_t size = 0;
  std::size_t align = 1;
};
template <class... Ts>
constexpr StructLayout fb_struct_layout() {
  StructLayout l;
  ((l.size = (l.size + alignof(Ts) - 1) / alignof(Ts) * alignof(Ts) + sizeof(Ts),
    l.align = std::max(l.align, alignof(Ts))),
   ...);
  l.size = (l.size + l.align - 1) / l.align * l.align;
  return l;
}

// A std::array inside a struct is a fixed-length array [T:N], not the vector it is elsewhere.
template <class T>
inline constexpr bool kStdArray = false;
template <class T, std::size_t N>
inline constexpr bool kStdArray<std::array<T, N>> = true;

template <class T>
void describe_struct_member(std::string& out) {
  if constexpr (!kStdArray<T>) {
    Wire<T>::describe(out);
  } else {
    out += '[';
    describe_struct_member<typename T::value_type>(out);
    out += ':' + std::to_string(std::tuple_size_v<T>) + ']';
  }
}
template <class T>
std::string struct_member_type(SchemaWriter& s) {
  if constexpr (!kStdArray<T>) {
    return s.type<T>();
  } else {
    return "[" + struct_member_type<typename T::value_type>(s) + ":" + std::to_string(std::tuple_size_v<T>) + "]";
  }
}
}  // namespace detail

// Reducer for a struct whose public fields are listed: Reducer<P> : Fields<&P::a, &P::b> {}.
// Field i is member i, named as in C++. A trivially copyable struct whose listed members are
// every member, in declaration order, all fixed-width scalars (not bool), enums, plain structs
// or arrays of them, is a FlatBuffers struct: inline, fixed forever (no fields can be added),
// and a vector of it is one block, decoded in place as a std::span. Anything else is a table:
// fields may be added at the end, old readers ignore them, new readers see defaults. The
// struct must be default-constructible.
template <auto... kMembers>
struct Fields {
  using Class = std::common_type_t<typename detail::MemberTraits<decltype(kMembers)>::Class...>;
  template <std::size_t I>
  using Member = typename detail::MemberTraits<std::tuple_element_t<I, std::tuple<decltype(kMembers)...>>>::Type;
  using Table = detail::TableOf<typename detail::MemberTraits<decltype(kMembers)>::Type...>;

  static constexpr detail::StructLayout kLayout =
      detail::fb_struct_layout<typename detail::MemberTraits<decltype(kMembers)>::Type...>();
  static constexpr bool kIsStruct = std::is_trivially_copyable_v<Class> && std::is_standard_layout_v<Class> &&
                                    (detail::struct_member<typename detail::MemberTraits<decltype(kMembers)>::Type>() &&
                                     ...) &&
                                    kLayout.size == sizeof(Class) && kLayout.align == alignof(Class);
  static constexpr WireKind kind = kIsStruct ? WireKind::kStruct : WireKind::kTable;
  static constexpr bool kNative = true;

  static std::string name() {
    return demangle(typeid(Class).name()) + "{" +
           detail::signature_list<typename detail::MemberTraits<decltype(kMembers)>::Type...>() + "}";
  }

  // ---- struct form: the object's bytes are the FlatBuffers struct ----
  static const Class& store(const Class& c) {
    check_layout();
    return c;
  }
  static Class load(const Class& c) {
    check_layout();
    return c;
  }

  // ---- table form ----
  // The fields' declared defaults: what a reader sees for an absent field, and what the
  // writer leaves out. A hook declares them with `static const Defaults& defaults()` (as
  // brine-codegen does, from the C++ default member initializers); without one, zero.
  using Defaults = std::tuple<typename detail::MemberTraits<decltype(kMembers)>::Type...>;
  static const Defaults* field_defaults() {
    if constexpr (requires { { Reducer<Class>::defaults() } -> std::same_as<const Defaults&>; }) {
      return &Reducer<Class>::defaults();
    } else {
      return nullptr;
    }
  }
  static flatbuffers::uoffset_t write(Encoder& e, const Class& c) {
    return Table::write_defaulted(e, field_defaults(), c.*kMembers...);
  }
  static Class read(const Decoder& d, const uint8_t* p) {
    const auto* t = reinterpret_cast<const flatbuffers::Table*>(p);
    const Defaults* defaults = field_defaults();
    Class out{};
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (detail::read_slot_into(d, t, detail::slot_of(I), defaults != nullptr ? &std::get<I>(*defaults) : nullptr,
                              out.*kMembers),
       ...);
    }(std::index_sequence_for<decltype(kMembers)...>());
    return out;
  }
  static bool verify(Verifier& v, const uint8_t* p) { return Table::verify(v, p); }

  static void describe(std::string& out) {
    if constexpr (kIsStruct) {
      out += "S(";
      bool first = true;
      ((out += first ? "" : ",", first = false,
        detail::describe_struct_member<typename detail::MemberTraits<decltype(kMembers)>::Type>(out)),
       ...);
      out += ')';
    } else {
      Table::describe(out);
    }
  }
  static std::string schema_name() { return detail::qualified_schema_name(demangle(typeid(Class).name())); }
  static std::string token() { return detail::name_token(schema_name()); }
  static std::string schema_type(SchemaWriter& s) {
    const std::string qualified = schema_name();
    if (s.claim(qualified)) {
      static constexpr std::string_view kNames[] = {detail::member_name<kMembers>()...};
      if constexpr (kIsStruct) {
        check_layout();
        std::vector<std::string> fields;
        std::size_t i = 0;
        ((fields.push_back(std::string(kNames[i]) + ": " +
                           detail::struct_member_type<typename detail::MemberTraits<decltype(kMembers)>::Type>(s)),
          ++i),
         ...);
        s.define(qualified, "struct", fields, demangle(typeid(Class).name()));
      } else {
        s.define(qualified, "table", Table::fields(s, kNames, field_defaults()), demangle(typeid(Class).name()));
      }
    }
    return qualified;
  }

 private:
  // A struct's listed members must be its members in declaration order; checked once.
  static void check_layout() {
    if constexpr (kIsStruct) {
      static const std::size_t bad = [] {
        const Class probe{};
        const auto* base = reinterpret_cast<const char*>(&probe);
        std::size_t offset = 0, i = 0;
        std::size_t mismatch = SIZE_MAX;
        (
            [&] {
              using M = typename detail::MemberTraits<decltype(kMembers)>::Type;
              offset = (offset + alignof(M) - 1) / alignof(M) * alignof(M);
              if (mismatch == SIZE_MAX &&
                  static_cast<std::size_t>(reinterpret_cast<const char*>(&(probe.*kMembers)) - base) != offset) {
                mismatch = i;
              }
              offset += sizeof(M);
              ++i;
            }(),
            ...);
        return mismatch;
      }();
      if (bad != SIZE_MAX) detail::throw_not_struct_layout(demangle(typeid(Class).name()), bad);
    }
  }
};

// Fields<...> as a table even when it could be a struct: use it for a type that may gain
// fields later (a FlatBuffers struct never can).
template <auto... kMembers>
struct TableFields : Fields<kMembers...> {
  using Base = Fields<kMembers...>;
  static constexpr WireKind kind = WireKind::kTable;
  static void describe(std::string& out) { Base::Table::describe(out); }
  static std::string schema_type(SchemaWriter& s) {
    const std::string qualified = Base::schema_name();
    if (s.claim(qualified)) {
      static constexpr std::string_view kNames[] = {detail::member_name<kMembers>()...};
      s.define(qualified, "table", Base::Table::fields(s, kNames, Base::field_defaults()),
               demangle(typeid(typename Base::Class).name()));
    }
    return qualified;
  }
};

// ---- copy() / ref(): force how contiguous data travels -------------------------------------

template <class T>
struct Placed {
  const T& value;
  Placement placement;
};
// Copies x into the envelope whatever its size.
template <class T>
Placed<T> copy(const T& x) { return {x, Placement::kCopy}; }
// Places x's contiguous data in the shared arena whatever its size.
template <class T>
Placed<T> ref(const T& x) { return {x, Placement::kReference}; }

namespace detail {
template <class T>
struct IsPlaced : std::false_type {};
template <class T>
struct IsPlaced<Placed<T>> : std::true_type {};
}  // namespace detail

// Written as T, inside the placement it asks for.
template <class T>
struct Reducer<Placed<T>> {
  using W = Wire<T>;
  static constexpr WireKind kind = W::kind;
  static constexpr bool kNative = false;
  static std::string name() { return type_signature<T>(); }
  static auto store(const Placed<T>& p) { return W::store(p.value); }
  static flatbuffers::uoffset_t write(Encoder& e, const Placed<T>& p) {
    Encoder::PlacementScope scope(e, p.placement);
    return detail::write_value<T>(e, p.value);
  }
  static bool verify(Verifier& v, const uint8_t* p) { return W::verify(v, p); }
  static void describe(std::string& out) { W::describe(out); }
  static std::string schema_type(SchemaWriter& s) { return s.type<T>(); }
  static std::string token() { return W::token(); }
};

// ---- roots: what stands at the top of a dump or a result ------------------------------------

namespace detail {
// A table-kind T is its own root; any other T is boxed.
template <class T>
using Root = std::conditional_t<Wire<T>::kind == WireKind::kTable, Wire<T>, Box<T>>;

template <class T>
flatbuffers::uoffset_t write_root(Encoder& e, const T& v) {
  if constexpr (Wire<T>::kind == WireKind::kTable) {
    return write_value<T>(e, v);
  } else {
    return Box<T>::write(e, v);
  }
}
template <class T>
T read_root(const Decoder& d, const uint8_t* p) {
  if constexpr (Wire<T>::kind == WireKind::kTable) {
    return read_value<T>(d, p);
  } else {
    return Box<T>::read(d, p);
  }
}
template <class T>
void describe_root(std::string& out) {
  Root<T>::describe(out);
}
}  // namespace detail

}  // namespace brine
