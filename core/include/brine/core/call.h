// Calls as envelopes: the parent encodes a call into an fb::Task, a worker runs a verified
// task into an fb::Result, the parent decodes the result or rethrows the remote error.
// Nothing here knows about processes; brine::ipc moves the bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>

#include "brine/core/function_registry.h"

namespace brine {

namespace detail {

// Prepares argument `a` for its slot as the parameter type P it will be decoded as, so that
// e.g. a std::vector<double> passed to a std::span<const double> parameter travels as that span.
template <class P, class A>
auto prepare_argument(Encoder& e, const A& a) {
  if constexpr (IsPlaced<A>::value) {
    Encoder::PlacementScope scope(e, a.placement);
    return prepare_argument<P>(e, a.value);
  } else if constexpr (std::is_same_v<std::decay_t<A>, P>) {
    return Slot<P>::prepare(e, a);
  } else {
    static_assert(std::is_convertible_v<const A&, P>,
                  "brine: an argument is not convertible to the function's parameter type");
    const P converted = a;
    return Slot<P>::prepare(e, converted);
  }
}

}  // namespace detail

// Prepares arguments against parameters [kFirst, kFirst + sizeof...(A)) of `Params`: a tuple
// of slot values for detail::add_call_slots.
template <class Params, std::size_t kFirst = 0, class... A>
auto prepare_arguments(Encoder& e, const A&... args) {
  static_assert(kFirst + sizeof...(A) <= std::tuple_size_v<Params>, "brine: too many arguments for this function");
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    return std::tuple{detail::prepare_argument<std::tuple_element_t<kFirst + I, Params>>(e, args)...};
  }(std::index_sequence_for<A...>());
}

namespace detail {
template <class Params, std::size_t kFirst, class Prepared>
struct SlotsOf;
template <class Params, std::size_t kFirst, class... Ps>
struct SlotsOf<Params, kFirst, std::tuple<Ps...>> {
  template <std::size_t... I>
  static auto table(std::index_sequence<I...>) -> TableOf<std::tuple_element_t<kFirst + I, Params>...>;
  using Table = decltype(table(std::index_sequence_for<Ps...>()));
};

// Writes a table holding prepared values at slots [kFirst, kFirst + N) of `Params`.
template <class Params, std::size_t kFirst, class Prepared>
flatbuffers::uoffset_t write_slots(Encoder& e, const Prepared& prepared) {
  auto& b = e.builder();
  const auto start = b.StartTable();
  SlotsOf<Params, kFirst, Prepared>::Table::add_all(b, prepared, kFirst);
  return e.end_table(start);
}
}  // namespace detail

// The parts of a task a pool needs, encoded for callable `c` and its per-call arguments: one
// call (a signature table), or a chunk of calls sharing the bound state.
struct EncodedCall {
  flatbuffers::uoffset_t call = 0;   // the signature table of a single call
  flatbuffers::uoffset_t bound = 0;  // a chunk: parameters [0, bound_count)
  uint32_t bound_count = 0;
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::AnyTable>>> batch;
  bool vectorized = false;  // the call table's last slot holds every call's last argument
};

// fb::Task::flags bits.
inline constexpr uint32_t kTaskVectorized = 1;  // a map chunk as arrays (FunctionInfo::invoke_vectorized)

// Writes the task frame around `call` (encoded with `e`), with the arena references `e`
// recorded, and finishes the envelope.
void finish_task(Encoder& e, uint64_t task_id, const FunctionInfo& info, const EncodedCall& call);

// Verifies an untrusted task envelope's frame (its own fields and the vtables of its call
// tables; the call's arguments are verified against their types when the call runs). Throws
// brine::DecodeError saying which check failed.
const fb::Task& verify_task(std::span<const std::byte> envelope);
// Verifies an untrusted result envelope's frame likewise.
const fb::Result& verify_result(std::span<const std::byte> envelope);

// The parts of a result, before its root table is written (it carries the envelope's arena
// references, known only at the end).
struct ResultParts {
  uint64_t task_id = 0;
  flatbuffers::uoffset_t value = 0;  // the one-field table of the returned value
  flatbuffers::Offset<fb::Error> error;
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::Result>>> batch;
};

// Runs a verified task through the registry and encodes its result (or its error, with the
// phase, the remote type name and message) with `e`. Never throws for a task's own failure.
// `d` must know the envelope (Decoder::set_envelope).
// With `keep`, a single call's arguments and result are handed over there (CallFrame::keep).
ResultParts run_task(const fb::Task& task, const FunctionRegistry& registry, const Decoder& d, Encoder& e,
                     std::vector<std::shared_ptr<void>>* keep = nullptr);

// Runs one call of `info` on its verified frame; a failure becomes an error result.
ResultParts invoke_call(const FunctionInfo& info, Invoker invoke, uint64_t task_id, const CallFrame& call,
                        const Decoder& d, Encoder& e);

// Encodes a failure as a result.
ResultParts encode_error(Encoder& e, uint64_t task_id, fb::Phase phase, ErrorCode code, std::string_view type_name,
                         std::string_view message, std::string_view where);
// Writes the result's root, with the arena references `e` recorded, and finishes the envelope.
void finish_result(Encoder& e, const ResultParts& result);

// Rethrows the error a result carries, as the matching brine exception type.
[[noreturn]] void rethrow(const fb::Error& error);

// Decodes a verified result (its frame) as R, or rethrows its error. The value table is
// verified against R first. `d` must know the envelope.
template <class R>
R decode_result(const fb::Result& r, const Decoder& d) {
  if (const fb::Error* err = r.error()) rethrow(*err);
  if constexpr (!std::is_void_v<R>) {
    const auto* value = reinterpret_cast<const uint8_t*>(r.value());
    if (value == nullptr) throw DecodeError("brine: a result carries no value where a " + type_signature<R>() + " was expected");
    d.require([&](Verifier& v) { return detail::Box<R>::verify(v, value); }, "the result value");
    return detail::Box<R>::read(d, value);
  }
}

}  // namespace brine
