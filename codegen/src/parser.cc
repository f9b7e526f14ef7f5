#include "parser.h"

#include "names.h"

#include <clang-c/Index.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string_view>
#include <type_traits>
#include <utility>

namespace brine::codegen {

namespace {

std::string take(CXString s) {
  const char* c = clang_getCString(s);
  std::string out = c != nullptr ? c : "";
  clang_disposeString(s);
  return out;
}

std::string spelling(CXCursor c) { return take(clang_getCursorSpelling(c)); }
std::string spelling(CXType t) { return take(clang_getTypeSpelling(t)); }

// Calls f(child) for each direct child of `parent`.
template <class F>
void for_each_child(CXCursor parent, F&& f) {
  using Fn = std::remove_reference_t<F>;
  clang_visitChildren(
      parent,
      [](CXCursor child, CXCursor, CXClientData data) {
        (*static_cast<Fn*>(data))(child);
        return CXChildVisit_Continue;
      },
      &f);
}

SourceLocation location_of(CXCursor c) {
  CXFile file = nullptr;
  unsigned line = 0;
  unsigned column = 0;
  clang_getSpellingLocation(clang_getCursorLocation(c), &file, &line, &column, nullptr);
  return {take(clang_getFileName(file)), line, column};
}

std::set<std::string> annotations(CXCursor c) {
  std::set<std::string> out;
  for_each_child(c, [&](CXCursor child) {
    if (clang_getCursorKind(child) == CXCursor_AnnotateAttr) {
      std::string a = spelling(child);
      if (a.starts_with("brine::")) out.insert(std::move(a));
    }
  });
  return out;
}

// A canonical type's spelling, made shorter where clang spells out defaults.
std::string cxx_spelling(CXType t) {
  std::string s = spelling(clang_getCanonicalType(t));
  const std::pair<std::string_view, std::string_view> rewrites[] = {
      {"std::basic_string<char>", "std::string"},
      {"std::basic_string_view<char>", "std::string_view"},
      {", 18446744073709551615>", ">"},  // std::span's std::dynamic_extent
      {" &", "&"},
      {" *", "*"},
  };
  for (const auto& [from, to] : rewrites) {
    for (std::size_t i = s.find(from); i != std::string::npos; i = s.find(from, i + to.size())) {
      s.replace(i, from.size(), to);
    }
  }
  return s;
}

bool is_record(CXCursorKind k) { return k == CXCursor_StructDecl || k == CXCursor_ClassDecl; }

bool in_std(CXCursor c);

// Whether `c` is declared in namespace std::chrono.
bool in_chrono(CXCursor c) {
  const CXCursor p = clang_getCursorSemanticParent(c);
  return clang_getCursorKind(p) == CXCursor_Namespace && spelling(p) == "chrono" && in_std(p);
}

// A type's own name: the typedef that names an unnamed struct or enum (`typedef struct {...}
// Elf64_Ehdr;`), a specialization with its arguments ("Level<1>"), else its spelling.
std::string own_name(CXCursor c, const std::map<std::string, std::string>& typedefs) {
  if (const auto it = typedefs.find(take(clang_getCursorUSR(c))); it != typedefs.end()) return it->second;
  if (!clang_Cursor_isNull(clang_getSpecializedCursorTemplate(c))) return take(clang_getCursorDisplayName(c));
  return spelling(c);
}

// The namespaces and enclosing classes of a declaration. An anonymous namespace shows as "".
QualifiedName qualified_name(CXCursor c, const std::map<std::string, std::string>& typedefs = {}) {
  QualifiedName q;
  q.name = own_name(c, typedefs);
  for (CXCursor p = clang_getCursorSemanticParent(c);
       !clang_Cursor_isNull(p) && clang_getCursorKind(p) != CXCursor_TranslationUnit;
       p = clang_getCursorSemanticParent(p)) {
    if (clang_getCursorKind(p) == CXCursor_Namespace) {
      q.namespaces.insert(q.namespaces.begin(), spelling(p));
    } else if (is_record(clang_getCursorKind(p))) {
      q.name = own_name(p, typedefs) + "::" + q.name;
    }
  }
  return q;
}

bool in_anonymous_namespace(const QualifiedName& q) {
  for (const auto& n : q.namespaces) {
    if (n.empty()) return true;
  }
  return false;
}

// Whether `c` is declared directly in namespace std (through inline namespaces like __cxx11).
bool in_std(CXCursor c) {
  CXCursor p = clang_getCursorSemanticParent(c);
  while (clang_getCursorKind(p) == CXCursor_Namespace && clang_Cursor_isInlineNamespace(p) != 0) {
    p = clang_getCursorSemanticParent(p);
  }
  if (clang_getCursorKind(p) != CXCursor_Namespace || spelling(p) != "std") return false;
  CXCursor outer = clang_getCursorSemanticParent(p);
  while (clang_getCursorKind(outer) == CXCursor_LinkageSpec || clang_getCursorKind(outer) == CXCursor_UnexposedDecl) {
    outer = clang_getCursorSemanticParent(outer);  // extern "C++" (libclang 14 does not expose it)
  }
  return clang_getCursorKind(outer) == CXCursor_TranslationUnit;
}

std::optional<Scalar> scalar_of(CXType t) {
  const bool wide = clang_Type_getSizeOf(t) == 8;
  switch (t.kind) {
    case CXType_Bool: return Scalar::kBool;
    // Plain char is a byte whatever the platform's char signedness (-funsigned-char, ARM's
    // ABI), so a schema never depends on where it was generated.
    case CXType_Char_S:
    case CXType_Char_U:
    case CXType_SChar: return Scalar::kInt8;
    case CXType_UChar: return Scalar::kUInt8;
    case CXType_Short: return Scalar::kInt16;
    case CXType_UShort: return Scalar::kUInt16;
    case CXType_Int: return Scalar::kInt32;
    case CXType_UInt: return Scalar::kUInt32;
    case CXType_Long:
    case CXType_LongLong: return wide ? Scalar::kInt64 : Scalar::kInt32;
    case CXType_ULong:
    case CXType_ULongLong: return wide ? Scalar::kUInt64 : Scalar::kUInt32;
    case CXType_Float: return Scalar::kFloat;
    case CXType_Double: return Scalar::kDouble;
    default: return std::nullopt;
  }
}

constexpr std::string_view kSupported =
    "supported are bool, fixed-width integers, float, double, std::byte, std::chrono::duration, std::string, "
    "BRINE_EXPOSE enums and structs, and std::vector / std::array / std::optional of those";

class HeaderParser {
 public:
  explicit HeaderParser(ParseResult& out) : out_(out) {}

