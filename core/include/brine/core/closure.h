// Closures: callables that carry state to a worker. Three forms, like Python's dill
// (by name, portable) versus cloudpickle (by value, exact):
//
//  1. brine::partial(fn, bound...) — a registered function with leading arguments bound; the
//     bound values are reduced like any argument (loky ships functools.partial the same way).
//       auto scale = brine::partial(multiply, 2.5);  pool.submit(scale, 4.0);   // 10.0
//
//  2. a functor registered by name; its members travel through its reduce hook:
//       struct Threshold { double limit; bool operator()(double x) const { return x > limit; } };
//       template <> struct brine::Reducer<Threshold> : brine::Fields<&Threshold::limit> {};
//       BRINE_REGISTER_FUNCTOR(Threshold);   // in the namespace of Threshold
//
//  3. a lambda by value, for workers running the same binary image: its captures are copied
//     byte for byte, so they must be trivially copyable (no std::string or std::vector: use
//     form 1 or 2 for those); the task names the lambda by its invoker's offset in the image
//     and carries the image's build id, and a worker of another image refuses it. A captured
//     pointer or reference is copied as an address: meaningless in another process — capture
//     values only.
//       int k = 3;  pool.submit([k](int x) { return x * k; }, 14);   // 42
//
// CallableTraits<C> tells the pool how each form travels; all forms run through the
// function registry, so a worker only ever calls code registered in its own binary.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>
#include <iterator>
#include <ranges>

#include "brine/core/call.h"

