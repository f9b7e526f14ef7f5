#include "brine/core/function_registry.h"

#include <algorithm>

#include <dlfcn.h>

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

const FunctionInfo& FunctionRegistry::require(const void* address, std::string (*signature_text)()) const {
  if (const FunctionInfo* info = find_address(address)) return *info;
  Dl_info dl{};
  std::string name = "a function";
  if (dladdr(address, &dl) != 0 && dl.dli_sname != nullptr) name = "'" + demangle(dl.dli_sname) + "'";
  char where[32];
  std::snprintf(where, sizeof where, "%p", address);
  throw NotRegistered("brine: " + name + " taking " + signature_text() + " at " + where +
                      " is not registered, so no worker could find it; add BRINE_REGISTER(<its name>) at "
                      "namespace scope in a source file linked into this binary");
}

std::string FunctionRegistry::schema(std::string_view name) const {
  if (name != "*") {
    const FunctionInfo* info = find_name(name);
    if (info == nullptr || info->schema == nullptr) {
      throw NotRegistered("brine: no function named '" + std::string(name) +
                          "' is registered in this binary; BRINE_PRINT_SCHEMA='*' lists every one");
    }
    return info->schema(*info);
  }
  std::vector<const FunctionInfo*> all;
  for (const auto& [id, info] : by_id_) {
    if (!info->by_value && info->schema != nullptr) all.push_back(info.get());
  }
  std::sort(all.begin(), all.end(), [](const FunctionInfo* a, const FunctionInfo* b) { return a->name < b->name; });
  std::string out;
  for (const FunctionInfo* info : all) out += "// ---- " + info->name + info->signature_text + "\n" + info->schema(*info) + "\n";
  return out;
}

}  // namespace brine
