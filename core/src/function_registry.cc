#include "brine/core/function_registry.h"

#include <cstdio>
#include <cstdlib>

namespace brine {

FunctionRegistry& FunctionRegistry::global() {
  static FunctionRegistry registry;
  return registry;
}

const FunctionInfo& FunctionRegistry::add(FunctionInfo info) {
  auto it = by_id_.find(info.id);
  if (it != by_id_.end()) {
    if (it->second->address == info.address) return *it->second;
    std::fprintf(stderr,
                 "brine: two different functions are registered as \"%s\" (or their names collide in the "
                 "64-bit id space); give one of them another name with BRINE_REGISTER_AS\n",
                 info.name.c_str());
    std::abort();
  }
  auto owned = std::make_unique<FunctionInfo>(std::move(info));
  const FunctionInfo& ref = *owned;
  by_address_.emplace(ref.address, &ref);
  by_id_.emplace(ref.id, std::move(owned));
  return ref;
}

const FunctionInfo* FunctionRegistry::find(uint64_t id) const noexcept {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second.get();
}

const FunctionInfo* FunctionRegistry::find_address(const void* address) const noexcept {
  auto it = by_address_.find(address);
  return it == by_address_.end() ? nullptr : it->second;
}

const FunctionInfo* FunctionRegistry::find_name(std::string_view name) const noexcept {
  return find(fnv1a(name));
}

}  // namespace brine