  // Pass 1: finds the annotated declarations written in the main file.
  void collect(CXCursor parent) {
    for_each_child(parent, [&](CXCursor c) {
      if (clang_Location_isFromMainFile(clang_getCursorLocation(c)) == 0) return;
      const CXCursorKind kind = clang_getCursorKind(c);
      const std::set<std::string> marks = annotations(c);
      const bool expose = marks.contains("brine::expose");
      if (marks.contains("brine::table") && !(expose && is_record(kind))) {
        error(c, "BRINE_TABLE marks a BRINE_EXPOSE struct (to keep it an evolvable table); '" + spelling(c) +
                     "' is not one");
      }
      const bool task = marks.contains("brine::task");
      if (kind == CXCursor_TypedefDecl) {  // `typedef struct { ... } Name;` names the struct Name
        const CXCursor named =
            clang_getTypeDeclaration(clang_getCanonicalType(clang_getTypedefDeclUnderlyingType(c)));
        const std::string usr = take(clang_getCursorUSR(named));
        if (!clang_Cursor_isNull(named) && spelling(named).empty() && !typedefs_.contains(usr)) {
          typedefs_[usr] = spelling(c);
        }
      }
      if (kind == CXCursor_Namespace || kind == CXCursor_LinkageSpec) {
        collect(c);
      } else if (is_record(kind) || kind == CXCursor_EnumDecl) {
        if (task) error(c, "BRINE_TASK marks a free function; '" + spelling(c) + "' is a type (did you mean BRINE_EXPOSE?)");
        if (expose && clang_isCursorDefinition(c) != 0) {
          (kind == CXCursor_EnumDecl ? enums_ : records_).push_back(c);
          exposed_[take(clang_getCursorUSR(c))] = c;
        }
        if (is_record(kind)) collect(c);  // nested types
      } else if (kind == CXCursor_FunctionDecl) {
        if (expose) error(c, "BRINE_EXPOSE marks a struct or an enum; '" + spelling(c) + "' is a function (did you mean BRINE_TASK?)");
        if (task) tasks_.push_back(c);
      } else if (task) {
        error(c, "BRINE_TASK marks a non-template free function; '" + spelling(c) +
                     "' is not one. Wrap it in a free function taking and returning exposed types");
      } else if (expose && kind == CXCursor_ClassTemplate) {
        error(c, "'" + spelling(c) + "' is a class template: brine-codegen generates code for concrete types; "
                     "expose an explicit specialization (`template <> struct BRINE_EXPOSE " + spelling(c) +
                     "<...> {...};`) or a plain struct");
      } else if (expose) {
        error(c, "BRINE_EXPOSE marks a struct or an enum; '" + spelling(c) + "' is neither");
      } else if (kind == CXCursor_FieldDecl && (marks.contains("brine::ref") || marks.contains("brine::copy"))) {
        const CXCursor owner = clang_getCursorSemanticParent(c);
        if (!annotations(owner).contains("brine::expose")) {
          error(c, "BRINE_REF/BRINE_COPY on field '" + spelling(c) + "' has no effect: '" + spelling(owner) +
                       "' is not BRINE_EXPOSE; expose it or drop the marker");
        }
      } else if (marks.contains("brine::ref") || marks.contains("brine::copy")) {
        error(c, "BRINE_REF/BRINE_COPY mark fields of a BRINE_EXPOSE struct; '" + spelling(c) + "' is not a field");
      }
    });
  }

