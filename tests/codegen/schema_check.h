// Checks shared by the codegen tests.
// flatc_root<FbT>(bytes, id): a dump as flatc's generated code sees it, verified with `id`.
// expect_same_bytes<T>(stem): brine::schema_of<T>() and the generated <stem>.fbs (in
// CODEGEN_GENERATED_DIR) declare T's tables and structs alike, field by field (name, slot,
// type, default, optional-ness), as flatc's parser reads both.
#pragma once

#include <gtest/gtest.h>

#include <flatbuffers/idl.h>
#include <flatbuffers/util.h>

#include <memory>
#include <string>

#include "brine/core/reducer.h"
#include "brine/core/schema.h"
#include "brine/core/serialize.h"

namespace brine::testing {

template <class FbT>
const FbT* flatc_root(const brine::Bytes& bytes, const char* identifier) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  flatbuffers::Verifier v(data, bytes.size());
  EXPECT_TRUE(v.VerifyBuffer<FbT>(identifier)) << "flatc's verifier refused the dump";
  return flatbuffers::GetRoot<FbT>(data);
}

// What flatc's parser makes of a schema text.
inline std::unique_ptr<flatbuffers::Parser> parse(const std::string& text, const std::string& what) {
  auto parser = std::make_unique<flatbuffers::Parser>();
  EXPECT_TRUE(parser->Parse(text.c_str())) << what << ": " << parser->error_ << "\n" << text;
  return parser;
}

inline std::string type_text(const flatbuffers::Type& t) {
  std::string out = flatbuffers::kTypeNames[t.base_type];  // an enum is its underlying type
  if (t.base_type == flatbuffers::BASE_TYPE_VECTOR || t.base_type == flatbuffers::BASE_TYPE_ARRAY) {
    out = "[" + type_text(t.VectorType()) + (t.fixed_length != 0 ? ":" + std::to_string(t.fixed_length) : "") + "]";
  } else if (t.struct_def != nullptr) {
    out += " " + t.struct_def->defined_namespace->GetFullyQualifiedName(t.struct_def->name);
  }
  return out;
}

// Every table and struct of brine::schema_of<T>() is declared in the header's generated .fbs
// with the same kind, size, and per field the same name, slot, type, default and optional-ness.
template <class T>
void expect_same_bytes(const std::string& stem) {
  const std::string runtime_text = brine::schema_of<T>();
  std::string generated_text;
  const std::string path = std::string(CODEGEN_GENERATED_DIR) + "/" + stem + ".fbs";
  ASSERT_TRUE(flatbuffers::LoadFile(path.c_str(), false, &generated_text)) << path;
  const auto runtime = parse(runtime_text, "brine::schema_of<" + brine::type_signature<T>() + ">()");
  const auto generated = parse(generated_text, path);
  EXPECT_EQ(runtime->file_identifier_, generated->file_identifier_) << runtime_text;
  std::size_t compared = 0;
  for (const flatbuffers::StructDef* def : runtime->structs_.vec) {
    const std::string name = def->defined_namespace->GetFullyQualifiedName(def->name);
    if (name.starts_with("brine.fb.")) continue;  // brine's boxes around a root that is not a table
    const flatbuffers::StructDef* other = generated->structs_.Lookup(name);
    ASSERT_NE(other, nullptr) << name << " of the runtime schema is missing from " << path << "\n" << runtime_text;
    ++compared;
    EXPECT_EQ(def->fixed, other->fixed) << name;
    EXPECT_EQ(def->bytesize, other->bytesize) << name;
    EXPECT_EQ(def->minalign, other->minalign) << name;
    ASSERT_EQ(def->fields.vec.size(), other->fields.vec.size()) << name;
    for (std::size_t i = 0; i < def->fields.vec.size(); ++i) {
      const flatbuffers::FieldDef& a = *def->fields.vec[i];
      const flatbuffers::FieldDef& b = *other->fields.vec[i];
      const std::string field = name + "." + a.name;
      EXPECT_EQ(a.name, b.name) << field;
      EXPECT_EQ(a.value.offset, b.value.offset) << field;
      EXPECT_EQ(type_text(a.value.type), type_text(b.value.type)) << field;
      EXPECT_EQ(a.value.constant, b.value.constant) << field;
      EXPECT_EQ(a.IsScalarOptional(), b.IsScalarOptional()) << field;
    }
  }
  EXPECT_GT(compared, 0u) << runtime_text;
  if (brine::Wire<T>::kind == brine::WireKind::kTable) {
    ASSERT_NE(runtime->root_struct_def_, nullptr);
    EXPECT_EQ(runtime->root_struct_def_->name, brine::Reducer<T>::schema_name().substr(
                                                   brine::Reducer<T>::schema_name().rfind('.') + 1));
  }
}

}  // namespace brine::testing
