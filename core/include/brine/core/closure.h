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

namespace detail {

template <class Tuple, std::size_t kSkip>
struct TupleTail;
template <class... T, std::size_t kSkip>
struct TupleTail<std::tuple<T...>, kSkip> {
  using type = decltype([]<std::size_t... I>(std::index_sequence<I...>) {
    return std::tuple<std::tuple_element_t<kSkip + I, std::tuple<T...>>...>{};
  }(std::make_index_sequence<sizeof...(T) - kSkip>()));
};

// The callable object a functor or lambda task carries as its first bound value.
inline const fb::Value& carried_state(const CallValues& call, const char* what) {
  if (bound_count(call) < 1) throw DecodeError(std::string("brine: a ") + what + " task carries no state");
  return *call.bound->Get(0);
}

// A functor's members, through its reduce hook.
template <class T>
T functor_state(const Decoder& d, const CallValues& call) {
  return d.decode<T>(&carried_state(call, "functor"));
}

// A lambda's captures, byte for byte (it is trivially copyable).
template <class L>
L lambda_state(const Decoder& d, const CallValues& call) {
  const auto bytes = d.bytes(carried_state(call, "lambda"), 1, 1);
  if (bytes.size() != sizeof(L)) {
    throw DecodeError("brine: a lambda's captures are " + std::to_string(bytes.size()) + " bytes, expected " +
                      std::to_string(sizeof(L)));
  }
  std::array<std::byte, sizeof(L)> raw;
  std::memcpy(raw.data(), bytes.data(), sizeof(L));
  return std::bit_cast<L>(raw);
}

// Runs a call (or, vectorized, a chunk of calls) of the object rebuilt by kState.
template <class T, T (*kState)(const Decoder&, const CallValues&), bool kVectorized>
ValueRef invoke_stateful(const CallValues& call, const Decoder& d, Encoder& e, fb::Phase& phase) {
  using Sig = Signature<decltype(&T::operator())>;
  phase = fb::Phase::DecodeTask;
  const T object = kState(d, call);
  if constexpr (kVectorized) {
    return decode_map_encode<typename Sig::Result, typename Sig::Params>(call, 1, d, e, phase, object);
  } else {
    return decode_call_encode<typename Sig::Result, typename Sig::Params>(call, 1, d, e, phase, object);
  }
}

template <class T, T (*kState)(const Decoder&, const CallValues&)>
FunctionInfo make_closure_info(std::string name, bool by_value) {
  constexpr Invoker kInvoke = &invoke_stateful<T, kState, false>;
  using Sig = Signature<decltype(&T::operator())>;
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
  info.signature_text = ParamSignature<typename Sig::Params>::text();
  info.signature = fnv1a(info.signature_text);
  info.invoke = kInvoke;
  if constexpr (vectorizable<typename Sig::Result, typename Sig::Params>() && std::tuple_size_v<typename Sig::Params> == 1) {
    info.invoke_vectorized = &invoke_stateful<T, kState, true>;
  }
  return info;
}

// A lambda type registers itself when first used to submit: the inline static runs during
// static initialization in every process of the binary.
template <class L>
struct LambdaEntry {
  static inline const FunctionInfo& info =
      FunctionRegistry::global().add(make_closure_info<L, &lambda_state<L>>(demangle(typeid(L).name()), true));
};

template <class T>
concept RegisteredFunctor = requires(const T* p) {
  { brine_functor_info(p) } -> std::same_as<const FunctionInfo&>;
};

template <class T>
concept PlainCallable = std::is_class_v<T> && requires { &T::operator(); };

}  // namespace detail

// How a callable of type C travels: Result, the Params still to pass per call, the registry
// entry that runs it, and the state it carries (encoded into the task's `bound`).
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
  using Params = std::tuple<std::decay_t<P>...>;
  static const FunctionInfo& info(R (*fn)(P...)) {
    return FunctionRegistry::global().require(reinterpret_cast<const void*>(fn), &detail::ParamSignature<Params>::text);
  }
  static void encode_bound(Encoder&, R (*)(P...)) {}
};

template <class R, class... P, class... B>
struct CallableTraits<Partial<R (*)(P...), B...>> {
  using All = std::tuple<std::decay_t<P>...>;
  using Result = R;
  using Params = typename detail::TupleTail<All, sizeof...(B)>::type;
  static const FunctionInfo& info(const Partial<R (*)(P...), B...>& p) { return CallableTraits<R (*)(P...)>::info(p.fn); }
  static void encode_bound(Encoder& e, const Partial<R (*)(P...), B...>& p) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (e.push(detail::encode_argument<std::tuple_element_t<I, All>>(e, std::get<I>(p.bound))), ...);
    }(std::index_sequence_for<B...>());
  }
};

template <class T>
  requires detail::RegisteredFunctor<T>
