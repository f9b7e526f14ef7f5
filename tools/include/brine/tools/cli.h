// The brine command line: `brine <command> [options]`. A library so tests can run commands
// in-process; tools/src/main.cc is a thin main over run_cli(). Parsing, --help and usage errors
// are CLI11's (each command is a subcommand, added by one function in cli.cc); JSON output is
// nlohmann/json's. Neither appears in this header.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace brine::tools {

// Runs one command line (args excludes the program name). Returns the exit status.
int run_cli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace brine::tools
