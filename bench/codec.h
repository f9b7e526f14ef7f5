// How a serialization codec plugs into the benchmark.
//
// A codec is a class template over the payload type P, default-constructible,
// that may keep buffers between calls:
//
//   template <class P> class MyCodec {
//    public:
//     static constexpr std::string_view kName = "my_codec";
//     Bytes encode(const P& payload);           // valid until the next call
//     std::uint64_t decode(Bytes encoded);      // reads every field, returns
//                                               // digest_of(original payload)
//   };
//
// register_codec<MyCodec>() adds, for every payload,
//   BM_SerializationEncode/<payload>/<codec>
//   BM_SerializationDecode/<payload>/<codec>
// with counters `bytes` (encoded size) and `payload_bytes` (information
// content). The report divides each row by the row of codec "memcpy" with
// the same payload.
#ifndef BRINE_BENCH_CODEC_H_
#define BRINE_BENCH_CODEC_H_

#include <benchmark/benchmark.h>

#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "byte_buffer.h"
#include "payloads.h"

namespace brine::bench {

template <template <class> class Codec, class P>
void run_encode(benchmark::State& state) {
  Codec<P> codec;
  const P& payload = sample<P>();
  std::size_t size = codec.encode(payload).size();  // warms the codec's buffers
  for (auto _ : state) {
    Bytes encoded = codec.encode(payload);
    benchmark::DoNotOptimize(encoded.data());
    benchmark::ClobberMemory();
    size = encoded.size();
  }
  state.counters["bytes"] = static_cast<double>(size);
  state.counters["payload_bytes"] = static_cast<double>(payload_bytes(payload));
}

template <template <class> class Codec, class P>
void run_decode(benchmark::State& state) {
  Codec<P> codec;
  const P& payload = sample<P>();
  Bytes encoded = codec.encode(payload);
  // A private, suitably aligned copy, so decoding never reads the encoder's
  // buffer (Cap'n Proto needs 8-byte alignment).
  const std::vector<std::byte> copy(encoded.begin(), encoded.end());
  try {
    if (codec.decode(copy) != digest_of(payload)) {
      state.SkipWithError("decoded payload differs from the original");
      return;
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(codec.decode(copy));
  state.counters["bytes"] = static_cast<double>(copy.size());
  state.counters["payload_bytes"] = static_cast<double>(payload_bytes(payload));
}

template <template <class> class Codec, class... Payloads>
void register_codec_for() {
  auto name = [](std::string_view op, std::string_view payload) {
    return std::string("BM_Serialization") + std::string(op) + "/" + std::string(payload) + "/" +
           std::string(Codec<SmallTask>::kName);
  };
  (benchmark::RegisterBenchmark(name("Encode", kPayloadName<Payloads>).c_str(),
                                run_encode<Codec, Payloads>),
   ...);
  (benchmark::RegisterBenchmark(name("Decode", kPayloadName<Payloads>).c_str(),
                                run_decode<Codec, Payloads>),
   ...);
}

template <template <class> class Codec>
void register_codec() {
  register_codec_for<Codec, SmallTask, MediumStruct, BigArray, RecordSet>();
}

// One per codec; each lives in its own file, built only when the library is
// found (see CMakeLists.txt).
void register_memcpy_codec();
void register_protobuf_codec();
void register_capnp_codec();
void register_cereal_codec();
void register_boost_codec();
void register_msgpack_codec();
void register_flatbuffers_codec();
// brine's own envelope rows (bench/serialization_brine.cc).
void register_brine_codecs();

}  // namespace brine::bench

#endif  // BRINE_BENCH_CODEC_H_
