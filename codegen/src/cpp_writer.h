// The C++ brine-codegen writes for a header foo.h:
//  - foo.brine.h: a brine::Reducer<T> for each exposed struct (item i of its composite is the
//    field with schema id i; decoding ignores unknown trailing items and leaves missing ones at
//    their default, which is what makes adding a field at the end compatible), and a typed
//    stub per task: <ns>::tasks::<name>::submit(pool, args...) with the task's exact
//    parameter types, so a wrong argument fails to compile at the call site;
//  - foo.brine.cc: BRINE_REGISTER for each task.
#pragma once

#include <string>

#include "model.h"

namespace brine::codegen {

// `include_as` is how the generated header includes foo.h ("foo.h", "app/foo.h").
std::string write_reducers_header(const Header& header, const std::string& include_as);
std::string write_registration_source(const Header& header);

}  // namespace brine::codegen