  // Pass 2: builds the model of what pass 1 found.
  void build() {
    for (CXCursor c : enums_) build_enum(c);
    for (CXCursor c : records_) build_struct(c);
    std::map<std::string, SourceLocation> task_names;
    for (CXCursor c : tasks_) {
      const std::string usr = take(clang_getCursorUSR(c));
      if (!seen_tasks_.insert(usr).second) continue;  // a redeclaration
      build_task(c, task_names);
    }
  }

 private:
  void error(CXCursor at, std::string message) { error(location_of(at), std::move(message)); }
  void error(SourceLocation at, std::string message) { out_.errors.push_back({std::move(at), std::move(message)}); }

  bool check_name(CXCursor c, const QualifiedName& q) {
    if (q.name.empty() || q.name.find('(') != std::string::npos || q.name.ends_with("::")) {
      error(c, "this " + std::string(clang_getCursorKind(c) == CXCursor_EnumDecl ? "enum" : "struct") +
                   " has no name the schema and the generated code can use; name it (or name it with a typedef: "
                   "`typedef " + (clang_getCursorKind(c) == CXCursor_EnumDecl ? "enum" : "struct") + " {...} Name;`)");
      return false;
    }
    if (!in_anonymous_namespace(q)) return true;
    error(c, "'" + spelling(c) + "' is in an anonymous namespace: generated code in another file cannot name it; "
                                 "move it to a named namespace");
    return false;
  }

  void build_enum(CXCursor c) {
    Enum e;
    e.name = qualified_name(c, typedefs_);
    e.where = location_of(c);
    if (!check_name(c, e.name)) return;
    const CXType underlying = clang_getCanonicalType(clang_getEnumDeclIntegerType(c));
    const std::optional<Scalar> s = scalar_of(underlying);
    if (!s || *s == Scalar::kBool || *s == Scalar::kFloat || *s == Scalar::kDouble) {
      error(c, "enum '" + e.name.cxx() + "' has underlying type '" + spelling(underlying) +
                   "', which FlatBuffers cannot hold; use a fixed-width integer type");
      return;
    }
    e.underlying = *s;
    for_each_child(c, [&](CXCursor k) {
      if (clang_getCursorKind(k) != CXCursor_EnumConstantDecl) return;
      const int64_t v = e.is_unsigned() ? static_cast<int64_t>(clang_getEnumConstantDeclUnsignedValue(k))
                                        : clang_getEnumConstantDeclValue(k);
      e.values.push_back({spelling(k), v, location_of(k)});
    });
    if (e.values.empty()) {
      error(c, "enum '" + e.name.cxx() + "' has no enumerators; FlatBuffers needs at least one");
      return;
    }
    out_.header.enums.push_back(std::move(e));
  }

  void build_struct(CXCursor c) {
    Struct s;
    s.name = qualified_name(c, typedefs_);
    s.where = location_of(c);
    if (!check_name(c, s.name)) return;
    s.force_table = annotations(c).contains("brine::table");
    const CXType type = clang_getCursorType(c);
    s.size = static_cast<std::size_t>(std::max(0LL, clang_Type_getSizeOf(type)));
    s.align = static_cast<std::size_t>(std::max(0LL, clang_Type_getAlignOf(type)));
    bool ok = check_constructible(c, s.name.cxx());
    for_each_child(c, [&](CXCursor m) {
      const CXCursorKind kind = clang_getCursorKind(m);
      if (user_provided_special(m)) s.plain = false;  // not trivially copyable: not a FlatBuffers struct
      if ((kind == CXCursor_UnionDecl || kind == CXCursor_StructDecl) && clang_Cursor_isAnonymousRecordDecl(m) != 0) {
        std::string members;
        for_each_child(m, [&](CXCursor u) {
          if (clang_getCursorKind(u) == CXCursor_FieldDecl) members += (members.empty() ? "'" : ", '") + spelling(u) + "'";
        });
        const bool is_union = kind == CXCursor_UnionDecl;
        error(m, "'" + s.name.cxx() + "' has an anonymous " + (is_union ? "union" : "struct") + " (members " + members +
                     "): brine-codegen would have to drop it" +
                     (is_union ? ", as nothing records which member is live" : "") + "; " +
                     (is_union ? "hold the one member you use as a plain field instead of the union"
                               : "name the struct, expose it, and hold it as a field"));
        ok = false;
      } else if (kind == CXCursor_CXXBaseSpecifier) {
        error(m, "'" + s.name.cxx() + "' has a base class '" + spelling(clang_getCursorType(m)) +
                     "': brine-codegen sends a struct's own fields only; hold the base as a field instead");
        ok = false;
      } else if (kind == CXCursor_FieldDecl) {
        ok = build_field(s, m) && ok;
      }
    });
    if (ok && s.fields.empty()) {
      error(c, "'" + s.name.cxx() + "' has no fields: its hook lists them with brine::Fields, which needs at least "
                                    "one; give it a field or do not expose it");
      ok = false;
    }
    if (ok) out_.header.structs.push_back(std::move(s));
  }

