// The function registry: which functions a task may name.
//
//   double norm(std::span<const double> xs);
//   BRINE_REGISTER(norm);                      // at namespace scope, in any linked .cc
//
// A task carries the function's id (FNV-1a of its registered name) and the fingerprint of its
// parameter types; any process of a binary that registers the same name can run it — the
// by-name form, portable like pickling a module-level function.
//
// Thread safety: registration happens during static initialization (the macro), before main;
// lookups afterwards are lock-free reads. Registering at run time from several threads is not
// supported.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "brine/core/reducer.h"
#include "brine/core/task_generated.h"
#include "brine/core/result_generated.h"

namespace brine {

// The values of one call: the callable's bound state, then the call's own arguments. A task
// carries one call, or a batch of calls sharing the bound state (map with chunksize > 1).
struct CallValues {
  const ValueList* bound = nullptr;
  const ValueList* args = nullptr;
};

// Runs one call: decodes the arguments (bound first, then args), calls the function and
// encodes its result. `phase` is advanced as it goes, so a failure is reported with the phase
// it happened in.
using Invoker = ValueRef (*)(const CallValues& call, const Decoder& d, Encoder& e, fb::Phase& phase);

struct FunctionInfo {
  std::string name;
  uint64_t id = 0;
  uint64_t signature = 0;      // fingerprint of the decayed parameter types
  std::string signature_text;  // the same, readable: "(array<f64>,i32)"
  const void* address = nullptr;  // the function (or the invoker of a functor or lambda)
  Invoker invoke = nullptr;
  // For a callable whose last parameter and result are arithmetic: runs a whole chunk of a
  // map at once — the last argument of every call as one array in args[0], the rest bound —
  // and returns the results as one array. nullptr when the signature does not allow it.
  Invoker invoke_vectorized = nullptr;
  bool by_value = false;  // a lambda: valid only in processes of the same binary image
  uint64_t image_id = 0;  // for by_value: build identity of the image holding the code
};

class FunctionRegistry {
 public:
  static FunctionRegistry& global();

  // Adds a function. A second registration of the same name for a different function is a
  // programming error reported on stderr and fatal (it would make tasks ambiguous).
  const FunctionInfo& add(FunctionInfo info);
  const FunctionInfo* find(uint64_t id) const noexcept;
  const FunctionInfo* find_address(const void* address) const noexcept;
  const FunctionInfo* find_name(std::string_view name) const noexcept;
  // The entry for a function pointer, or brine::NotRegistered naming it (by symbol when the
  // binary exports one) and its parameter types (built only then), saying how to register it.
  const FunctionInfo& require(const void* address, std::string (*signature_text)()) const;
  std::size_t size() const noexcept { return by_id_.size(); }

