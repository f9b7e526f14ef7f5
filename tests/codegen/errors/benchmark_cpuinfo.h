// benchmark/benchmark.h (libbenchmark-dev): CPUInfo as Google Benchmark declares it, a
// singleton with a private constructor and no copy (issue 12, item 7).
#pragma once
#include <string>
#include <vector>

#include <brine/codegen/annotate.h>

namespace benchmark {

struct BRINE_EXPOSE CPUInfo {
  struct CacheInfo {
    std::string type;
    int level;
    int size;
    int num_sharing;
  };

  enum Scaling { UNKNOWN, ENABLED, DISABLED };

  int num_cpus;
  double cycles_per_second;
  std::vector<double> load_avg;

  static const CPUInfo& Get();

 private:
  CPUInfo();
  CPUInfo(const CPUInfo&) = delete;
  void operator=(const CPUInfo&) = delete;
};

}  // namespace benchmark

// Expected by check_tool.cmake (the tool must exit non-zero and write nothing):
// expect: errors/benchmark_cpuinfo.h:11:21: error: 'benchmark::CPUInfo' cannot be default-constructed (its default constructor is private): a generated hook rebuilds a received value by default-constructing it and setting its fields; give it a public default constructor (`CPUInfo() = default;`)
// expect: errors/benchmark_cpuinfo.h:11:21: error: 'benchmark::CPUInfo' cannot be copied (its copy constructor is deleted): brine copies values into and out of envelopes; give it a public copy constructor (`CPUInfo(const CPUInfo&) = default;`)