  // Whether a member function is `= delete`d (libclang 14 has no clang_CXXMethod_isDeleted).
  static bool is_deleted(CXCursor m) {
    const CXTranslationUnit tu = clang_Cursor_getTranslationUnit(m);
    CXToken* tokens = nullptr;
    unsigned n = 0;
    clang_tokenize(tu, clang_getCursorExtent(m), &tokens, &n);
    bool deleted = false;
    for (unsigned i = 0; i + 1 < n; ++i) {
      deleted = deleted || (take(clang_getTokenSpelling(tu, tokens[i])) == "=" &&
                            take(clang_getTokenSpelling(tu, tokens[i + 1])) == "delete");
    }
    clang_disposeTokens(tu, tokens, n);
    return deleted;
  }

  // A generated hook default-constructs a received value, sets its fields, and copies values:
  // the struct needs a public default constructor, copy constructor and destructor.
  bool check_constructible(CXCursor c, const std::string& name) {
    std::string no_default;  // why it cannot be default-constructed, or empty
    std::string no_copy;
    std::string no_destroy;
    std::string other_constructor;
    bool default_declared = false;
    bool copy_declared = false;
    bool move_declared = false;
    auto unusable = [](CXCursor m) -> std::string {
      if (is_deleted(m)) return "is deleted";
      const CX_CXXAccessSpecifier a = clang_getCXXAccessSpecifier(m);
      if (a != CX_CXXPublic) return a == CX_CXXPrivate ? "is private" : "is protected";
      return "";
    };
    for_each_child(c, [&](CXCursor m) {
      const CXCursorKind kind = clang_getCursorKind(m);
      if (kind == CXCursor_Destructor) {
        if (const std::string why = unusable(m); !why.empty()) no_destroy = "its destructor " + why;
      } else if (kind != CXCursor_Constructor) {
        return;
      } else if (clang_CXXConstructor_isDefaultConstructor(m) != 0) {
        default_declared = true;
        if (const std::string why = unusable(m); !why.empty()) no_default = "its default constructor " + why;
      } else if (clang_CXXConstructor_isCopyConstructor(m) != 0) {
        copy_declared = true;
        if (const std::string why = unusable(m); !why.empty()) no_copy = "its copy constructor " + why;
      } else if (clang_CXXConstructor_isMoveConstructor(m) != 0) {
        move_declared = true;
      } else if (other_constructor.empty()) {
        other_constructor = take(clang_getCursorDisplayName(m));
      }
    });
    if (!default_declared && (!other_constructor.empty() || copy_declared || move_declared)) {
      no_default = other_constructor.empty()
                       ? std::string("it declares a ") + (copy_declared ? "copy" : "move") +
                             " constructor and no default constructor"
                       : "it declares the constructor '" + other_constructor + "' and no default constructor";
    }
    if (!copy_declared && move_declared) no_copy = "it declares a move constructor and no copy constructor";
    std::string type = name.substr(name.rfind("::") == std::string::npos ? 0 : name.rfind("::") + 2);
    type = type.substr(0, type.find('<'));
    if (!no_default.empty()) {
      error(c, "'" + name + "' cannot be default-constructed (" + no_default +
                   "): a generated hook rebuilds a received value by default-constructing it and setting its fields; "
                   "give it a public default constructor (`" + type + "() = default;`)");
    }
    if (!no_copy.empty()) {
      error(c, "'" + name + "' cannot be copied (" + no_copy +
                   "): brine copies values into and out of envelopes; give it a public copy constructor (`" + type +
                   "(const " + type + "&) = default;`)");
    }
    if (!no_destroy.empty()) {
      error(c, "'" + name + "' cannot be destroyed (" + no_destroy + "); give it a public destructor");
    }
    return no_default.empty() && no_copy.empty() && no_destroy.empty();
  }

  // A virtual function, or a copy/move constructor, copy/move assignment or destructor that is
  // not defaulted: what makes a struct not trivially copyable.
  static bool user_provided_special(CXCursor m) {
    const CXCursorKind kind = clang_getCursorKind(m);
    if (kind == CXCursor_CXXMethod || kind == CXCursor_Destructor) {
      if (clang_CXXMethod_isVirtual(m) != 0) return true;
    }
    if (kind == CXCursor_Destructor) return clang_CXXMethod_isDefaulted(m) == 0;
    if (kind == CXCursor_Constructor) {
      const bool copy_or_move =
          clang_CXXConstructor_isCopyConstructor(m) != 0 || clang_CXXConstructor_isMoveConstructor(m) != 0;
      return copy_or_move && clang_CXXMethod_isDefaulted(m) == 0;
    }
    if (kind == CXCursor_CXXMethod && spelling(m) == "operator=") return clang_CXXMethod_isDefaulted(m) == 0;
    return false;
  }

