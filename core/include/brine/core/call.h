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

// Encodes argument `a` as the parameter type P it will be decoded as, so that e.g. a
// std::vector<double> passed to a std::span<const double> parameter travels as that span.
template <class P, class A>
ValueRef encode_argument(Encoder& e, const A& a) {
  if constexpr (IsPlaced<A>::value) {
    Encoder::PlacementScope scope(e, a.placement);
    return encode_argument<P>(e, a.value);
  } else if constexpr (std::is_same_v<std::decay_t<A>, P>) {
    return e.encode(a);
  } else {
    static_assert(std::is_convertible_v<const A&, P>,
                  "brine: an argument is not convertible to the function's parameter type");
    const P converted = a;
    return e.encode(converted);
  }
}

}  // namespace detail

// Encodes arguments against parameters [kFirst, kFirst + sizeof...(A)) of `Params`.
template <class Params, std::size_t kFirst = 0, class... A>
flatbuffers::Offset<ValueList> encode_arguments(Encoder& e, const A&... args) {
  static_assert(kFirst + sizeof...(A) <= std::tuple_size_v<Params>, "brine: too many arguments for this function");
  const std::size_t mark = e.mark();
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (e.push(detail::encode_argument<std::tuple_element_t<kFirst + I, Params>>(e, args)), ...);
  }(std::index_sequence_for<A...>());
  return e.list_since(mark);
}

// fb::Task::flags bits.
inline constexpr uint32_t kTaskVectorized = 1;  // a map chunk as arrays (FunctionInfo::invoke_vectorized)

// Verifies an untrusted task envelope. Throws brine::DecodeError saying which check failed.
const fb::Task& verify_task(std::span<const std::byte> envelope);
// Verifies an untrusted result envelope. Throws brine::DecodeError saying which check failed.
const fb::Result& verify_result(std::span<const std::byte> envelope);

// Runs a verified task through the registry and encodes its result (or its error, with the
// phase, the remote type name and message) with `e`. Never throws for a task's own failure.
flatbuffers::Offset<fb::Result> run_task(const fb::Task& task, const FunctionRegistry& registry, const Decoder& d,
                                         Encoder& e);

// Encodes a failure as a result.
flatbuffers::Offset<fb::Result> encode_error(Encoder& e, uint64_t task_id, fb::Phase phase, ErrorCode code,
                                             std::string_view type_name, std::string_view message,
                                             std::string_view where);

// Rethrows the error a result carries, as the matching brine exception type.
[[noreturn]] void rethrow(const fb::Error& error);

// Decodes a verified result as R, or rethrows its error.
template <class R>
R decode_result(const fb::Result& r, const Decoder& d) {
  if (const fb::Error* err = r.error()) rethrow(*err);
  if constexpr (!std::is_void_v<R>) return d.decode<R>(r.value());
}

}  // namespace brine
