#include "brine/core/schema.h"

#include <cctype>
#include <string>
#include <vector>

#include "brine/core/function_registry.h"

namespace brine {

// ---- SchemaWriter ----------------------------------------------------------------------------

bool SchemaWriter::claim(const std::string& qualified_name) {
  for (const Declaration& d : declarations_) {
    if (d.name == qualified_name) return false;
  }
  declarations_.push_back({qualified_name, {}});
  return true;
}

void SchemaWriter::define(const std::string& qualified_name, std::string_view keyword,
                          const std::vector<std::string>& fields, std::string_view comment) {
  const std::size_t dot = qualified_name.rfind('.');
  const std::string name = dot == std::string::npos ? qualified_name : qualified_name.substr(dot + 1);
  std::string body;
  if (!comment.empty()) body += "// " + std::string(comment) + "\n";
  body += std::string(keyword) + " " + name + " {\n";
  for (const std::string& f : fields) body += "  " + f + ";\n";
  body += "}\n";
  // Defined after its fields' types: a declaration moves behind the ones it uses (flatc wants a
  // struct's member structs declared first).
  std::erase_if(declarations_, [&](const Declaration& d) { return d.name == qualified_name; });
  declarations_.push_back({qualified_name, std::move(body)});
}

std::string SchemaWriter::text(const std::string& root, std::string_view identifier) const {
  std::string out = "// The schema of brine's bytes for " + root +
                    ", printed by brine::schema_of: any FlatBuffers reader built from it reads brine's dumps.\n";
  std::string current = "\x01";
  for (const Declaration& d : declarations_) {
    const std::size_t dot = d.name.rfind('.');
    const std::string ns = dot == std::string::npos ? std::string() : d.name.substr(0, dot);
    if (ns != current) {
      out += "\nnamespace " + ns + ";\n";
      current = ns;
    }
    out += "\n" + d.body;
  }
  out += "\nroot_type " + root + ";\nfile_identifier \"" + std::string(identifier) + "\";\n";
  return out;
}

// ---- names -----------------------------------------------------------------------------------

namespace detail {

namespace {
std::string sanitize(std::string_view part) {
  std::string out;
  for (char c : part) {
    const bool word = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
    if (word) {
      out += c;
    } else if (!out.empty() && out.back() != '_') {
      out += '_';
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  if (out.empty()) out = "_";
  if (std::isdigit(static_cast<unsigned char>(out.front())) != 0) out.insert(out.begin(), '_');
  return out;
}

// Splits a C++ name at "::" outside template arguments and parentheses.
std::vector<std::string_view> components(std::string_view name) {
  std::vector<std::string_view> out;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '<' || c == '(') ++depth;
    if (c == '>' || c == ')') --depth;
    if (depth == 0 && c == ':' && i + 1 < name.size() && name[i + 1] == ':') {
      out.push_back(name.substr(start, i - start));
      start = i + 2;
      ++i;
    }
  }
  out.push_back(name.substr(start));
  return out;
}
}  // namespace

std::string qualified_schema_name(const std::string& demangled) {
  const auto parts = components(demangled);
  std::string out;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) out += sanitize(parts[i]) + ".";
  return out + "fb." + sanitize(parts.back());
}

std::string name_token(std::string_view qualified) {
  std::string out(qualified);
  for (char& c : out) {
    if (c == '.') c = '_';
  }
  return out;
}

std::string identifier_for(std::string_view qualified) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  uint64_t h = fnv1a(qualified);
  std::string out;
  for (int i = 0; i < 4; ++i) {
    out += kAlphabet[h % 36];
    h /= 36;
  }
  return out;
}

std::string call_table_name(const std::string& function_name) { return qualified_schema_name(function_name) + "_args"; }

void throw_not_struct_layout(const std::string& type, std::size_t index) {
  throw NotSerializable("brine: brine::Fields of " + type + " lists member " + std::to_string(index) +
                        " where the struct's layout has another one; list every member in declaration order "
                        "(a plain struct of scalars travels as a FlatBuffers struct, byte for byte)");
}

}  // namespace detail

// ---- shapes ----------------------------------------------------------------------------------

namespace {

struct Shape {
  std::string_view text;      // the whole sub-shape
  char kind = 0;              // 'T' table, 'S' struct, '[' vector, '?' optional, 'x' leaf
  std::vector<Shape> children;
};

class ShapeParser {
 public:
  explicit ShapeParser(std::string_view s) : s_(s) {}
  bool parse(Shape& out) {
    if (!one(out)) return false;
    return pos_ == s_.size();
  }

 private:
  bool one(Shape& out) {
    const std::size_t start = pos_;
    if (pos_ >= s_.size()) return false;
    const char c = s_[pos_];
    if (c == '?') {
      ++pos_;
      out.kind = '?';
      out.children.emplace_back();
      if (!one(out.children.back())) return false;
    } else if ((c == 'T' || c == 'S') && pos_ + 1 < s_.size() && s_[pos_ + 1] == '(') {
      pos_ += 2;
      out.kind = c;
      while (pos_ < s_.size() && s_[pos_] != ')') {
        out.children.emplace_back();
        if (!one(out.children.back())) return false;
        if (pos_ < s_.size() && s_[pos_] == ',') ++pos_;
      }
      if (pos_ >= s_.size()) return false;
      ++pos_;
    } else if (c == '[') {
      ++pos_;
      out.kind = '[';
      out.children.emplace_back();
      if (!one(out.children.back())) return false;
      while (pos_ < s_.size() && s_[pos_] != ']') ++pos_;  // a struct member's ":N"
      if (pos_ >= s_.size()) return false;
      ++pos_;
    } else {
      out.kind = 'x';
      while (pos_ < s_.size() && s_[pos_] != ',' && s_[pos_] != ')' && s_[pos_] != ']' && s_[pos_] != ':') ++pos_;
      if (pos_ == start) return false;
    }
    out.text = s_.substr(start, pos_ - start);
    return true;
  }
  std::string_view s_;
  std::size_t pos_ = 0;
};

bool compatible(const Shape& a, const Shape& b) {
  if (a.kind != b.kind) return false;
  if (a.kind != 'T') {
    if (a.kind == '?' || a.kind == '[') return compatible(a.children[0], b.children[0]);
    return a.text == b.text;
  }
  const std::size_t n = std::min(a.children.size(), b.children.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (!compatible(a.children[i], b.children[i])) return false;
  }
  return true;
}

}  // namespace

bool shapes_compatible(std::string_view written, std::string_view reader) {
  if (written == reader) return true;
  Shape a, b;
  if (!ShapeParser(written).parse(a) || !ShapeParser(reader).parse(b)) return false;
  return compatible(a, b);
}

}  // namespace brine
