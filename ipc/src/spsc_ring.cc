#include "brine/ipc/spsc_ring.h"

#include <new>

namespace brine::ipc {

SpscRing SpscRing::create(void* memory, uint32_t capacity) noexcept {
  auto* c = new (memory) SpscRingControl();
  c->capacity = capacity;
  return attach(memory);
}

SpscRing SpscRing::attach(void* memory) noexcept {
  auto* c = static_cast<SpscRingControl*>(memory);
  return SpscRing(c, reinterpret_cast<uint64_t*>(c + 1));
}

void SpscRing::reset() noexcept {
  c_->write.store(0, std::memory_order_relaxed);
  c_->read.store(0, std::memory_order_relaxed);
  c_->read_cache = 0;
  c_->write_cache = 0;
}

}  // namespace brine::ipc