  bool build_field(Struct& s, CXCursor m) {
    const std::string name = spelling(m);
    const std::string what = "field '" + name + "' of '" + s.name.cxx() + "'";
    if (const CX_CXXAccessSpecifier access = clang_getCXXAccessSpecifier(m); access != CX_CXXPublic) {
      error(m, what + " is " + (access == CX_CXXPrivate ? "private" : "protected") +
                   ": generated hooks can only reach public fields; make the data public (a plain struct), or "
                   "write brine::Reducer<" + s.name.cxx() + "> by hand and do not mark the type BRINE_EXPOSE");
      return false;
    }
    if (clang_Cursor_isBitField(m) != 0) {
      error(m, what + " is a bit-field; use a plain integer field");
      return false;
    }
    const CXType written = clang_getCursorType(m);
    const CXType canonical = clang_getCanonicalType(written);
    std::string type_text = "'" + spelling(written) + "'";
    if (spelling(canonical) != spelling(written)) type_text += " (aka '" + spelling(canonical) + "')";
    if (clang_isConstQualifiedType(canonical) != 0) {
      error(m, what + " is const: it could not be assigned when the struct is rebuilt; drop the const");
      return false;
    }
    std::string why;
    const std::optional<TypeRef> type = resolve(canonical, why);
    if (!type) {
      error(m, what + " has type " + type_text + ": " + why);
      return false;
    }
    const std::set<std::string> marks = annotations(m);
    FieldPlacement placement = FieldPlacement::kAuto;
    if (marks.contains("brine::ref") && marks.contains("brine::copy")) {
      error(m, what + " is marked both BRINE_REF and BRINE_COPY; keep one");
      return false;
    }
    if (marks.contains("brine::ref")) placement = FieldPlacement::kReference;
    if (marks.contains("brine::copy")) placement = FieldPlacement::kCopy;
    if (placement != FieldPlacement::kAuto && !type->has_contiguous_data()) {
      error(m, std::string(placement == FieldPlacement::kReference ? "BRINE_REF" : "BRINE_COPY") + " on " + what +
                   " has no effect: only contiguous arithmetic data (std::vector<double>, std::array<float, N>, ...) "
                   "can travel by reference; drop the marker");
      return false;
    }
    Field field{name, *type, placement, location_of(m), "", ""};
    if (!field_default(m, field, what)) return false;
    s.fields.push_back(std::move(field));
    return true;
  }

  // The default member initializer of a scalar or enum field, which the schema declares as the
  // field's default (what a reader sees when the field is absent). It must be a constant.
  bool field_default(CXCursor m, Field& f, const std::string& what) {
    if (f.type.kind != TypeRef::Kind::kScalar && f.type.kind != TypeRef::Kind::kEnum) return true;
    CXCursor init = clang_getNullCursor();
    for_each_child(m, [&](CXCursor child) {
      if (clang_isExpression(clang_getCursorKind(child)) != 0) init = child;
    });
    if (clang_Cursor_isNull(init)) return true;  // none: zero
    // `x{}`, `x{v}`, `x = {v}`: the braces' one element, if any; for a class (a duration), its
    // constructor's one argument.
    const bool of_class = clang_getCanonicalType(clang_getCursorType(m)).kind == CXType_Record;
    while (clang_getCursorKind(init) == CXCursor_InitListExpr ||
           (of_class && clang_getCursorKind(init) == CXCursor_CallExpr)) {
      CXCursor element = clang_getNullCursor();
      int n = 0;
      for_each_child(init, [&](CXCursor child) {
        element = child;
        ++n;
      });
      if (n == 0) return true;  // `{}`: zero
      if (n != 1) break;
      init = element;
    }
    Scalar scalar = f.type.scalar;
    if (f.type.kind == TypeRef::Kind::kEnum) {
      for (const Enum& e : out_.header.enums) {
        if (e.name.cxx() == f.type.name) scalar = e.underlying;
      }
    }
    CXEvalResult result = clang_Cursor_Evaluate(init);
    const CXEvalResultKind kind = result != nullptr ? clang_EvalResult_getKind(result) : CXEval_UnExposed;
    std::optional<DefaultValue> value;
    if (kind == CXEval_Int) {
      value = clang_EvalResult_isUnsignedInt(result) != 0
                  ? DefaultValue::of(scalar, static_cast<uint64_t>(clang_EvalResult_getAsUnsigned(result)))
                  : DefaultValue::of(scalar, static_cast<int64_t>(clang_EvalResult_getAsLongLong(result)));
    } else if (kind == CXEval_Float) {
      value = DefaultValue::of(scalar, clang_EvalResult_getAsDouble(result));
    }
    if (result != nullptr) clang_EvalResult_dispose(result);
    if (!value) {
      error(m, "the default member initializer of " + what +
                   " is not a constant brine-codegen can evaluate, and the schema declares the field's default from "
                   "it (what a reader sees when the field is absent); initialize it with a constant expression (a "
                   "literal, an enumerator, a constexpr variable) or not at all");
      return false;
    }
    f.default_schema = value->schema;
    f.default_cxx = value->cxx;
    return true;
  }

