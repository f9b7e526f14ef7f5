// LocalPool: the submit() half of brine::Pool, run in this process, so generated task stubs
// can be tested before the real pool lands. Each call travels the whole envelope path a pool
// uses — arguments encoded into a Task (large buffers into a HeapArena), the task verified and
// run through the function registry, the Result verified and decoded — only without the
// processes. submit() returns an already-completed future-like object with get().
//
// To run the same tests through the real pool, give them a brine::Pool instead.
#pragma once

#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

#include "brine/core/call.h"
#include "brine/core/closure.h"
#include "heap_arena.h"

namespace brine::testing {

class LocalPool {
 public:
  template <class R>
  struct Ready {
    R value;
    R get() { return std::move(value); }
  };

  template <class R, class... P, class... A>
  Ready<R> submit(R (*fn)(P...), const A&... args) {
    static_assert(!std::is_void_v<R>, "LocalPool: tasks returning void are not supported here");
    const FunctionInfo* info = FunctionRegistry::global().find_address(reinterpret_cast<const void*>(fn));
    if (info == nullptr) throw std::logic_error("LocalPool: the function is not registered");

    flatbuffers::FlatBufferBuilder task_fbb;
    Encoder encoder(task_fbb, EncodeOptions{.sink = &arena_});
    const EncodedCall call = encode_call(encoder, fn, args...);
    finish_task(encoder, ++last_id_, *info, call);
    bytes_copied_ += encoder.bytes_copied();
    const auto task_bytes = std::as_bytes(std::span(task_fbb.GetBufferPointer(), task_fbb.GetSize()));
    const fb::Task& task = verify_task(task_bytes);

    Decoder decoder(&arena_);
    decoder.set_envelope(task_fbb.GetBufferPointer(), task_fbb.GetSize(), task.refs());
    flatbuffers::FlatBufferBuilder result_fbb;
    Encoder result_encoder(result_fbb, EncodeOptions{.sink = &arena_});
    finish_result(result_encoder, run_task(task, FunctionRegistry::global(), decoder, result_encoder));
    const fb::Result& result =
        verify_result(std::as_bytes(std::span(result_fbb.GetBufferPointer(), result_fbb.GetSize())));
    Decoder result_decoder(&arena_);
    result_decoder.set_envelope(result_fbb.GetBufferPointer(), result_fbb.GetSize(), result.refs());
    return Ready<R>{decode_result<R>(result, result_decoder)};
  }

  // Bytes the argument encoders copied (into envelopes or arena blocks).
  std::size_t bytes_copied() const noexcept { return bytes_copied_; }
  const HeapArena& arena() const noexcept { return arena_; }

 private:
  HeapArena arena_;
  uint64_t last_id_ = 0;
  std::size_t bytes_copied_ = 0;
};

}  // namespace brine::testing
