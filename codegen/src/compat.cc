#include "compat.h"

#include <flatbuffers/idl.h>
#include <flatbuffers/util.h>

#include <map>
#include <utility>

namespace brine::codegen {

namespace {

std::string qualified(const flatbuffers::Definition& d) { return d.defined_namespace->GetFullyQualifiedName(d.name); }

int field_id(const flatbuffers::FieldDef& f) { return (f.value.offset - flatbuffers::FieldIndexToOffset(0)) / 2; }

std::string type_text(const flatbuffers::Type& t) {
  if (t.base_type == flatbuffers::BASE_TYPE_VECTOR) return "[" + type_text(t.VectorType()) + "]";
  if (t.struct_def != nullptr) return qualified(*t.struct_def);
  if (t.enum_def != nullptr) return qualified(*t.enum_def);
  return flatbuffers::kTypeNames[t.base_type];
}

// The type as brine reads it: the FlatBuffers type plus optional-ness and a fixed length.
std::string field_type(const flatbuffers::FieldDef& f) {
  std::string text = type_text(f.value.type);
  if (f.IsScalarOptional() || f.attributes.Lookup("brine_optional") != nullptr) text = "optional " + text;
  if (const auto* length = f.attributes.Lookup("brine_length")) text += " of length " + length->constant;
  return text;
}

class Checker {
 public:
  Checker(const Header& h, std::string old_path) : h_(h), old_path_(std::move(old_path)) {
    for (const auto& s : h.structs) {
      const std::string table = s.name.schema_namespace() + "." + s.name.schema_name();
      tables_[table] = &s;
    }
    for (const auto& e : h.enums) enums_[e.name.schema_namespace() + "." + e.name.schema_name()] = &e;
  }

  void compare(const flatbuffers::Parser& before, const flatbuffers::Parser& after) {
    for (const flatbuffers::StructDef* old_table : before.structs_.vec) {
      const std::string name = qualified(*old_table);
      const flatbuffers::StructDef* table = after.structs_.Lookup(name);
      if (table == nullptr) {
        warn({h_.path, 0, 0}, "table '" + name + "' of " + old_path_ +
                                  " is no longer exposed: this binary can no longer read or write it");
        continue;
      }
      compare_table(*old_table, *table, *tables_.at(name));
    }
    for (const flatbuffers::EnumDef* old_enum : before.enums_.vec) {
      const std::string name = qualified(*old_enum);
      const flatbuffers::EnumDef* e = after.enums_.Lookup(name);
      if (e == nullptr) {
        warn({h_.path, 0, 0}, "enum '" + name + "' of " + old_path_ + " is no longer exposed");
        continue;
      }
      compare_enum(*old_enum, *e, *enums_.at(name));
    }
  }

  std::vector<Diagnostic> take() { return std::move(out_); }

 private:
  void compare_table(const flatbuffers::StructDef& before, const flatbuffers::StructDef& after, const Struct& s) {
    std::map<int, const flatbuffers::FieldDef*> by_id;
    for (const auto* f : after.fields.vec) by_id[field_id(*f)] = f;
    const std::string owner = "'" + s.name.cxx() + "'";
    for (const flatbuffers::FieldDef* old_field : before.fields.vec) {
      const int id = field_id(*old_field);
      const std::string& old_name = old_field->name;
      const flatbuffers::FieldDef* now = after.fields.Lookup(old_name);
      if (now != nullptr && field_id(*now) != id) {
        error(where(s, old_name), "field '" + old_name + "' of " + owner + " moved from id " + std::to_string(id) +
                                      " to id " + std::to_string(field_id(*now)) +
                                      ": readers built from the old schema would read another field in its place. "
                                      "Keep existing fields in their order and add new fields at the end");
        continue;
      }
      if (now == nullptr) {
        const auto it = by_id.find(id);
        if (it == by_id.end() || field_type(*it->second) != field_type(*old_field)) {
          error(s.where, "field '" + old_name + "' (id " + std::to_string(id) + ", " + field_type(*old_field) +
                             ") of " + owner + " was removed" +
                             (it == by_id.end() ? "" : " and '" + it->second->name + "' took its place") +
                             ": readers built from the old schema would misread the data. Keep the field (unused "
                             "if need be) and add new fields at the end");
        } else {
          warn(where(s, it->second->name), "field '" + old_name + "' (id " + std::to_string(id) + ") of " + owner +
                                               " is now named '" + it->second->name +
                                               "': compatible on the wire (same id and type); make sure it holds the "
                                               "same data");
        }
        continue;
      }
      if (field_type(*now) != field_type(*old_field)) {
        error(where(s, old_name), "field '" + old_name + "' (id " + std::to_string(id) + ") of " + owner +
                                      " changed type from " + field_type(*old_field) + " to " + field_type(*now) +
                                      ": readers built from the old schema would misread it. Keep its type and add "
                                      "a field of the new type at the end instead");
      }
    }
  }

  void compare_enum(const flatbuffers::EnumDef& before, const flatbuffers::EnumDef& after, const Enum& e) {
    const std::string owner = "'" + e.name.cxx() + "'";
    if (type_text(before.underlying_type) != type_text(after.underlying_type)) {
      error(e.where, "enum " + owner + " changed its underlying type from " + type_text(before.underlying_type) +
                         " to " + type_text(after.underlying_type) + "; keep the old one");
    }
    for (const flatbuffers::EnumVal* old_value : before.Vals()) {
      const flatbuffers::EnumVal* now = after.Lookup(old_value->name);
      if (now == nullptr) {
        error(e.where, "enumerator '" + old_value->name + "' (" + std::to_string(old_value->GetAsInt64()) + ") of " +
                           owner + " was removed: old writers may still send it. Keep it");
      } else if (now->GetAsInt64() != old_value->GetAsInt64()) {
        error(e.where, "enumerator '" + old_value->name + "' of " + owner + " changed value from " +
                           std::to_string(old_value->GetAsInt64()) + " to " + std::to_string(now->GetAsInt64()) +
                           ": old and new binaries would disagree on its meaning. Keep the value");
      }
    }
  }

  static SourceLocation where(const Struct& s, const std::string& field) {
    for (const auto& f : s.fields) {
      if (f.name == field) return f.where;
    }
    return s.where;
  }
  void error(SourceLocation at, std::string message) { out_.push_back({std::move(at), std::move(message)}); }
  void warn(SourceLocation at, std::string message) { out_.push_back({std::move(at), std::move(message), true}); }

  const Header& h_;
  std::string old_path_;
  std::map<std::string, const Struct*> tables_;
  std::map<std::string, const Enum*> enums_;
  std::vector<Diagnostic> out_;
};

}  // namespace

std::vector<Diagnostic> check_compat(const Header& header, const std::string& new_schema,
                                     const std::string& old_schema_path) {
  std::string old_text;
  if (!flatbuffers::LoadFile(old_schema_path.c_str(), false, &old_text)) {
    return {{{old_schema_path, 0, 0}, "cannot read the previous schema"}};
  }
  flatbuffers::Parser before;
  if (!before.Parse(old_text.c_str(), nullptr, old_schema_path.c_str())) {
    return {{{old_schema_path, 0, 0}, "not a valid FlatBuffers schema: " + before.error_}};
  }
  flatbuffers::Parser after;
  if (!after.Parse(new_schema.c_str(), nullptr, (header.stem + ".fbs").c_str())) {
    return {{{header.path, 0, 0}, "internal error: the generated schema does not parse: " + after.error_}};
  }
  Checker checker(header, old_schema_path);
  checker.compare(before, after);
  return checker.take();
}

}  // namespace brine::codegen
