// Serialization cost of brine's alternatives on four payloads, measured in
// one run so that the report can quote ratios to a plain memcpy.
#include <benchmark/benchmark.h>

#include "codec.h"

namespace brine::bench {
namespace {

void register_all() {
  register_memcpy_codec();
#ifdef BRINE_BENCH_WITH_PROTOBUF
  register_protobuf_codec();
#endif
#ifdef BRINE_BENCH_WITH_CAPNP
  register_capnp_codec();
#endif
#ifdef BRINE_BENCH_WITH_CEREAL
  register_cereal_codec();
#endif
#ifdef BRINE_BENCH_WITH_BOOST_SERIALIZATION
  register_boost_codec();
#endif
#ifdef BRINE_BENCH_WITH_MSGPACK
  register_msgpack_codec();
#endif
#ifdef BRINE_BENCH_WITH_FLATBUFFERS
  register_flatbuffers_codec();
#endif
  register_brine_codecs();
}

}  // namespace
}  // namespace brine::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  brine::bench::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
