// Markers read by brine-codegen: which types and functions of a header it generates code for.
//
//   #include <brine/codegen/annotate.h>
//
//   struct BRINE_EXPOSE Frame {            // a struct (or enum) that travels between processes
//     int id = 0;
//     BRINE_REF std::vector<float> pixels; // always by reference in the shared arena
//     BRINE_COPY std::vector<float> kernel; // always copied into the task
//   };
//   struct BRINE_EXPOSE BRINE_TABLE Pose {  // a table even though it could be a FlatBuffers
//     float x = 0, y = 0;                  // struct: fields can be added later
//   };
//   BRINE_TASK Frame blur(const Frame& in); // a task: typed stub + registration
//
// The macros expand to clang annotations only while brine-codegen parses the header (it
// defines BRINE_CODEGEN); for every compiler they expand to nothing, so the header stays
// ordinary C++. See docs/codegen.md.
#pragma once

#if defined(BRINE_CODEGEN)
#define BRINE_EXPOSE __attribute__((annotate("brine::expose")))
#define BRINE_TASK __attribute__((annotate("brine::task")))
#define BRINE_REF __attribute__((annotate("brine::ref")))
#define BRINE_COPY __attribute__((annotate("brine::copy")))
#define BRINE_TABLE __attribute__((annotate("brine::table")))
#else
#define BRINE_EXPOSE
#define BRINE_TASK
#define BRINE_REF
#define BRINE_COPY
#define BRINE_TABLE
#endif
