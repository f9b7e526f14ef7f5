// brine's own envelope rows for the serialization suite.
//
// Add brine here as one more codec (see codec.h for the interface):
//   template <class P> class BrineEnvelopeCodec { ... kName = "brine" ... };
//   register_codec<BrineEnvelopeCodec>();
// The report then shows its ratio to memcpy next to the other codecs.
#include "codec.h"

namespace brine::bench {

void register_brine_codecs() {}

}  // namespace brine::bench
