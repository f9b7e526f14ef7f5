// brine's own rows for the transport suite: its SpscRing, spinning and
// sleeping. Register each as a Channel of two Links (see transport.h):
//   register_transport("brine_ring_spin", make_spinning_ring_channel, Wait::kSpins);
//   register_transport("brine_ring_sleep", make_sleeping_ring_channel, Wait::kSleeps);
// The report divides every transport's round trip by these rows' times.
#include "transport.h"

namespace brine::bench {

void register_brine_transports() {}

}  // namespace brine::bench
