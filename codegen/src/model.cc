#include "model.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <optional>

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

std::size_t scalar_size(Scalar s) {
  switch (s) {
    case Scalar::kBool:
    case Scalar::kInt8:
    case Scalar::kUInt8: return 1;
    case Scalar::kInt16:
    case Scalar::kUInt16: return 2;
    case Scalar::kInt32:
    case Scalar::kUInt32:
    case Scalar::kFloat: return 4;
    case Scalar::kInt64:
    case Scalar::kUInt64:
    case Scalar::kDouble: return 8;
  }
  return 0;
}

namespace {

struct Layout {
  std::size_t size = 0;
  std::size_t align = 1;
};

class LayoutDecider {
 public:
  explicit LayoutDecider(Header& h) : h_(h) {
    for (auto& e : h.enums) enums_[e.name.cxx()] = &e;
    for (auto& s : h.structs) structs_[s.name.cxx()] = &s;
  }

  void run() {
    for (auto& s : h_.structs) decide(s);
  }

 private:
  // The struct's FlatBuffers struct layout, or nothing if it is a table.
  std::optional<Layout> decide(Struct& s) {
    if (const auto it = done_.find(&s); it != done_.end()) return it->second;
    done_[&s] = std::nullopt;  // a cycle (through a vector) makes a table
    std::optional<Layout> out = layout_of(s);
    s.is_struct = out.has_value();
    done_[&s] = out;
    return out;
  }

  std::optional<Layout> layout_of(Struct& s) {
    if (s.force_table || !s.plain || s.fields.empty()) return std::nullopt;
    Layout l;
    for (const Field& f : s.fields) {
      if (f.placement != FieldPlacement::kAuto) return std::nullopt;
      const std::optional<Layout> m = member(f.type);
      if (!m) return std::nullopt;
      l.size = (l.size + m->align - 1) / m->align * m->align + m->size;
      l.align = std::max(l.align, m->align);
    }
    l.size = (l.size + l.align - 1) / l.align * l.align;
    if (l.size != s.size || l.align != s.align) return std::nullopt;
    return l;
  }

  std::optional<Layout> member(const TypeRef& t) {
    switch (t.kind) {
      case TypeRef::Kind::kScalar:
        if (t.scalar == Scalar::kBool) return std::nullopt;  // not every byte is a valid bool
        return Layout{scalar_size(t.scalar), scalar_size(t.scalar)};
      case TypeRef::Kind::kEnum: {
        const std::size_t n = scalar_size(enums_.at(t.name)->underlying);
        return Layout{n, n};
      }
      case TypeRef::Kind::kStruct: return decide(*structs_.at(t.name));
      case TypeRef::Kind::kArray: {
        if (t.length == 0) return std::nullopt;
        const std::optional<Layout> e = member(*t.element);
        if (!e) return std::nullopt;
        return Layout{e->size * t.length, e->align};
      }
      default: return std::nullopt;
    }
  }

  Header& h_;
  std::map<std::string, const Enum*> enums_;
  std::map<std::string, Struct*> structs_;
  std::map<const Struct*, std::optional<Layout>> done_;
};

}  // namespace

void decide_layouts(Header& header) { LayoutDecider(header).run(); }

// The structs in an order where every struct comes after the exposed structs it holds (a
// hook's layout depends on theirs), else in declaration order.
std::vector<const Struct*> dependency_order(const Header& h) {
  std::map<std::string, const Struct*> by_name;
  for (const auto& s : h.structs) by_name[s.name.cxx()] = &s;
  std::vector<const Struct*> out;
  std::set<const Struct*> done;
  std::set<const Struct*> visiting;
  std::function<void(const Struct*)> visit = [&](const Struct* s) {
    if (done.contains(s) || !visiting.insert(s).second) return;
    std::function<void(const TypeRef&)> deps = [&](const TypeRef& t) {
      if (t.kind == TypeRef::Kind::kStruct) {
        if (const auto it = by_name.find(t.name); it != by_name.end()) visit(it->second);
      } else if (t.element) {
        deps(*t.element);
      }
    };
    for (const Field& f : s->fields) deps(f.type);
    visiting.erase(s);
    if (done.insert(s).second) out.push_back(s);
  };
  for (const auto& s : h.structs) visit(&s);
  return out;
}


}  // namespace brine::codegen
