#pragma once
#include <vector>

#include <brine/codegen/annotate.h>

namespace errors {

BRINE_TASK void fill(std::vector<double>& out);

}  // namespace errors

// Expected by check_tool.cmake (the tool must exit non-zero and write nothing):
// expect: errors/bad_task.h:8:43: error: parameter 'out' of task 'errors::fill' is a non-const reference: a worker's changes cannot flow back
