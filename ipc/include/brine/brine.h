// brine: functions, closures and their data in a pool of worker processes, through shared
// memory. The umbrella header: includes every public header and nothing else.
#pragma once

#include "brine/core/call.h"
#include "brine/core/codec.h"
#include "brine/core/error.h"
#include "brine/core/function_registry.h"
#include "brine/core/reducer.h"
#include "brine/ipc/future.h"
#include "brine/ipc/pool.h"
#include "brine/ipc/shared_vector.h"