namespace brine {

// Build identity (GNU build-id, else a hash of the file) of the loaded image containing
// `address`; 0 if unknown.
uint64_t image_id_of(const void* address);
// Offset of `address` from the load base of its image: the same in every process of that
// image, whatever the address-space layout.
uint64_t image_offset_of(const void* address);

template <class F, class... B>
struct Partial {
  F fn;
  std::tuple<B...> bound;
};

// Binds the leading arguments of a registered function.
template <class R, class... P, class... B>
Partial<R (*)(P...), std::decay_t<B>...> partial(R (*fn)(P...), B&&... bound) {
  static_assert(sizeof...(B) <= sizeof...(P), "brine::partial: more bound arguments than parameters");
  return {fn, std::tuple<std::decay_t<B>...>(std::forward<B>(bound)...)};
}
template <class R, class... P, class... B>
Partial<R (*)(P...), std::decay_t<B>...> partial(R (*fn)(P...) noexcept, B&&... bound) {
  return partial(reinterpret_cast<R (*)(P...)>(fn), std::forward<B>(bound)...);
}

// A lambda's captures, byte for byte (it is trivially copyable): parameter 0 of a lambda's
// signature table, a [ubyte] vector always copied into the task.
template <class L>
struct Captures {
  L lambda;
};

template <class L>
struct Reducer<Captures<L>> {
  static constexpr WireKind kind = WireKind::kVector;
  static std::string name() { return "captures"; }
  static flatbuffers::uoffset_t write(Encoder& e, const Captures<L>& c) {
    return e.contiguous(&c.lambda, sizeof(L), 1, 1, Placement::kCopy);
  }
  static Captures<L> read(const Decoder& d, const uint8_t* p) {
    if (p == nullptr) throw DecodeError("brine: a lambda task carries no captures");
    const auto bytes = d.contiguous(p, 1, 1);
    if (bytes.size() != sizeof(L)) {
      throw DecodeError("brine: a lambda's captures are " + std::to_string(bytes.size()) + " bytes, expected " +
                        std::to_string(sizeof(L)));
    }
    // A closure type with trivially copyable captures is an implicit-lifetime type: copying
    // its bytes into suitably aligned storage creates it.
    alignas(L) std::byte raw[sizeof(L)];
    std::memcpy(raw, bytes.data(), sizeof(L));
    return Captures<L>{*std::launder(reinterpret_cast<const L*>(raw))};
  }
  static bool verify(Verifier& v, const uint8_t* p) { return v.VerifyVectorOrString(p, 1); }
  static void describe(std::string& out) { out += "[u8]"; }
  static std::string schema_type(SchemaWriter&) { return "[ubyte]"; }
  static std::string token() { return "Captures"; }
};

namespace detail {

template <class Tuple, std::size_t kSkip>
struct TupleTail;
template <class... T, std::size_t kSkip>
struct TupleTail<std::tuple<T...>, kSkip> {
  template <std::size_t... I>
  static auto slice(std::index_sequence<I...>) -> std::tuple<std::tuple_element_t<kSkip + I, std::tuple<T...>>...>;
  using type = decltype(slice(std::make_index_sequence<sizeof...(T) - kSkip>()));
};

// The object a stateful call carries in parameter 0, and how to call it.
template <class State>
struct StateOf {
  using Object = State;
  static const State& object(const State& s) { return s; }
};
template <class L>
struct StateOf<Captures<L>> {
  using Object = L;
  static const L& object(const Captures<L>& c) { return c.lambda; }
};

template <class State>
struct StatefulSignature {
  using Sig = Signature<decltype(&StateOf<State>::Object::operator())>;
  using Result = typename Sig::Result;
  using Params = typename Sig::Params;
  using All = decltype(std::tuple_cat(std::declval<std::tuple<State>>(), std::declval<Params>()));
};

// Runs a call (or, vectorized, a chunk of calls) of a functor or lambda: parameter 0 of the
// signature table is the object, the rest are operator()'s parameters.
template <class State, bool kVectorized>
flatbuffers::uoffset_t invoke_stateful(const CallFrame& call, const Decoder& d, Encoder& e, fb::Phase& phase) {
  using S = StatefulSignature<State>;
  auto run = [](const State& s, const auto&... p) { return StateOf<State>::object(s)(p...); };
  if constexpr (kVectorized) {
    return decode_map_encode<typename S::Result, typename S::All>(call, d, e, phase, run);
  } else {
    return decode_call_encode<typename S::Result, typename S::All>(call, d, e, phase, run);
  }
}

template <class State>
FunctionInfo make_closure_info(std::string name, bool by_value) {
  using S = StatefulSignature<State>;
  constexpr Invoker kInvoke = &invoke_stateful<State, false>;
  FunctionInfo info;
  info.address = reinterpret_cast<const void*>(kInvoke);
  info.by_value = by_value;
  if (by_value) {
    info.image_id = image_id_of(info.address);
    info.id = image_offset_of(info.address) | (uint64_t{1} << 63);  // never an FNV name id by chance alone
    name = "lambda " + name;
  } else {
    info.id = fnv1a(name);
  }
  info.name = std::move(name);
  info.signature_text = ParamSignature<typename S::Params>::text();
  info.signature = fnv1a(info.signature_text);
  info.invoke = kInvoke;
  if constexpr (vectorizable<typename S::Result, typename S::Params>() && std::tuple_size_v<typename S::Params> == 1) {
    info.invoke_vectorized = &invoke_stateful<State, true>;
  }
  info.schema = &call_schema<typename S::Result, typename S::All>;
  info.args_descriptor = &CallTable<typename S::All>::descriptor;
  info.result_descriptor = &result_descriptor<std::decay_t<typename S::Result>>;
  return info;
}

// A lambda type registers itself when first used to submit: the inline static runs during
// static initialization in every process of the binary.
template <class L>
struct LambdaEntry {
  static inline const FunctionInfo& info =
      FunctionRegistry::global().add(make_closure_info<Captures<L>>(demangle(typeid(L).name()), true));
};

template <class T>
concept RegisteredFunctor = requires(const T* p) {
  { brine_functor_info(p) } -> std::same_as<const FunctionInfo&>;
};

template <class T>
concept PlainCallable = std::is_class_v<T> && requires { &T::operator(); };

}  // namespace detail

// How a callable of type C travels: Result; All, the parameters of its signature table; the
// Params still to pass per call (the tail of All); the registry entry that runs it; and the
// state it carries (the leading kBound parameters, prepared by prepare_bound).
template <class C, class Enable = void>
struct CallableTraits {
  static_assert(detail::PlainCallable<C>,
                "brine: this is not a callable brine can send. Use a registered function (BRINE_REGISTER), "
                "brine::partial(fn, bound...), a functor registered with BRINE_REGISTER_FUNCTOR, or a "
                "non-generic lambda (a generic lambda or an overloaded operator() has no single signature)");
};

template <class R, class... P>
struct CallableTraits<R (*)(P...)> {
  using Result = R;
  using All = std::tuple<std::decay_t<P>...>;
  using Params = All;
  static constexpr std::size_t kBound = 0;
  static const FunctionInfo& info(R (*fn)(P...)) {
    return FunctionRegistry::global().require(reinterpret_cast<const void*>(fn), &detail::ParamSignature<Params>::text);
  }
  static std::tuple<> prepare_bound(Encoder&, R (*)(P...)) { return {}; }
};

template <class R, class... P>
struct CallableTraits<R (*)(P...) noexcept> : CallableTraits<R (*)(P...)> {
  static const FunctionInfo& info(R (*fn)(P...) noexcept) {
    return CallableTraits<R (*)(P...)>::info(reinterpret_cast<R (*)(P...)>(fn));
  }
  static std::tuple<> prepare_bound(Encoder&, R (*)(P...) noexcept) { return {}; }
};

template <class R, class... P, class... B>
struct CallableTraits<Partial<R (*)(P...), B...>> {
  using Result = R;
  using All = std::tuple<std::decay_t<P>...>;
  using Params = typename detail::TupleTail<All, sizeof...(B)>::type;
  static constexpr std::size_t kBound = sizeof...(B);
  static const FunctionInfo& info(const Partial<R (*)(P...), B...>& p) { return CallableTraits<R (*)(P...)>::info(p.fn); }
  static auto prepare_bound(Encoder& e, const Partial<R (*)(P...), B...>& p) {
    return std::apply([&](const auto&... b) { return prepare_arguments<All, 0>(e, b...); }, p.bound);
  }
};

template <class T>
  requires detail::RegisteredFunctor<T>
struct CallableTraits<T> {
  using S = detail::StatefulSignature<T>;
  using Result = typename S::Result;
  using All = typename S::All;
  using Params = typename S::Params;
  static constexpr std::size_t kBound = 1;
  static const FunctionInfo& info(const T&) { return brine_functor_info(static_cast<const T*>(nullptr)); }
  static auto prepare_bound(Encoder& e, const T& functor) { return std::tuple{detail::Slot<T>::prepare(e, functor)}; }
};

template <class L>
  requires(detail::PlainCallable<L> && !detail::RegisteredFunctor<L>)
struct CallableTraits<L> {
  static_assert(std::is_trivially_copyable_v<L>,
                "brine: a lambda sent by value must capture only trivially copyable values (numbers, PODs, "
                "std::array of them); a capture such as std::string or std::vector is not. Bind such state "
                "with brine::partial(registered_fn, state...) or a functor with BRINE_REGISTER_FUNCTOR");
  using S = detail::StatefulSignature<Captures<L>>;
  using Result = typename S::Result;
  using All = typename S::All;
  using Params = typename S::Params;
  static constexpr std::size_t kBound = 1;
  static const FunctionInfo& info(const L&) { return detail::LambdaEntry<L>::info; }
  static auto prepare_bound(Encoder& e, const L& lambda) {
    return std::tuple{detail::Slot<Captures<L>>::prepare(e, Captures<L>{lambda})};
  }
};

// The signature table of one call: the callable's state, then `args` (converted to their
// parameter types).
template <class C, class... A>
EncodedCall encode_call(Encoder& e, const C& c, const A&... args) {
  using Traits = CallableTraits<C>;
  static_assert(sizeof...(A) == std::tuple_size_v<typename Traits::Params>,
                "brine: wrong number of arguments for this callable");
  Encoder::Nest nest(e);
  const auto prepared = std::tuple_cat(Traits::prepare_bound(e, c),
                                       prepare_arguments<typename Traits::All, Traits::kBound>(e, args...));
  EncodedCall out;
  out.call = detail::write_slots<typename Traits::All, 0>(e, prepared);
  return out;
}

namespace detail {
template <class C>
void encode_bound(Encoder& e, const C& c, EncodedCall& out) {
  using Traits = CallableTraits<C>;
  out.bound_count = Traits::kBound;
  if constexpr (Traits::kBound != 0) out.bound = write_slots<typename Traits::All, 0>(e, Traits::prepare_bound(e, c));
}
}  // namespace detail

// Whether a map over callables of type C on a Range can travel as arrays (one per chunk)
// instead of one table per call.
template <class C, class Range>
constexpr bool map_vectorizable() {
  using Traits = CallableTraits<C>;
  using Params = typename Traits::Params;
  if constexpr (std::tuple_size_v<Params> != 1 || !std::ranges::contiguous_range<const Range>) {
    return false;
  } else {
    return detail::vectorizable<typename Traits::Result, Params>() &&
           std::is_same_v<std::ranges::range_value_t<const Range>, std::tuple_element_t<0, Params>>;
  }
}

// A vectorized chunk: the callable's bound state, and `count` inputs from `first` as one vector
// in the call table's last slot.
template <class C, class Range>
EncodedCall encode_vectorized_batch(Encoder& e, const C& c, const Range& inputs, std::size_t first, std::size_t count) {
  using Traits = CallableTraits<C>;
  using X = std::tuple_element_t<0, typename Traits::Params>;
  EncodedCall out;
  detail::encode_bound(e, c, out);
  const X* data = std::ranges::data(inputs) + first;
  Encoder::PlacementScope copy(e, Placement::kCopy);
  const auto xs = e.contiguous(data, count, sizeof(X), alignof(X));
  auto& b = e.builder();
  const auto start = b.StartTable();
  b.AddOffset(detail::slot_of(Traits::kBound), flatbuffers::Offset<void>(xs));
  out.call = e.end_table(start);
  out.vectorized = true;
  return out;
}

// A chunk: `inputs[first, first + count)` are each one call's arguments — a tuple of them for
// a callable taking several parameters, else the single argument.
template <class C, class Range>
EncodedCall encode_batch(Encoder& e, const C& c, const Range& inputs, std::size_t first, std::size_t count) {
  using Traits = CallableTraits<C>;
  using Params = typename Traits::Params;
  using All = typename Traits::All;
  EncodedCall out;
  detail::encode_bound(e, c, out);
  std::vector<flatbuffers::Offset<fb::AnyTable>> calls;
  calls.reserve(count);
  auto it = std::begin(inputs);
  std::advance(it, first);
  for (std::size_t i = 0; i < count; ++i, ++it) {
    const auto& x = *it;
    flatbuffers::uoffset_t call;
    if constexpr (std::tuple_size_v<Params> == 1) {
      call = detail::write_slots<All, Traits::kBound>(e, prepare_arguments<All, Traits::kBound>(e, x));
    } else {
      call = std::apply(
          [&](const auto&... a) {
            return detail::write_slots<All, Traits::kBound>(e, prepare_arguments<All, Traits::kBound>(e, a...));
          },
          x);
    }
    calls.emplace_back(call);
  }
  out.batch = e.builder().CreateVector(calls);
  return out;
}

}  // namespace brine

// Registers a functor type by name. Use it in the namespace that declares the type (it
// defines the lookup function that argument-dependent lookup finds there).
#define BRINE_REGISTER_FUNCTOR(Type)                                                                  \
  [[maybe_unused]] inline const ::brine::FunctionInfo& brine_functor_info(const Type*) {              \
    static const ::brine::FunctionInfo& info =                                                         \
        ::brine::FunctionRegistry::global().add(::brine::detail::make_closure_info<Type>(#Type, false)); \
    return info;                                                                                       \
  }                                                                                                    \
  static const ::brine::FunctionInfo& BRINE_DETAIL_CAT(brine_functor_registration_, __COUNTER__) =    \
      brine_functor_info(static_cast<const Type*>(nullptr))
