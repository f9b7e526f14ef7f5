// Reduce hooks: how a value of type T is written into an envelope and rebuilt from it — the
// C++ counterpart of Python's __reduce__ / copyreg.
//
// The one customization point is a specialization of brine::Reducer<T>:
//
//   struct Point { double x, y; std::string label; };
//   template <> struct brine::Reducer<Point> : brine::Fields<&Point::x, &Point::y, &Point::label> {};
//
// or, for full control,
//
//   template <> struct brine::Reducer<Celsius> {
//     static brine::ValueRef encode(brine::Encoder& e, const Celsius& c) { return e.encode(c.value); }
//     static Celsius decode(const brine::Decoder& d, const brine::fb::Value& v) {
//       return Celsius{d.decode<double>(&v)};
//     }
//   };
//
// Hooks compose: a Reducer calls e.encode(member) for members of any reducible type.
// Built in: arithmetic types, bool, enums, std::string (decode also to std::string_view),
// std::vector, std::span<const T> of arithmetic T (zero-copy decode), std::array, std::pair,
// std::tuple, std::optional, std::variant, std::map, std::unordered_map.
// A type with no Reducer fails to compile with a message naming brine::Reducer.
#pragma once

#include <array>
#include <concepts>
#include <cstring>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "brine/core/codec.h"

namespace brine {

// Specialize for your type (see the header comment). The primary template is left undefined.
template <class T, class Enable = void>
struct Reducer;

template <class T>
concept Reducible = requires(Encoder& e, const Decoder& d, const T& v, const fb::Value& fv) {
  { Reducer<T>::encode(e, v) } -> std::same_as<ValueRef>;
  { Reducer<T>::decode(d, fv) } -> std::convertible_to<T>;
};

namespace detail {
template <class T>
inline constexpr bool kArithmetic = std::is_arithmetic_v<T>;

template <class T>
void require_reducible() {
  static_assert(Reducible<T>,
                "brine: this type has no reduce hook. Specialize brine::Reducer<T> with static "
                "encode/decode (or derive it from brine::Fields<&T::member...>), or pass a "
                "supported type; see the README section 'Reduce hooks'. The type is named in the "
                "'required from' lines below.");
}
}  // namespace detail

// ---- the name of a type, stable across processes of any binary: feeds fingerprints ----------

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

// ---- arithmetic, bool, enums ----------------------------------------------------------------

template <class T>
struct Reducer<T, std::enable_if_t<std::is_arithmetic_v<T> || std::is_enum_v<T>>> {
  static std::string name() {
    if constexpr (std::is_enum_v<T>) {
      return "enum:" + demangle(typeid(T).name());
    } else if constexpr (std::is_same_v<T, bool>) {
      return "bool";
    } else {
      return std::string(std::is_floating_point_v<T> ? "f" : std::is_signed_v<T> ? "i" : "u") +
             std::to_string(sizeof(T) * 8);
    }
  }
  static ValueRef encode(Encoder& e, T v) {
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    return e.scalar(bits);
  }
  static T decode(const Decoder& d, const fb::Value& v) {
    const uint64_t bits = d.scalar(v);
    T out;
    std::memcpy(&out, &bits, sizeof(T));
    if constexpr (std::is_same_v<T, bool>) {
      if (bits > 1) throw DecodeError("brine: a bool value holds " + std::to_string(bits));
    }
    return out;
  }
};

// ---- strings -------------------------------------------------------------------------------

template <>
struct Reducer<std::string> {
  static std::string name() { return "string"; }
  static ValueRef encode(Encoder& e, const std::string& s) { return e.string(s); }
  static std::string decode(const Decoder& d, const fb::Value& v) { return std::string(d.string(v)); }
};

// Decodes as a view into the envelope: zero-copy, valid while the task runs.
template <>
struct Reducer<std::string_view> {
  static std::string name() { return "string"; }
  static ValueRef encode(Encoder& e, std::string_view s) { return e.string(s); }
  static std::string_view decode(const Decoder& d, const fb::Value& v) { return d.string(v); }
};

// ---- contiguous arithmetic data: copied or referenced --------------------------------------

template <class T>
  requires detail::kArithmetic<T>
struct Reducer<std::span<const T>> {
  static std::string name() { return "array<" + type_signature<T>() + ">"; }
  static ValueRef encode(Encoder& e, std::span<const T> s) {
    return e.bytes(s.data(), s.size_bytes(), alignof(T));
  }
  static std::span<const T> decode(const Decoder& d, const fb::Value& v) { return d.array<T>(v); }
};

template <class T, class A>
  requires detail::kArithmetic<T> && (!std::is_same_v<T, bool>)
struct Reducer<std::vector<T, A>> {
  static std::string name() { return "array<" + type_signature<T>() + ">"; }
  static ValueRef encode(Encoder& e, const std::vector<T, A>& v) {
    return e.bytes(v.data(), v.size() * sizeof(T), alignof(T));
  }
  static std::vector<T, A> decode(const Decoder& d, const fb::Value& v) {
    auto b = d.bytes(v, sizeof(T), 1);
    const std::size_t n = b.size() / sizeof(T);
    if (reinterpret_cast<std::uintptr_t>(b.data()) % alignof(T) == 0) {
      const T* p = reinterpret_cast<const T*>(b.data());
      return std::vector<T, A>(p, p + n);  // one pass: no zero-fill before the copy
    }
    std::vector<T, A> out(n);
    if (n != 0) std::memcpy(out.data(), b.data(), b.size());
    return out;
  }
};

template <class T, std::size_t N>
  requires detail::kArithmetic<T>
struct Reducer<std::array<T, N>> {
  static std::string name() { return "array<" + type_signature<T>() + "," + std::to_string(N) + ">"; }
  static ValueRef encode(Encoder& e, const std::array<T, N>& a) {
    return e.bytes(a.data(), N * sizeof(T), alignof(T));
  }
  static std::array<T, N> decode(const Decoder& d, const fb::Value& v) {
    auto b = d.bytes(v, sizeof(T), 1);
    if (b.size() != N * sizeof(T)) {
      throw DecodeError("brine: std::array of " + std::to_string(N) + " elements received " +
                        std::to_string(b.size() / sizeof(T)));
    }
    std::array<T, N> out;
    std::memcpy(out.data(), b.data(), b.size());
    return out;
  }
};

// ---- composites ----------------------------------------------------------------------------

namespace detail {
// Encodes a range element by element into one composite.
template <class Range>
ValueRef encode_range(Encoder& e, const Range& r) {
  const std::size_t m = e.mark();
  for (const auto& x : r) e.push(e.encode(x));
  return e.items_since(m);
}
}  // namespace detail

template <class T, class A>
  requires(!detail::kArithmetic<T> || std::is_same_v<T, bool>)
struct Reducer<std::vector<T, A>> {
  static std::string name() { return "vector<" + type_signature<T>() + ">"; }
  static ValueRef encode(Encoder& e, const std::vector<T, A>& v) { return detail::encode_range(e, v); }
  static std::vector<T, A> decode(const Decoder& d, const fb::Value& v) {
    const ValueList& list = d.items(v);
    std::vector<T, A> out;
    out.reserve(list.size());
    for (std::size_t i = 0; i < list.size(); ++i) out.push_back(d.decode<T>(&d.item(list, i)));
    return out;
  }
};

template <class T, std::size_t N>
  requires(!detail::kArithmetic<T>)
struct Reducer<std::array<T, N>> {
  static std::string name() { return "array<" + type_signature<T>() + "," + std::to_string(N) + ">"; }
  static ValueRef encode(Encoder& e, const std::array<T, N>& a) { return detail::encode_range(e, a); }
  static std::array<T, N> decode(const Decoder& d, const fb::Value& v) {
    const ValueList& list = d.items(v, N);
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return std::array<T, N>{d.decode<T>(&d.item(list, I))...};
    }(std::make_index_sequence<N>());
  }
};

