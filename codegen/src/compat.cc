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
    if (before.fixed || after.fixed) {
      compare_struct(before, after, s);
      return;
    }
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

  // A FlatBuffers struct is its bytes: any change to it changes every value's layout.
  void compare_struct(const flatbuffers::StructDef& before, const flatbuffers::StructDef& after, const Struct& s) {
    const std::string owner = "'" + s.name.cxx() + "'";
    if (before.fixed != after.fixed) {
      error(s.where, owner + (before.fixed ? " was a FlatBuffers struct and is now a table"
                                           : " was a table and is now a FlatBuffers struct") +
                         ": the bytes of every value differ. " +
                         (before.fixed ? "Keep its fields as they were, or expose the new layout as a new type"
                                       : "Mark it BRINE_TABLE to keep it a table"));
      return;
    }
    const auto& old_fields = before.fields.vec;
    const auto& new_fields = after.fields.vec;
    for (std::size_t i = 0; i < old_fields.size() && i < new_fields.size(); ++i) {
      const std::string& old_name = old_fields[i]->name;
      if (field_type(*old_fields[i]) != field_type(*new_fields[i])) {
        error(where(s, new_fields[i]->name),
              "field " + std::to_string(i) + " of " + owner + ", a FlatBuffers struct, changed from '" + old_name +
                  ": " + field_type(*old_fields[i]) + "' to '" + new_fields[i]->name + ": " +
                  field_type(*new_fields[i]) + "': a struct's layout is fixed; readers built from the old schema "
                  "would misread it");
      } else if (new_fields[i]->name != old_name) {
        warn(where(s, new_fields[i]->name), "field '" + old_name + "' of " + owner + " is now named '" +
                                                new_fields[i]->name +
                                                "': compatible on the wire (same position and type); make sure it "
                                                "holds the same data");
      }
    }
    for (std::size_t i = old_fields.size(); i < new_fields.size(); ++i) {
      error(where(s, new_fields[i]->name),
            "field '" + new_fields[i]->name + "' was added to " + owner +
                ", a FlatBuffers struct: a struct's size is fixed (" + std::to_string(before.bytesize) + " bytes, now " +
                std::to_string(after.bytesize) + "), so readers built from the old schema would misread every value "
                "and everything after it in a vector. A struct cannot evolve: expose a new type, or make it a table "
                "(BRINE_TABLE) once, knowing that is itself a breaking change");
    }
    for (std::size_t i = new_fields.size(); i < old_fields.size(); ++i) {
      error(s.where, "field '" + old_fields[i]->name + "' of " + owner +
                         ", a FlatBuffers struct, was removed: a struct's layout is fixed; keep the field");
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
