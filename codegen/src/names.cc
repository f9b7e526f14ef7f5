#include "names.h"

#include <cctype>
#include <map>
#include <string>

namespace brine::codegen {

namespace {

bool ascii_identifier(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0])) != 0) return false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80 || (std::isalnum(u) == 0 && c != '_')) return false;
  }
  return true;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string at(const SourceLocation& w) { return w.file + ":" + std::to_string(w.line); }

class NameChecker {
 public:
  explicit NameChecker(const Header& h) : h_(h) {}

  std::vector<Diagnostic> run() {
    for (const auto& e : h_.enums) check_enum(e);
    for (const auto& s : h_.structs) check_struct(s);
    check_types();
    return std::move(out_);
  }

 private:
  void error(const SourceLocation& where, std::string message) { out_.push_back({where, std::move(message)}); }

  // `what` is not an ASCII identifier: refused, as flatc reads only those.
  bool ascii(const std::string& name, const std::string& what, const SourceLocation& where) {
    if (ascii_identifier(name)) return true;
    error(where, what + " is not an ASCII identifier, and a FlatBuffers schema holds only ASCII letters, digits "
                        "and '_' (flatc refuses anything else); rename it in ASCII");
    return false;
  }

  void check_type_name(const QualifiedName& q, const std::string& kind, const SourceLocation& where) {
    for (const auto& n : q.namespaces) ascii(n, "namespace '" + n + "' of " + kind + " '" + q.cxx() + "'", where);
    ascii(q.schema_name(), kind + " '" + q.cxx() + "'", where);
  }

  void check_enum(const Enum& e) {
    check_type_name(e.name, "enum", e.where);
    for (const auto& v : e.values) {
      const std::string what = "enumerator '" + v.name + "' of '" + e.name.cxx() + "'";
      if (!ascii(v.name, what, v.where)) continue;
      if (v.name == "MIN" || v.name == "MAX") {
        error(v.where, what + " has a name flatc's C++ output gives an enumerator of its own (with --scoped-enums, "
                              "which brine_generate uses, every enum gets MIN and MAX); rename it");
      }
    }
  }

  void check_struct(const Struct& s) {
    check_type_name(s.name, "struct", s.where);
    std::map<std::string, const Field*> slots;  // VT_<NAME>: a table's field constants
    std::map<std::string, const Field*> names;
    for (const Field& f : s.fields) names[f.name] = &f;
    for (const Field& f : s.fields) {
      const std::string what = "field '" + f.name + "' of '" + s.name.cxx() + "'";
      if (!ascii(f.name, what, f.where)) continue;
      if (f.name == s.name.schema_name()) {
        error(f.where, what + " has the name of its type, which flatc's C++ output makes both the type and an "
                              "accessor (a member cannot be named as its class there); rename the field");
      }
      if (!s.is_struct) {
        if (auto [it, fresh] = slots.emplace(upper(f.name), &f); !fresh) {
          error(f.where, what + " and field '" + it->second->name + "' (" + at(it->second->where) +
                             ") differ only in case, and flatc's C++ output names a table's field constants in "
                             "upper case (both are VT_" + upper(f.name) + "); rename one of them");
        }
      } else if (const auto it = names.find(f.name + "_"); it != names.end()) {
        error(it->second->where, "field '" + f.name + "_' of '" + s.name.cxx() + "' has the name flatc's C++ output "
                                 "gives the storage of field '" + f.name + "' of the FlatBuffers struct; rename one "
                                 "of them");
      }
    }
  }

  struct Named {
    std::string cxx;
    SourceLocation where;
    std::string role;  // how flatc comes to use the name, for a helper
  };

  // Types, and the helpers flatc declares beside them, share one C++ namespace: no name twice.
  void check_types() {
    std::map<std::string, Named> names;  // "<schema namespace>.<name>"
    auto claim = [&](const QualifiedName& q, const std::string& name, const Named& n) {
      const std::string key = q.schema_namespace() + "." + name;
      auto [it, fresh] = names.emplace(key, n);
      if (fresh) return;
      const Named& first = it->second;
      const Named& second = n;
      if (first.role.empty() && second.role.empty()) {
        error(second.where, "'" + second.cxx + "' and '" + first.cxx + "' (" + at(first.where) +
                                ") would both be '" + name + "' in namespace " + q.schema_namespace() +
                                " of the schema (a nested type is named Outer_Inner, a specialization Name_Args); "
                                "rename one of them");
      } else {
        const Named& type = first.role.empty() ? first : second;
        const Named& helper = first.role.empty() ? second : first;
        error(type.where, "'" + type.cxx + "' has the name '" + name + "' that flatc's C++ output gives " +
                              helper.role + "; rename '" + type.cxx + "' (or '" + helper.cxx + "')");
      }
    };
    for (const auto& e : h_.enums) claim(e.name, e.name.schema_name(), {e.name.cxx(), e.where, ""});
    for (const auto& s : h_.structs) claim(s.name, s.name.schema_name(), {s.name.cxx(), s.where, ""});
    for (const auto& e : h_.enums) {
      const std::string n = e.name.schema_name();
      for (const std::string& helper : {"EnumNames" + n, "EnumValues" + n, "EnumName" + n}) {
        claim(e.name, helper, {e.name.cxx(), e.where, "a function of enum '" + e.name.cxx() + "' (" + helper + ")"});
      }
    }
    for (const auto& s : h_.structs) {
      if (s.is_struct) continue;
      const std::string n = s.name.schema_name();
      for (const std::string& helper : {n + "Builder", "Create" + n, "Create" + n + "Direct", "Get" + n,
                                       "GetSizePrefixed" + n, "Verify" + n + "Buffer", "VerifySizePrefixed" + n + "Buffer",
                                       "Finish" + n + "Buffer", "FinishSizePrefixed" + n + "Buffer", n + "Identifier",
                                       n + "BufferHasIdentifier", "SizePrefixed" + n + "BufferHasIdentifier"}) {
        claim(s.name, helper, {s.name.cxx(), s.where, "a helper of table '" + s.name.cxx() + "' (" + helper + ")"});
      }
    }
  }

  const Header& h_;
  std::vector<Diagnostic> out_;
};

}  // namespace

std::vector<Diagnostic> check_names(const Header& header) { return NameChecker(header).run(); }

}  // namespace brine::codegen