  // Resolves a canonical field type to a TypeRef, or says in `why` what is wrong and what to do.
  std::optional<TypeRef> resolve(CXType t, std::string& why) {
    TypeRef r;
    if (std::optional<Scalar> s = scalar_of(t)) {
      r.scalar = *s;
      return r;
    }
    switch (t.kind) {
      case CXType_Pointer:
      case CXType_MemberPointer:
      case CXType_BlockPointer:
        why = "a raw pointer is an address in this process and means nothing in a worker; hold the value itself "
              "(a BRINE_EXPOSE struct, std::optional<T> or std::vector<T>)";
        return std::nullopt;
      case CXType_LValueReference:
      case CXType_RValueReference:
        why = "a reference member cannot be rebuilt in another process; hold the value itself";
        return std::nullopt;
      case CXType_ConstantArray:
      case CXType_IncompleteArray:
      case CXType_VariableArray:
        why = "C arrays are not supported; use std::array<T, N> (or std::vector<T>)";
        return std::nullopt;
      case CXType_Enum:
        if (const CXCursor decl = clang_getTypeDeclaration(t); in_std(decl) && spelling(decl) == "byte") {
          r.scalar = Scalar::kUInt8;  // std::byte is a ubyte
          return r;
        }
        return resolve_enum(t, why);
      case CXType_Record: return resolve_record(t, why);
      default: break;
    }
    why = "this type has no FlatBuffers equivalent; " + std::string(kSupported);
    return std::nullopt;
  }

  std::optional<TypeRef> resolve_enum(CXType t, std::string& why) {
    const CXCursor decl = clang_getTypeDeclaration(t);
    if (!exposed_.contains(take(clang_getCursorUSR(decl)))) {
      why = not_exposed(decl, "enum");
      return std::nullopt;
    }
    TypeRef r;
    r.kind = TypeRef::Kind::kEnum;
    r.name = qualified_name(decl, typedefs_).cxx();
    return r;
  }

  std::optional<TypeRef> resolve_element(CXType t, std::string& why) {
    const CXType element = clang_getCanonicalType(clang_Type_getTemplateArgumentAsType(t, 0));
    std::optional<TypeRef> r = resolve(element, why);
    if (!r) why = "its element type '" + spelling(element) + "' is not supported: " + why;
    return r;
  }

  std::optional<TypeRef> resolve_record(CXType t, std::string& why) {
    const CXCursor decl = clang_getTypeDeclaration(t);
    const CXCursor templ = clang_getSpecializedCursorTemplate(decl);
    if (!clang_Cursor_isNull(templ) && in_std(templ)) return resolve_std(t, spelling(templ), why);
    if (!clang_Cursor_isNull(templ) && in_chrono(templ)) return resolve_chrono(t, spelling(templ), why);
    if (clang_getCursorKind(decl) == CXCursor_UnionDecl) {
      why = "a union holds one of its members and nothing records which one is live, so brine-codegen cannot send "
            "it; hold the one member you use as a plain field instead";
      return std::nullopt;
    }
    if (!clang_Cursor_isNull(templ) && !exposed_.contains(take(clang_getCursorUSR(decl)))) {
      why = "'" + qualified_name(decl, typedefs_).cxx() + "' is an instantiation of the class template '" +
            spelling(templ) + "': brine-codegen exposes concrete types only; declare an explicit specialization "
            "`template <> struct BRINE_EXPOSE " + spelling(decl) + "<...> {...};` in this header, or use a plain "
            "BRINE_EXPOSE struct";
      return std::nullopt;
    }
    if (in_std(decl)) {
      why = "std::" + spelling(decl) + " is not supported in an exposed struct; " + std::string(kSupported);
      return std::nullopt;
    }
    if (!exposed_.contains(take(clang_getCursorUSR(decl)))) {
      why = not_exposed(decl, "struct");
      return std::nullopt;
    }
    TypeRef r;
    r.kind = TypeRef::Kind::kStruct;
    r.name = qualified_name(decl, typedefs_).cxx();
    return r;
  }