template <class... Ts>
struct Reducer<std::tuple<Ts...>> {
  static std::string name() { return "tuple<" + detail::signature_list<Ts...>() + ">"; }
  static ValueRef encode(Encoder& e, const std::tuple<Ts...>& t) {
    const std::size_t m = e.mark();
    std::apply([&](const auto&... x) { (e.push(e.encode(x)), ...); }, t);
    return e.items_since(m);
  }
  static std::tuple<Ts...> decode(const Decoder& d, const fb::Value& v) {
    const ValueList& list = d.items(v, sizeof...(Ts));
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return std::tuple<Ts...>{d.decode<Ts>(&d.item(list, I))...};
    }(std::index_sequence_for<Ts...>());
  }
};

template <class A, class B>
struct Reducer<std::pair<A, B>> {
  static std::string name() { return "pair<" + detail::signature_list<A, B>() + ">"; }
  static ValueRef encode(Encoder& e, const std::pair<A, B>& p) {
    return e.items_of(0, e.encode(p.first), e.encode(p.second));
  }
  static std::pair<A, B> decode(const Decoder& d, const fb::Value& v) {
    const ValueList& list = d.items(v, 2);
    return {d.decode<A>(&d.item(list, 0)), d.decode<B>(&d.item(list, 1))};
  }
};

template <class T>
struct Reducer<std::optional<T>> {
  static std::string name() { return "optional<" + type_signature<T>() + ">"; }
  static ValueRef encode(Encoder& e, const std::optional<T>& o) {
    if (!o) return e.items({}, 0);
    return e.items_of(1, e.encode(*o));
  }
  static std::optional<T> decode(const Decoder& d, const fb::Value& v) {
    if (v.tag() == 0) return std::nullopt;
    if (v.tag() != 1) throw DecodeError("brine: an optional carries tag " + std::to_string(v.tag()));
    return d.decode<T>(&d.item(d.items(v, 1), 0));
  }
};

