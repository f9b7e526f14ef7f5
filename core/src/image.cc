#include <dlfcn.h>
#include <elf.h>
#include <link.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "brine/core/closure.h"

namespace brine {

namespace {

struct BuildIdSearch {
  uintptr_t base;
  uint64_t id;
};

// Folds the GNU build-id note of the image loaded at `base` into 64 bits.
int find_build_id(dl_phdr_info* info, size_t, void* data) {
  auto* search = static_cast<BuildIdSearch*>(data);
  if (info->dlpi_addr != search->base && !(search->base == 0 && info->dlpi_name[0] == '\0')) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    auto* p = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
    const auto* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const auto* note = reinterpret_cast<const ElfW(Nhdr)*>(p);
      const unsigned char* name = p + sizeof(ElfW(Nhdr));
      const unsigned char* desc = name + ((note->n_namesz + 3) & ~3u);
      if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
        search->id = fnv1a(std::string_view(reinterpret_cast<const char*>(desc), note->n_descsz));
        return 1;
      }
      p = desc + ((note->n_descsz + 3) & ~3u);
    }
  }
  return 0;
}

}  // namespace

uint64_t image_offset_of(const void* address) {
  Dl_info info{};
  if (dladdr(address, &info) == 0) return reinterpret_cast<uintptr_t>(address);
  return reinterpret_cast<uintptr_t>(address) - reinterpret_cast<uintptr_t>(info.dli_fbase);
}

uint64_t image_id_of(const void* address) {
  Dl_info info{};
  if (dladdr(address, &info) == 0) return 0;
  BuildIdSearch search{reinterpret_cast<uintptr_t>(info.dli_fbase), 0};
  dl_iterate_phdr(find_build_id, &search);
  if (search.id == 0 && search.base != 0) {
    // A non-PIE executable reports base 0 in dl_iterate_phdr; retry for that case.
    search.base = 0;
    dl_iterate_phdr(find_build_id, &search);
  }
  if (search.id != 0) return search.id;
  // No build-id note: hash the file itself.
  std::ifstream f(info.dli_fname, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return fnv1a(bytes);
}

}  // namespace brine