  std::optional<TypeRef> resolve_std(CXType t, const std::string& name, std::string& why) {
    TypeRef r;
    if (name == "basic_string") {
      const CXTypeKind c = clang_getCanonicalType(clang_Type_getTemplateArgumentAsType(t, 0)).kind;
      if (c == CXType_Char_S || c == CXType_Char_U) {  // plain char, signed or not
        r.kind = TypeRef::Kind::kString;
        return r;
      }
      why = "only std::string (of plain char) is supported; convert to a UTF-8 std::string";
      return std::nullopt;
    }
    if (name == "vector" || name == "array" || name == "optional") {
      std::optional<TypeRef> element = resolve_element(t, why);
      if (!element) return std::nullopt;
      const bool container = element->kind == TypeRef::Kind::kVector || element->kind == TypeRef::Kind::kArray;
      if (name != "optional" && container) {
        why = "FlatBuffers has no vectors of vectors; wrap the inner container in a BRINE_EXPOSE struct and hold a "
              "std::vector of that struct";
        return std::nullopt;
      }
      if (element->kind == TypeRef::Kind::kOptional) {
        why = "std::optional cannot be nested inside std::" + name +
              " in a schema; wrap it in a BRINE_EXPOSE struct with one std::optional field";
        return std::nullopt;
      }
      r.kind = name == "vector" ? TypeRef::Kind::kVector
             : name == "array"  ? TypeRef::Kind::kArray
                                : TypeRef::Kind::kOptional;
      if (r.kind == TypeRef::Kind::kArray) {
        // N as the type spells it ("std::array<float, 3>"): sizeof(std::array<T, 0>) is not 0,
        // and libclang 14 gives no template argument values of a type.
        const std::string text = spelling(t);
        r.length = std::strtoull(text.c_str() + text.rfind(',') + 1, nullptr, 10);
      }
      r.element = std::make_shared<const TypeRef>(std::move(*element));
      return r;
    }
    if (name == "function" || name == "move_only_function") {
      why = "a std::function cannot cross a process boundary; mark the function BRINE_TASK and send data that "
            "selects it (an enum) instead";
    } else if (name == "unique_ptr" || name == "shared_ptr" || name == "weak_ptr") {
      why = "a smart pointer owns memory of this process; hold the value itself, or std::optional<T>";
    } else if (name == "span" || name == "basic_string_view") {
      why = "a view does not own its data; hold a std::vector<T> or std::string (mark it BRINE_REF to send a "
            "large vector by reference)";
    } else if (name == "map" || name == "unordered_map" || name == "multimap" || name == "set" ||
               name == "unordered_set") {
      why = "std::" + name + " has no schema mapping yet; hold a std::vector of a BRINE_EXPOSE {key, value} struct";
    } else if (name == "pair" || name == "tuple" || name == "variant") {
      why = "std::" + name + " has no named fields for a schema; use a BRINE_EXPOSE struct";
    } else {
      why = "std::" + name + " is not supported in an exposed struct; " + std::string(kSupported);
    }
    return std::nullopt;
  }

  // std::chrono::duration travels as its count (its period is part of the C++ type, not the
  // bytes); a time_point has no fixed epoch across clocks, so it is refused with a hint.
  std::optional<TypeRef> resolve_chrono(CXType t, const std::string& name, std::string& why) {
    if (name == "duration") {
      const CXType rep = clang_getCanonicalType(clang_Type_getTemplateArgumentAsType(t, 0));
      std::optional<Scalar> s = scalar_of(rep);
      if (s && *s != Scalar::kBool) {
        TypeRef r;
        r.scalar = *s;
        return r;
      }
      why = "a std::chrono::duration travels as its count, and its count type '" + spelling(rep) +
            "' is not a fixed-width integer or floating-point type; use one";
      return std::nullopt;
    }
    why = name == "time_point"
              ? "a std::chrono::time_point is not supported; hold its time_since_epoch() as a std::chrono::duration "
                "field (e.g. std::chrono::nanoseconds) and rebuild the time_point from its clock"
              : "std::chrono::" + name + " is not supported in an exposed struct; " + std::string(kSupported);
    return std::nullopt;
  }

  // Why a user type that is not in this header's exposed set cannot be a field.
  std::string not_exposed(CXCursor decl, const std::string& what) {
    const std::string name = qualified_name(decl, typedefs_).cxx();
    if (annotations(decl).contains("brine::expose")) {
      return "'" + name + "' is exposed in another header (" + location_of(decl).file +
             "); brine-codegen reads one header at a time, so declare the types a struct holds in the same header";
    }
    if (what == "struct") {
      bool any_public = false;
      for_each_child(decl, [&](CXCursor m) {
        if (clang_getCursorKind(m) == CXCursor_FieldDecl && clang_getCXXAccessSpecifier(m) == CX_CXXPublic) {
          any_public = true;
        }
      });
      if (!any_public) {
        return "'" + name + "' is a class with no public fields, which generated hooks cannot read; make its data "
                            "public and mark it BRINE_EXPOSE, or pass it to tasks directly with a hand-written "
                            "brine::Reducer<" + name + ">";
      }
    }
    return what + " '" + name + "' is not exposed; mark its declaration BRINE_EXPOSE in this header";
  }

