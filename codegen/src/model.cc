#include "model.h"

namespace brine::codegen {

std::string format(const Diagnostic& d) {
  std::string out = d.where.file;
  if (d.where.line != 0) out += ":" + std::to_string(d.where.line) + ":" + std::to_string(d.where.column);
  return out + (d.warning ? ": warning: " : ": error: ") + d.message;
}

bool TypeRef::has_contiguous_data() const {
  switch (kind) {
    case Kind::kVector:
    case Kind::kArray:
      return element->kind == Kind::kScalar || element->has_contiguous_data();
    case Kind::kOptional:
      return element->has_contiguous_data();
    default:
      return false;
  }
}

std::string QualifiedName::cxx() const {
  std::string out;
  for (const auto& n : namespaces) out += n + "::";
  return out + name;
}

std::string QualifiedName::schema_name() const {
  std::string out = name;
  for (std::size_t i = out.find("::"); i != std::string::npos; i = out.find("::", i)) out.replace(i, 2, "_");
  return out;
}

std::string QualifiedName::schema_namespace() const {
  std::string out;
  for (const auto& n : namespaces) out += n + ".";
  return out + "fb";
}

}  // namespace brine::codegen
