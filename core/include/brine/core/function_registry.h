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

// The tables of one call in a verified task envelope. Field i of the call's signature table is
// parameter i (a functor's or lambda's state first). A single call has every parameter in
// `call`; a chunk of a map shares `bound` (parameters [0, bound_count)) and gives each call
// its own `call` table (parameters [bound_count, arity)).
struct CallFrame {
  const flatbuffers::Table* call = nullptr;
  const flatbuffers::Table* bound = nullptr;
  uint32_t bound_count = 0;
  // If set, the decoded arguments and the returned value are handed over here instead of being
  // destroyed when the call returns: the worker publishes the result first and releases them
  // after, so a destructor that crashes cannot fail a delivered task.
  std::vector<std::shared_ptr<void>>* keep = nullptr;
};

// Runs one call: verifies and decodes the parameters against their types, calls the function
// and encodes its result as a one-field table (0 for void). `phase` is advanced as it goes,
// so a failure is reported with the phase it happened in. The decoder knows the envelope.
using Invoker = flatbuffers::uoffset_t (*)(const CallFrame& call, const Decoder& d, Encoder& e, fb::Phase& phase);

struct FunctionInfo {
  std::string name;
  uint64_t id = 0;
  uint64_t signature = 0;      // fingerprint of the decayed parameter types
  std::string signature_text;  // the same, readable: "(array<f64>,i32)"
  const void* address = nullptr;  // the function (or the invoker of a functor or lambda)
  Invoker invoke = nullptr;
  // For a callable whose last parameter and result are arithmetic: runs a whole chunk of a
  // map at once — the last parameter of every call as one vector in the call table, the rest
  // bound — and returns the results as one vector. nullptr when the signature does not allow it.
  Invoker invoke_vectorized = nullptr;
  bool by_value = false;  // a lambda: valid only in processes of the same binary image
  uint64_t image_id = 0;  // for by_value: build identity of the image holding the code
  // The .fbs of the call's signature table (its arguments) and of its result; the shapes of
  // both, for dumps of calls.
  std::string (*schema)(const FunctionInfo&) = nullptr;
  std::string (*args_descriptor)() = nullptr;
  std::string (*result_descriptor)() = nullptr;
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
  // The .fbs of a registered function's call (its signature table, the root of a dump_call,
  // and its result's table); "*" gives every function registered by name, in name order.
  // Throws NotRegistered for an unknown name.
  std::string schema(std::string_view name) const;
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

template <class Tuple>
struct CallTable;
// The signature table of a call with parameters P...: slot i is parameter i.
template <class... P>
struct CallTable<std::tuple<P...>> {
  using Table = TableOf<P...>;
  static bool verify(Verifier& v, const CallFrame& call) {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return (verify_one<P>(v, call, I) && ...);
    }(std::index_sequence_for<P...>());
  }
  template <class T>
  static bool verify_one(Verifier& v, const CallFrame& call, std::size_t i) {
    const flatbuffers::Table* t = i < call.bound_count ? call.bound : call.call;
    return t == nullptr || Slot<T>::verify(v, t, slot_of(i));
  }
  static std::tuple<P...> read(const Decoder& d, const CallFrame& call) {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return std::tuple<P...>{Slot<P>::read(d, I < call.bound_count ? call.bound : call.call, slot_of(I))...};
    }(std::index_sequence_for<P...>());
  }
  static std::string descriptor() {
    std::string out;
    Table::describe(out);
    return out;
  }
};

// The name of a function's signature table: geo::norm -> geo.fb.norm_args.
std::string call_table_name(const std::string& function_name);

template <class R>
std::string result_descriptor() {
  if constexpr (std::is_void_v<R>) {
    return "T()";
  } else {
    std::string out;
    Box<R>::describe(out);
    return out;
  }
}

// The schema of a call of `info`: its signature table (root) and its result's table.
template <class R, class Params>
std::string call_schema(const FunctionInfo& info) {
  SchemaWriter s;
  const std::string name = call_table_name(info.name);
  if (s.claim(name)) {
    s.define(name, "table", [&]<class... P>(std::type_identity<std::tuple<P...>>) {
      std::vector<std::string> names;
      for (std::size_t i = 0; i < sizeof...(P); ++i) names.push_back("arg" + std::to_string(i));
      std::vector<std::string_view> views(names.begin(), names.end());
      return TableOf<P...>::fields(s, views.data());
    }(std::type_identity<Params>()), "the arguments of " + info.name + info.signature_text);
  }
  if constexpr (!std::is_void_v<R>) Box<R>::schema_type(s);
  return s.text(name, identifier_for(name));
}

