// Serialization cost of brine's alternatives on four payloads, measured in
// one run so that the report can quote ratios to a plain memcpy.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <string>
#include <string_view>

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

// Quick mode (bench/run_report.sh --quick passes --benchmark_min_time=0.001) or
// BRINE_BENCH_QUICK_GRAPH=1: the graph payload is tiny.
bool quick_mode(int argc, char** argv) {
  if (const char* env = std::getenv("BRINE_BENCH_QUICK_GRAPH"); env != nullptr && *env != '\0') {
    return std::string_view(env) != "0";
  }
  constexpr std::string_view kFlag = "--benchmark_min_time=";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with(kFlag) && std::strtod(std::string(arg.substr(kFlag.size())).c_str(), nullptr) < 0.01) {
      return true;
    }
  }
  return false;
}

}  // namespace
}  // namespace brine::bench

int main(int argc, char** argv) {
  if (brine::bench::quick_mode(argc, argv)) brine::bench::set_quick_graph();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  brine::bench::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
