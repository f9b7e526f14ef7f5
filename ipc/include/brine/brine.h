// brine: functions, closures and their data in a pool of worker processes, through shared
// memory. The umbrella header: includes every public header of the brine library and nothing
// else (tests/headers checks both: each header compiles alone, and this list is complete).
#pragma once

#include "brine/core/buffers.h"
#include "brine/core/call.h"
#include "brine/core/closure.h"
#include "brine/core/codec.h"
#include "brine/core/error.h"
#include "brine/core/function_registry.h"
#include "brine/core/reducer.h"
#include "brine/core/schema.h"
#include "brine/core/serialize.h"
#include "brine/ipc/arena.h"
#include "brine/ipc/future.h"
#include "brine/ipc/layout.h"
#include "brine/ipc/pool.h"
#include "brine/ipc/segment.h"
#include "brine/ipc/shared_vector.h"
#include "brine/ipc/spsc_ring.h"
#include "brine/ipc/wait.h"
