// benchmark/benchmark.h (libbenchmark-dev): CPUInfo and its nested CacheInfo and Scaling.
// As Google Benchmark declares it, CPUInfo has a private constructor and no copy, which is
// refused (errors/benchmark_cpuinfo.h); here both are public, and Get() is left out.
#pragma once

#include <string>
#include <vector>

#include <brine/codegen/annotate.h>

namespace benchmark {

struct BRINE_EXPOSE CPUInfo {
  struct BRINE_EXPOSE CacheInfo {
    std::string type;
    int level;
    int size;
    int num_sharing;
  };

  enum BRINE_EXPOSE Scaling { UNKNOWN, ENABLED, DISABLED };

  int num_cpus;
  Scaling scaling;
  double cycles_per_second;
  std::vector<CacheInfo> caches;
  std::vector<double> load_avg;
};

BRINE_TASK CPUInfo echo_cpuinfo(const CPUInfo& info);

}  // namespace benchmark