 private:
  std::unordered_map<uint64_t, std::unique_ptr<FunctionInfo>> by_id_;
  std::unordered_map<const void*, const FunctionInfo*> by_address_;
};

namespace detail {

template <class F>
struct Signature;
template <class R, class... P>
struct Signature<R (*)(P...)> {
  using Result = R;
  using Params = std::tuple<std::decay_t<P>...>;
  static constexpr std::size_t kArity = sizeof...(P);
};
template <class R, class... P>
struct Signature<R (*)(P...) noexcept> : Signature<R (*)(P...)> {};
// operator() of functors and lambdas
template <class R, class C, class... P>
struct Signature<R (C::*)(P...) const> : Signature<R (*)(P...)> {};
template <class R, class C, class... P>
struct Signature<R (C::*)(P...)> : Signature<R (*)(P...)> {};
template <class R, class C, class... P>
struct Signature<R (C::*)(P...) const noexcept> : Signature<R (*)(P...)> {};
template <class R, class C, class... P>
struct Signature<R (C::*)(P...) noexcept> : Signature<R (*)(P...)> {};

template <class Tuple>
struct ParamSignature;
template <class... P>
struct ParamSignature<std::tuple<P...>> {
  static std::string text() { return "(" + signature_list<P...>() + ")"; }
};

// Argument i of a call: bound values come first, then the task's own arguments.
inline std::size_t bound_count(const CallValues& call) { return call.bound != nullptr ? call.bound->size() : 0; }
inline std::size_t arg_count(const CallValues& call) { return call.args != nullptr ? call.args->size() : 0; }

inline const fb::Value& call_argument(const Decoder& d, const CallValues& call, std::size_t i) {
  const std::size_t nb = bound_count(call);
  return i < nb ? d.item(*call.bound, i) : d.item(*call.args, i - nb);
}

// Decodes the call's parameters — values [skip, skip + arity) of bound-then-args — calls `f`
// and encodes what it returns, advancing `phase` as it goes.
template <class R, class Params, class F>
ValueRef decode_call_encode(const CallValues& call, std::size_t skip, const Decoder& d, Encoder& e, fb::Phase& phase,
                            F&& f) {
  constexpr std::size_t kArity = std::tuple_size_v<Params>;
  const std::size_t carried = bound_count(call) + arg_count(call);
  if (carried != skip + kArity) {
    throw DecodeError("brine: the function takes " + std::to_string(kArity) + " arguments, the task carries " +
                      std::to_string(carried - std::min(carried, skip)));
  }
  phase = fb::Phase::DecodeTask;
  Params args = [&]<std::size_t... I>(std::index_sequence<I...>) {
    return Params{d.decode<std::tuple_element_t<I, Params>>(&call_argument(d, call, skip + I))...};
  }(std::make_index_sequence<kArity>());
  phase = fb::Phase::Run;
  if constexpr (std::is_void_v<R>) {
    std::apply(std::forward<F>(f), std::move(args));
    phase = fb::Phase::EncodeResult;
    return e.empty();
  } else {
    auto result = std::apply(std::forward<F>(f), std::move(args));
    phase = fb::Phase::EncodeResult;
    return e.encode(result);
  }
}

// Whether a map over callables with these parameters and result can travel as arrays.
template <class R, class Params>
constexpr bool vectorizable() {
  if constexpr (std::tuple_size_v<Params> == 0) {
    return false;
  } else {
    using X = std::tuple_element_t<std::tuple_size_v<Params> - 1, Params>;
    return std::is_arithmetic_v<X> && !std::is_same_v<X, bool> && std::is_arithmetic_v<R> && !std::is_same_v<R, bool>;
  }
}

// The vectorized form of decode_call_encode: parameters [0, arity - 1) from bound values
// [skip, ...), the last one from each element of the array in args[0]; the results as one array.
template <class R, class Params, class F>
ValueRef decode_map_encode(const CallValues& call, std::size_t skip, const Decoder& d, Encoder& e, fb::Phase& phase,
                           F&& f) {
  constexpr std::size_t kHead = std::tuple_size_v<Params> - 1;
  using X = std::tuple_element_t<kHead, Params>;
  if (bound_count(call) != skip + kHead || arg_count(call) != 1) {
    throw DecodeError("brine: a vectorized chunk must carry " + std::to_string(skip + kHead) +
                      " bound values and one array");
  }
  phase = fb::Phase::DecodeTask;
  const auto head = [&]<std::size_t... I>(std::index_sequence<I...>) {
    return std::tuple<std::tuple_element_t<I, Params>...>{
        d.decode<std::tuple_element_t<I, Params>>(&d.item(*call.bound, skip + I))...};
  }(std::make_index_sequence<kHead>());
  const std::span<const X> xs = d.array<X>(d.item(*call.args, 0));
  phase = fb::Phase::Run;
  std::vector<R> out(xs.size());
  std::apply([&](const auto&... h) {
    for (std::size_t i = 0; i < xs.size(); ++i) out[i] = f(h..., xs[i]);
  }, head);
  phase = fb::Phase::EncodeResult;
  return e.bytes(out.data(), out.size() * sizeof(R), alignof(R), Placement::kCopy);
}

template <auto kFn>
ValueRef invoke_vectorized(const CallValues& call, const Decoder& d, Encoder& e, fb::Phase& phase) {
  using Sig = Signature<decltype(kFn)>;
  return decode_map_encode<typename Sig::Result, typename Sig::Params>(call, 0, d, e, phase, kFn);
}

template <auto kFn>
ValueRef invoke(const CallValues& call, const Decoder& d, Encoder& e, fb::Phase& phase) {
  using Sig = Signature<decltype(kFn)>;
  return decode_call_encode<typename Sig::Result, typename Sig::Params>(call, 0, d, e, phase, kFn);
}

template <auto kFn>
FunctionInfo make_function_info(std::string_view name) {
  using Sig = Signature<decltype(kFn)>;
  FunctionInfo info;
  info.name = std::string(name);
  info.id = fnv1a(name);
  info.signature_text = ParamSignature<typename Sig::Params>::text();
  info.signature = fnv1a(info.signature_text);
  info.address = reinterpret_cast<const void*>(kFn);
  info.invoke = &invoke<kFn>;
  if constexpr (vectorizable<typename Sig::Result, typename Sig::Params>()) info.invoke_vectorized = &invoke_vectorized<kFn>;
  return info;
}

struct Registration {
  explicit Registration(FunctionInfo info) { FunctionRegistry::global().add(std::move(info)); }
};

#define BRINE_DETAIL_CAT2(a, b) a##b
#define BRINE_DETAIL_CAT(a, b) BRINE_DETAIL_CAT2(a, b)
}  // namespace detail

}  // namespace brine

// Registers a free function under its name as written (e.g. "norm", "geo::norm").
#define BRINE_REGISTER(fn) BRINE_REGISTER_AS(fn, #fn)
// Registers a free function under an explicit stable name.
#define BRINE_REGISTER_AS(fn, name)                                                              \
  static const ::brine::detail::Registration BRINE_DETAIL_CAT(brine_registration_, __COUNTER__) { \
    ::brine::detail::make_function_info<&fn>(name)                                               \
  }