  void build_task(CXCursor c, std::map<std::string, SourceLocation>& names) {
    Task t;
    t.name = qualified_name(c);
    t.where = location_of(c);
    if (!check_name(c, t.name)) return;
    const std::string what = "task '" + t.name.cxx() + "'";
    if (auto [it, fresh] = names.emplace(t.name.cxx(), t.where); !fresh) {
      error(c, what + " is overloaded (also declared at " + it->second.file + ":" + std::to_string(it->second.line) +
                   "); a task's name must name one function: rename one overload");
      return;
    }
    if (clang_Cursor_getStorageClass(c) == CX_SC_Static) {
      error(c, what + " is static: each file would get its own copy and the registry could not find it; drop "
                      "`static` (use `inline` for a function defined in the header)");
      return;
    }
    const CXType type = clang_getCursorType(c);
    if (clang_isFunctionTypeVariadic(type) != 0) {
      error(c, what + " is variadic; give it a fixed parameter list");
      return;
    }
    t.result = cxx_spelling(clang_getResultType(type));
    bool ok = true;
    const int n = clang_Cursor_getNumArguments(c);
    for (int i = 0; i < n; ++i) {
      const CXCursor p = clang_Cursor_getArgument(c, static_cast<unsigned>(i));
      const CXType pt = clang_getCanonicalType(clang_getCursorType(p));
      std::string name = spelling(p);
      if (name.empty()) name = "arg" + std::to_string(i);
      const std::string param = "parameter '" + name + "' of " + what;
      if (pt.kind == CXType_LValueReference &&
          clang_isConstQualifiedType(clang_getPointeeType(pt)) == 0) {
        error(p, param + " is a non-const reference: a worker's changes cannot flow back; take it by const& or by "
                         "value and return the result");
        ok = false;
      } else if (pt.kind == CXType_RValueReference) {
        error(p, param + " is an rvalue reference; take it by value or by const&");
        ok = false;
      } else if (pt.kind == CXType_Pointer) {
        error(p, param + " is a raw pointer, which means nothing in a worker; take the value (or a std::span<const T> "
                         "for contiguous data)");
        ok = false;
      }
      t.params.push_back({name, cxx_spelling(pt)});
    }
    if (ok) out_.header.tasks.push_back(std::move(t));
  }

  ParseResult& out_;
  std::vector<CXCursor> records_;
  std::vector<CXCursor> enums_;
  std::vector<CXCursor> tasks_;
  std::set<std::string> seen_tasks_;
  std::map<std::string, CXCursor> exposed_;  // by USR
  std::map<std::string, std::string> typedefs_;  // the typedef naming an unnamed struct or enum, by its USR
};

struct IndexDeleter {
  void operator()(void* index) const { clang_disposeIndex(index); }
};
struct UnitDeleter {
  void operator()(CXTranslationUnitImpl* tu) const { clang_disposeTranslationUnit(tu); }
};

// The files the header read, system headers excepted: what a change to should regenerate.
std::vector<std::string> user_files(CXTranslationUnit tu) {
  struct Inclusions {
    CXTranslationUnit tu;
    std::set<std::string> files;
  } inclusions{tu, {}};
  clang_getInclusions(
      tu,
      [](CXFile file, CXSourceLocation*, unsigned, CXClientData data) {
        auto& inc = *static_cast<Inclusions*>(data);
        if (clang_Location_isInSystemHeader(clang_getLocation(inc.tu, file, 1, 1)) == 0) {
          inc.files.insert(take(clang_getFileName(file)));
        }
      },
      &inclusions);
  return {inclusions.files.begin(), inclusions.files.end()};
}

}  // namespace

ParseResult parse_header(const std::string& path, const std::vector<std::string>& clang_args) {
  ParseResult result;
  result.header.path = path;
  std::vector<std::string> args = {"-x", "c++", "-std=c++20", "-DBRINE_CODEGEN=1"};
  args.insert(args.end(), clang_args.begin(), clang_args.end());
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());

  std::unique_ptr<void, IndexDeleter> index(clang_createIndex(0, 0));
  CXTranslationUnit raw = nullptr;
  const CXErrorCode rc = clang_parseTranslationUnit2(index.get(), path.c_str(), argv.data(), static_cast<int>(argv.size()),
                                                     nullptr, 0, CXTranslationUnit_SkipFunctionBodies, &raw);
  std::unique_ptr<CXTranslationUnitImpl, UnitDeleter> tu(raw);
  if (rc != CXError_Success || !tu) {
    std::string command;
    for (const auto& a : args) command += " " + a;
    result.errors.push_back({{path, 0, 0}, "libclang could not parse the file (is it missing, or is an argument "
                                           "wrong?) with arguments:" + command});
    return result;
  }
  for (unsigned i = 0, n = clang_getNumDiagnostics(tu.get()); i < n; ++i) {
    CXDiagnostic d = clang_getDiagnostic(tu.get(), i);
    if (clang_getDiagnosticSeverity(d) >= CXDiagnostic_Error) {
      CXFile file = nullptr;
      unsigned line = 0;
      unsigned column = 0;
      clang_getSpellingLocation(clang_getDiagnosticLocation(d), &file, &line, &column, nullptr);
      result.errors.push_back({{take(clang_getFileName(file)), line, column}, take(clang_getDiagnosticSpelling(d))});
    }
    clang_disposeDiagnostic(d);
  }
  if (!result.errors.empty()) return result;  // the AST of a broken header would mislead

  HeaderParser parser(result);
  parser.collect(clang_getTranslationUnitCursor(tu.get()));
  parser.build();
  decide_layouts(result.header);
  for (Diagnostic& d : check_names(result.header)) result.errors.push_back(std::move(d));
  result.header.dependencies = user_files(tu.get());
  return result;
}

}  // namespace brine::codegen
