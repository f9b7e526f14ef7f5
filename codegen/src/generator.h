// run(): what `brine-codegen` does, as a library call the thin main (and tests) use.
//
// Reads one header, reports every unsupported construct as "file:line:col: error: ...", and
// only when there is none writes <stem>.fbs, <stem>.brine.h and <stem>.brine.cc into the
// output directory: each is written to a temporary file first and renamed into place, so a
// failed run leaves nothing partial behind.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace brine::codegen {

struct Options {
  std::string header;
  std::string output_dir;    // empty: write nothing (e.g. only --check-compat)
  std::string check_compat;  // a previous <stem>.fbs to stay compatible with, or empty
  std::string depfile;       // a Makefile-style list of the files read, or empty
  std::string include_as;    // how generated code includes the header; default: its file name
  std::vector<std::string> clang_args;
};

// Returns the process exit code: 0 on success, 1 when the header or the check failed.
int run(const Options& options, std::ostream& diagnostics);

}  // namespace brine::codegen
