#include "model.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <type_traits>
#include <map>
#include <set>
#include <limits>
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

// "Outer::Inner" -> "Outer_Inner", "Level<1>" -> "Level_1": each run of characters an
// identifier cannot hold becomes one '_', and none ends the name.
std::string QualifiedName::schema_name() const {
  std::string out;
  bool gap = false;
  for (char c : name) {
    const bool word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      (static_cast<unsigned char>(c) & 0x80) != 0;
    if (!word) {
      gap = true;
      continue;
    }
    if (gap && !out.empty()) out += '_';
    gap = false;
    out += c;
  }
  return out;
}

std::string QualifiedName::schema_namespace() const {
  std::string out;
  for (const auto& n : namespaces) out += n + ".";
  return out + "fb";
}

bool Enum::is_unsigned() const {
  return underlying == Scalar::kUInt8 || underlying == Scalar::kUInt16 || underlying == Scalar::kUInt32 ||
         underlying == Scalar::kUInt64;
}

std::string Enum::value_text(const Enumerator& v) const {
  return is_unsigned() ? std::to_string(static_cast<uint64_t>(v.value)) : std::to_string(v.value);
}

bool Enum::less(const Enumerator& a, const Enumerator& b) const {
  return is_unsigned() ? static_cast<uint64_t>(a.value) < static_cast<uint64_t>(b.value) : a.value < b.value;
}

std::vector<const Enumerator*> Enum::distinct() const {
  std::vector<const Enumerator*> out;
  for (const auto& v : values) {
    if (find(v.value) == &v) out.push_back(&v);
  }
  return out;
}

const Enumerator* Enum::find(int64_t value) const {
  for (const auto& v : values) {
    if (v.value == value) return &v;
  }
  return nullptr;
}

namespace {

template <class T>
DefaultValue default_of(T v) {
  DefaultValue out;
  const T zero{};
  if (std::memcmp(&v, &zero, sizeof(T)) == 0) return out;
  if constexpr (std::is_same_v<T, bool>) {
    out.schema = out.cxx = "true";
  } else if constexpr (std::is_integral_v<T>) {
    out.schema = std::to_string(v);
    if constexpr (std::is_unsigned_v<T>) {
      out.cxx = out.schema + "ULL";
    } else {
      out.cxx = v == std::numeric_limits<int64_t>::min() ? "(-9223372036854775807LL - 1)" : out.schema + "LL";
    }
  } else {
    const std::string limits = std::string("std::numeric_limits<") + (sizeof(T) == 4 ? "float" : "double") + ">::";
    if (std::isnan(v)) {
      out.schema = "nan";
      out.cxx = limits + "quiet_NaN()";
    } else if (std::isinf(v)) {
      out.schema = v < 0 ? "-inf" : "inf";
      out.cxx = std::string(v < 0 ? "-" : "") + limits + "infinity()";
    } else {
      char text[64];
      out.schema.assign(text, std::to_chars(text, text + sizeof(text), v).ptr);  // shortest exact form
      out.cxx = out.schema;
      if (out.cxx.find_first_of(".e") == std::string::npos) out.cxx += ".0";
      if (sizeof(T) == 4) out.cxx += "f";
    }
  }
  return out;
}

template <class V>
DefaultValue convert(Scalar s, V v) {
  switch (s) {
    case Scalar::kBool: return default_of(v != V{});
    case Scalar::kInt8: return default_of(static_cast<int8_t>(v));
    case Scalar::kUInt8: return default_of(static_cast<uint8_t>(v));
    case Scalar::kInt16: return default_of(static_cast<int16_t>(v));
    case Scalar::kUInt16: return default_of(static_cast<uint16_t>(v));
    case Scalar::kInt32: return default_of(static_cast<int32_t>(v));
    case Scalar::kUInt32: return default_of(static_cast<uint32_t>(v));
    case Scalar::kInt64: return default_of(static_cast<int64_t>(v));
    case Scalar::kUInt64: return default_of(static_cast<uint64_t>(v));
    case Scalar::kFloat: return default_of(static_cast<float>(v));
    case Scalar::kDouble: return default_of(static_cast<double>(v));
  }
  return {};
}

}  // namespace

DefaultValue DefaultValue::of(Scalar s, int64_t v) { return convert(s, v); }
DefaultValue DefaultValue::of(Scalar s, uint64_t v) { return convert(s, v); }
DefaultValue DefaultValue::of(Scalar s, double v) { return convert(s, v); }

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