// Calls `f` with decoded `args` and encodes what it returns; with `keep`, the returned value is
// handed over there too (see CallFrame::keep).
template <class R, class Params, class F>
flatbuffers::uoffset_t run_decoded(Params& args, Encoder& e, fb::Phase& phase, F&& f,
                                   std::vector<std::shared_ptr<void>>* keep) {
  phase = fb::Phase::Run;
  if constexpr (std::is_void_v<R>) {
    std::apply(std::forward<F>(f), std::move(args));
    phase = fb::Phase::EncodeResult;
    return 0;
  } else {
    using V = std::decay_t<decltype(std::apply(std::forward<F>(f), std::move(args)))>;
    if (keep != nullptr) {
      auto result = std::make_shared<V>(std::apply(std::forward<F>(f), std::move(args)));
      keep->push_back(result);
      phase = fb::Phase::EncodeResult;
      return Box<V>::write(e, *result);
    }
    auto result = std::apply(std::forward<F>(f), std::move(args));
    phase = fb::Phase::EncodeResult;
    return Box<V>::write(e, result);
  }
}

// Verifies, decodes the call's parameters, calls `f` with all of them and encodes what it
// returns, advancing `phase` as it goes.
template <class R, class Params, class F>
flatbuffers::uoffset_t decode_call_encode(const CallFrame& call, const Decoder& d, Encoder& e, fb::Phase& phase,
                                          F&& f) {
  phase = fb::Phase::DecodeTask;
  d.require([&](Verifier& v) { return CallTable<Params>::verify(v, call); }, "the call's arguments");
  if (call.keep != nullptr) {
    auto args = std::make_shared<Params>(CallTable<Params>::read(d, call));
    call.keep->push_back(args);
    return run_decoded<R>(*args, e, phase, std::forward<F>(f), call.keep);
  }
  Params args = CallTable<Params>::read(d, call);
  return run_decoded<R>(args, e, phase, std::forward<F>(f), nullptr);
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

// The vectorized form of decode_call_encode: parameters [0, arity - 1) from the bound table,
// the last one from each element of the vector in its slot of the call table; the results as
// one vector.
template <class R, class Params, class F>
flatbuffers::uoffset_t decode_map_encode(const CallFrame& call, const Decoder& d, Encoder& e, fb::Phase& phase, F&& f) {
  constexpr std::size_t kHead = std::tuple_size_v<Params> - 1;
  using X = std::tuple_element_t<kHead, Params>;
  using Head = typename TupleSlice<Params, std::make_index_sequence<kHead>>::type;
  phase = fb::Phase::DecodeTask;
  if (call.call == nullptr || call.bound_count != kHead) {
    throw DecodeError("brine: a vectorized chunk must bind " + std::to_string(kHead) + " parameters and carry one vector");
  }
  d.require(
      [&](Verifier& v) {
        return CallTable<Head>::verify(v, call) && Slot<std::vector<X>>::verify(v, call.call, slot_of(kHead));
      },
      "a vectorized chunk's arguments");
  const Head head = CallTable<Head>::read(d, call);
  const std::span<const X> xs = Slot<std::span<const X>>::read(d, call.call, slot_of(kHead));
  phase = fb::Phase::Run;
  std::vector<R> out(xs.size());
  std::apply([&](const auto&... h) {
    for (std::size_t i = 0; i < xs.size(); ++i) out[i] = f(h..., xs[i]);
  }, head);
  phase = fb::Phase::EncodeResult;
  Encoder::PlacementScope copy(e, Placement::kCopy);
  return Box<std::vector<R>>::write(e, out);
}

template <auto kFn>
flatbuffers::uoffset_t invoke_vectorized(const CallFrame& call, const Decoder& d, Encoder& e, fb::Phase& phase) {
  using Sig = Signature<decltype(kFn)>;
  return decode_map_encode<typename Sig::Result, typename Sig::Params>(call, d, e, phase, kFn);
}

template <auto kFn>
flatbuffers::uoffset_t invoke(const CallFrame& call, const Decoder& d, Encoder& e, fb::Phase& phase) {
  using Sig = Signature<decltype(kFn)>;
  return decode_call_encode<typename Sig::Result, typename Sig::Params>(call, d, e, phase, kFn);
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
  info.schema = &call_schema<typename Sig::Result, typename Sig::Params>;
  info.args_descriptor = &CallTable<typename Sig::Params>::descriptor;
  info.result_descriptor = &result_descriptor<std::decay_t<typename Sig::Result>>;
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
