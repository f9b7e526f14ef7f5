// elf.h (libc6-dev): Elf64_Ehdr and Elf64_Sym, kept as glibc writes them, C-style
// `typedef struct { ... } Name;` (the schema takes the typedef's name), with BRINE_EXPOSE
// added and e_ident's C array made a std::array.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include <brine/codegen/annotate.h>

namespace glibc_elf {

typedef uint16_t Elf64_Half;
typedef uint32_t Elf64_Word;
typedef uint64_t Elf64_Addr;
typedef uint64_t Elf64_Off;
typedef uint16_t Elf64_Section;
typedef uint64_t Elf64_Xword;

#define EI_NIDENT (16)

typedef struct BRINE_EXPOSE
{
  std::array<unsigned char, EI_NIDENT> e_ident;	/* Magic number and other info */
  Elf64_Half	e_type;			/* Object file type */
  Elf64_Half	e_machine;		/* Architecture */
  Elf64_Word	e_version;		/* Object file version */
  Elf64_Addr	e_entry;		/* Entry point virtual address */
  Elf64_Off	e_phoff;		/* Program header table file offset */
  Elf64_Off	e_shoff;		/* Section header table file offset */
  Elf64_Word	e_flags;		/* Processor-specific flags */
  Elf64_Half	e_ehsize;		/* ELF header size in bytes */
  Elf64_Half	e_phentsize;		/* Program header table entry size */
  Elf64_Half	e_phnum;		/* Program header table entry count */
  Elf64_Half	e_shentsize;		/* Section header table entry size */
  Elf64_Half	e_shnum;		/* Section header table entry count */
  Elf64_Half	e_shstrndx;		/* Section header string table index */
} Elf64_Ehdr;

typedef struct BRINE_EXPOSE
{
  Elf64_Word	st_name;		/* Symbol name (string tbl index) */
  unsigned char	st_info;		/* Symbol type and binding */
  unsigned char st_other;		/* Symbol visibility */
  Elf64_Section	st_shndx;		/* Section index */
  Elf64_Addr	st_value;		/* Symbol value */
  Elf64_Xword	st_size;		/* Symbol size */
} Elf64_Sym;

/* Symbol table entry types, as a C-style typedef'd enum (elf.h spells them as #defines). */
typedef enum BRINE_EXPOSE { STT_NOTYPE = 0, STT_OBJECT = 1, STT_FUNC = 2, STT_SECTION = 3, STT_FILE = 4 } elf_stt_t;

/* An object file's symbols, for the round trip. */
struct BRINE_EXPOSE SymbolTable {
  Elf64_Ehdr header;
  std::vector<Elf64_Sym> symbols;
  std::vector<elf_stt_t> types;
};

BRINE_TASK SymbolTable echo_symbols(const SymbolTable& t);

}  // namespace glibc_elf