template <class... Ts>
struct Reducer<std::variant<Ts...>> {
  static std::string name() { return "variant<" + detail::signature_list<Ts...>() + ">"; }
  static ValueRef encode(Encoder& e, const std::variant<Ts...>& var) {
    if (var.valueless_by_exception()) throw NotSerializable("brine: cannot send a valueless std::variant");
    return std::visit([&](const auto& x) { return e.items_of(static_cast<uint32_t>(var.index() + 1), e.encode(x)); },
                      var);
  }
  static std::variant<Ts...> decode(const Decoder& d, const fb::Value& v) {
    const uint32_t tag = v.tag();
    if (tag == 0 || tag > sizeof...(Ts)) {
      throw DecodeError("brine: variant alternative " + std::to_string(tag) + " out of range 1.." +
                        std::to_string(sizeof...(Ts)));
    }
    const fb::Value& inner = d.item(d.items(v, 1), 0);
    using Decode = std::variant<Ts...> (*)(const Decoder&, const fb::Value&);
    static constexpr Decode kDecoders[] = {[](const Decoder& dd, const fb::Value& x) {
      return std::variant<Ts...>(std::in_place_type<Ts>, dd.decode<Ts>(&x));
    }...};
    return kDecoders[tag - 1](d, inner);
  }
};

namespace detail {
template <class Map>
struct MapReducer {
  using K = typename Map::key_type;
  using V = typename Map::mapped_type;
  static std::string name() { return "map<" + signature_list<K, V>() + ">"; }
  static ValueRef encode(Encoder& e, const Map& m) {
    const std::size_t mark = e.mark();
    for (const auto& [k, v] : m) {
      e.push(e.encode(k));
      e.push(e.encode(v));
    }
    return e.items_since(mark);
  }
  static Map decode(const Decoder& d, const fb::Value& v) {
    const ValueList& list = d.items(v);
    if (list.size() % 2 != 0) throw DecodeError("brine: a map holds an odd number of items");
    Map out;
    for (std::size_t i = 0; i < list.size(); i += 2) {
      out.emplace(d.decode<K>(&d.item(list, i)), d.decode<V>(&d.item(list, i + 1)));
    }
    return out;
  }
};
}  // namespace detail

template <class K, class V, class C, class A>
struct Reducer<std::map<K, V, C, A>> : detail::MapReducer<std::map<K, V, C, A>> {};
template <class K, class V, class H, class E, class A>
struct Reducer<std::unordered_map<K, V, H, E, A>> : detail::MapReducer<std::unordered_map<K, V, H, E, A>> {};

// ---- aggregates: a hook that lists the fields ----------------------------------------------

namespace detail {
template <class M>
struct MemberTraits;
template <class C, class T>
struct MemberTraits<T C::*> {
  using Class = C;
  using Type = T;
};
}  // namespace detail

// Reducer for a struct whose public fields are listed: Reducer<P> : Fields<&P::a, &P::b> {}.
// Fields are written in order; the struct must be default-constructible.
template <auto... kMembers>
struct Fields {
  using Class = std::common_type_t<typename detail::MemberTraits<decltype(kMembers)>::Class...>;
  static std::string name() {
    return demangle(typeid(Class).name()) + "{" +
           detail::signature_list<typename detail::MemberTraits<decltype(kMembers)>::Type...>() + "}";
  }
  static ValueRef encode(Encoder& e, const Class& c) {
    const std::size_t m = e.mark();
    (e.push(e.encode(c.*kMembers)), ...);
    return e.items_since(m);
  }
  static Class decode(const Decoder& d, const fb::Value& v) {
    const ValueList& list = d.items(v, sizeof...(kMembers));
    Class out{};
    std::size_t i = 0;
    ((out.*kMembers = d.decode<typename detail::MemberTraits<decltype(kMembers)>::Type>(&d.item(list, i++))), ...);
    return out;
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

// ---- Encoder / Decoder dispatch ------------------------------------------------------------

template <class T>
ValueRef Encoder::encode(const T& v) {
  if constexpr (detail::IsPlaced<T>::value) {
    PlacementScope scope(*this, v.placement);
    return encode(v.value);
  } else {
    detail::require_reducible<T>();
    if (options_.reducers != nullptr && !options_.reducers->empty()) {
      if (const auto* hooks = options_.reducers->find<T>()) return hooks->encode(*this, v);
    }
    return Reducer<T>::encode(*this, v);
  }
}

template <class T>
T Decoder::decode(const fb::Value* v) const {
  detail::require_reducible<T>();
  if (v == nullptr) throw DecodeError("brine: missing value where a " + type_signature<T>() + " was expected");
  if (reducers_ != nullptr && !reducers_->empty()) {
    if (const auto* hooks = reducers_->find<T>()) return hooks->decode(*this, *v);
  }
  return Reducer<T>::decode(*this, *v);
}

}  // namespace brine
