// brine-codegen: C++ header -> FlatBuffers schema, reduce hooks, typed task stubs, task
// registration. See docs/codegen.md; the work is done by brine::codegen::run().
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include "generator.h"

namespace {

constexpr std::string_view kUsage = R"(usage: brine-codegen [options] <header.h> [-- <clang arguments>]

Reads the BRINE_EXPOSE structs and enums and the BRINE_TASK functions of <header.h> and writes
<dir>/<stem>.fbs, <stem>.brine.h and <stem>.brine.cc.

  -o, --output-dir <dir>    where to write (without it: only check)
  --check-compat <old.fbs>  fail unless the header's schema can replace <old.fbs>
  --depfile <file>          write the files read, for the build system
  --include-as <name>       how <stem>.brine.h includes the header (default: its file name)
  -I<dir> -D<name>[=<v>] -isystem <dir> -std=<std>    passed to clang, as after --
  -h, --help
)";

}  // namespace

int main(int argc, char** argv) {
  brine::codegen::Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::cerr << "brine-codegen: error: " << arg << " needs a value\n" << kUsage;
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "-o" || arg == "--output-dir") {
      options.output_dir = value();
    } else if (arg == "--check-compat") {
      options.check_compat = value();
    } else if (arg == "--depfile") {
      options.depfile = value();
    } else if (arg == "--include-as") {
      options.include_as = value();
    } else if (arg == "--") {
      options.clang_args.insert(options.clang_args.end(), argv + i + 1, argv + argc);
      break;
    } else if (arg == "-isystem") {
      options.clang_args.push_back(std::string(arg));
      options.clang_args.push_back(value());
    } else if (arg.starts_with("-I") || arg.starts_with("-D") || arg.starts_with("-std=")) {
      options.clang_args.push_back(std::string(arg));
    } else if (!arg.starts_with("-") && options.header.empty()) {
      options.header = arg;
    } else {
      std::cerr << "brine-codegen: error: unexpected argument '" << arg << "'\n" << kUsage;
      return 2;
    }
  }
  if (options.header.empty()) {
    std::cerr << "brine-codegen: error: no header given\n" << kUsage;
    return 2;
  }
  return brine::codegen::run(options, std::cerr);
}
