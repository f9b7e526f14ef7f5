// brine: the command line. See brine/tools/cli.h.
#include <iostream>

#include "brine/tools/cli.h"

int main(int argc, char** argv) {
  return brine::tools::run_cli(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