struct CallableTraits<T> {
  using Sig = detail::Signature<decltype(&T::operator())>;
  using Result = typename Sig::Result;
  using Params = typename Sig::Params;
  static const FunctionInfo& info(const T&) { return brine_functor_info(static_cast<const T*>(nullptr)); }
  static void encode_bound(Encoder& e, const T& functor) { e.push(e.encode(functor)); }
};

template <class L>
  requires(detail::PlainCallable<L> && !detail::RegisteredFunctor<L>)
struct CallableTraits<L> {
  static_assert(std::is_trivially_copyable_v<L>,
                "brine: a lambda sent by value must capture only trivially copyable values (numbers, PODs, "
                "std::array of them); a capture such as std::string or std::vector is not. Bind such state "
                "with brine::partial(registered_fn, state...) or a functor with BRINE_REGISTER_FUNCTOR");
  using Sig = detail::Signature<decltype(&L::operator())>;
  using Result = typename Sig::Result;
  using Params = typename Sig::Params;
  static const FunctionInfo& info(const L&) { return detail::LambdaEntry<L>::info; }
  static void encode_bound(Encoder& e, const L& lambda) {
    Encoder::PlacementScope copy(e, Placement::kCopy);  // captures always travel inside the task
    e.push(e.bytes(&lambda, sizeof(L), alignof(L) < 4 ? 4 : alignof(L)));
  }
};

// The parts of a task a pool needs, encoded for callable `c` and its per-call arguments: one
// call (args), or a batch of calls sharing the bound state.
struct EncodedCall {
  flatbuffers::Offset<ValueList> args;
  flatbuffers::Offset<ValueList> bound;
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::Task>>> batch;
  bool vectorized = false;  // args[0] is an array of every call's last argument
};

template <class C, class... A>
EncodedCall encode_call(Encoder& e, const C& c, const A&... args) {
  using Traits = CallableTraits<C>;
  static_assert(sizeof...(A) == std::tuple_size_v<typename Traits::Params>,
                "brine: wrong number of arguments for this callable");
  EncodedCall out;
  const std::size_t mark = e.mark();
  Traits::encode_bound(e, c);
  out.bound = e.list_since(mark);
  out.args = encode_arguments<typename Traits::Params>(e, args...);
  return out;
}

// The per-call parameters of callables of type C, and whether a map over them can travel as
// arrays (one per chunk) instead of one value per call.
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

// A vectorized batch: the callable's bound state, and `count` inputs from `first` as one array.
template <class C, class Range>
EncodedCall encode_vectorized_batch(Encoder& e, const C& c, const Range& inputs, std::size_t first, std::size_t count) {
  using Traits = CallableTraits<C>;
  using X = std::tuple_element_t<0, typename Traits::Params>;
  EncodedCall out;
  const std::size_t mark = e.mark();
  Traits::encode_bound(e, c);
  out.bound = e.list_since(mark);
  const X* data = std::ranges::data(inputs) + first;
  e.push(e.bytes(data, count * sizeof(X), alignof(X), Placement::kCopy));
  out.args = e.list_since(e.mark() - 1);
  out.vectorized = true;
  return out;
}

// A batch: `inputs[first, first + count)` are each one call's arguments — a tuple of them
// for a callable taking several parameters, else the single argument.
template <class C, class Range>
EncodedCall encode_batch(Encoder& e, const C& c, const Range& inputs, std::size_t first, std::size_t count) {
  using Traits = CallableTraits<C>;
  using Params = typename Traits::Params;
  EncodedCall out;
  const std::size_t mark = e.mark();
  Traits::encode_bound(e, c);
  out.bound = e.list_since(mark);
  std::vector<flatbuffers::Offset<fb::Task>> calls;
  calls.reserve(count);
  auto it = std::begin(inputs);
  std::advance(it, first);
  for (std::size_t i = 0; i < count; ++i, ++it) {
    const auto& x = *it;
    flatbuffers::Offset<ValueList> args;
    if constexpr (std::tuple_size_v<Params> == 1) {
      args = encode_arguments<Params>(e, x);
    } else {
      args = std::apply([&](const auto&... a) { return encode_arguments<Params>(e, a...); }, x);
    }
    fb::TaskBuilder b(e.builder());
    b.add_args(args);
    calls.push_back(b.Finish());
  }
  out.batch = e.builder().CreateVector(calls);
  return out;
}

}  // namespace brine

// Registers a functor type by name. Use it in the namespace that declares the type (it
// defines the lookup function that argument-dependent lookup finds there).
#define BRINE_REGISTER_FUNCTOR(Type)                                                                  \
  [[maybe_unused]] inline const ::brine::FunctionInfo& brine_functor_info(const Type*) {              \
    static const ::brine::FunctionInfo& info = ::brine::FunctionRegistry::global().add(                \
        ::brine::detail::make_closure_info<Type, &::brine::detail::functor_state<Type>>(#Type, false)); \
    return info;                                                                                       \
  }                                                                                                    \
  static const ::brine::FunctionInfo& BRINE_DETAIL_CAT(brine_functor_registration_, __COUNTER__) =    \
      brine_functor_info(static_cast<const Type*>(nullptr))
