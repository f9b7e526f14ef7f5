// Encoder and Decoder: the two ends of a reduce hook.
//
// An Encoder writes values as fb::Value tables into a FlatBufferBuilder; a Decoder reads them
// back. Every value goes through brine::Reducer<T> (reducer.h) unless a ReducerTable passed in
// the options overrides T. Contiguous arithmetic data is either copied into the envelope or
// referenced in a shared arena (BufferSink/BufferSource), by size or as forced by
// brine::copy()/brine::ref().
//
// Thread safety: an Encoder or Decoder is used by one thread at a time. Decoded spans and
// string_views point into the envelope or the arena: they are valid while those are.
#pragma once

#include <any>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <typeindex>
#include <unordered_map>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "brine/core/buffers.h"
#include "brine/core/error.h"

namespace brine {

using ValueRef = flatbuffers::Offset<fb::Value>;
using ValueList = flatbuffers::Vector<flatbuffers::Offset<fb::Value>>;

class Encoder;
class Decoder;

// Per-pool (or per-call) reduce hooks that take precedence over brine::Reducer<T>, like loky's
// `reducers=` argument: two pools can treat one type differently.
class ReducerTable {
 public:
  template <class T>
  using EncodeFn = std::function<ValueRef(Encoder&, const T&)>;
  template <class T>
  using DecodeFn = std::function<T(const Decoder&, const fb::Value&)>;

  template <class T>
  void add(EncodeFn<T> encode, DecodeFn<T> decode) {
    hooks_[std::type_index(typeid(T))] = Hooks<T>{std::move(encode), std::move(decode)};
  }
  bool empty() const noexcept { return hooks_.empty(); }

  template <class T>
  struct Hooks {
    EncodeFn<T> encode;
    DecodeFn<T> decode;
  };
  template <class T>
  const Hooks<T>* find() const {
    auto it = hooks_.find(std::type_index(typeid(T)));
    return it == hooks_.end() ? nullptr : std::any_cast<Hooks<T>>(&it->second);
  }

 private:
  std::unordered_map<std::type_index, std::any> hooks_;
};

struct EncodeOptions {
  std::size_t reference_threshold = kDefaultReferenceThreshold;
  BufferSink* sink = nullptr;              // no sink: everything is copied
  const ReducerTable* reducers = nullptr;  // overrides, consulted before brine::Reducer<T>
};

class Encoder {
 public:
  explicit Encoder(flatbuffers::FlatBufferBuilder& fbb, EncodeOptions options = {})
      : fbb_(fbb), options_(options) {}
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  // Encodes v through its reduce hook.
  template <class T>
  ValueRef encode(const T& v);

  ValueRef empty();
  ValueRef scalar(uint64_t bits);
  ValueRef string(std::string_view s);
  // Contiguous bytes aligned to `align` once decoded; copied or referenced by `placement`
  // (kAuto: the forced placement of an enclosing copy()/ref(), else by size).
  ValueRef bytes(const void* data, std::size_t size, std::size_t align, Placement placement = Placement::kAuto);
  // A composite. Children must be encoded first; `tag` marks optionals and variants.
  ValueRef items(std::span<const ValueRef> children, uint32_t tag = 0);
  template <class... Refs>
  ValueRef items_of(uint32_t tag, Refs... children) {
    const ValueRef list[] = {children...};
    return items(std::span<const ValueRef>(list, sizeof...(Refs)), tag);
  }

  // Scratch stack for composites of dynamic length: mark(), push() each child, then
  // items_since(mark) builds the composite and pops the children. Avoids a vector per value.
  std::size_t mark() const noexcept { return stack_.size(); }
  void push(ValueRef child) { stack_.push_back(child); }
  ValueRef items_since(std::size_t mark, uint32_t tag = 0);
  // The same children as a bare list (the arguments of a task), popped likewise.
  flatbuffers::Offset<ValueList> list_since(std::size_t mark);
  // Drops children pushed since `mark` (after an exception abandoned a composite).
  void discard_since(std::size_t mark) { stack_.resize(mark < stack_.size() ? mark : stack_.size()); }

  // Forces the placement of contiguous data encoded until the returned guard dies.
  class PlacementScope {
   public:
    PlacementScope(Encoder& e, Placement p) : e_(e), saved_(e.forced_) { e.forced_ = p; }
    ~PlacementScope() { e_.forced_ = saved_; }
    PlacementScope(const PlacementScope&) = delete;
    PlacementScope& operator=(const PlacementScope&) = delete;

   private:
    Encoder& e_;
    Placement saved_;
  };

  flatbuffers::FlatBufferBuilder& builder() noexcept { return fbb_; }
  const EncodeOptions& options() const noexcept { return options_; }
  // Bytes this encoder copied (into the envelope or into new arena blocks): the framework's
  // byte-copy counter. Buffers found already in the arena cost nothing here.
  std::size_t bytes_copied() const noexcept { return bytes_copied_; }

 private:
  flatbuffers::FlatBufferBuilder& fbb_;
  EncodeOptions options_;
  Placement forced_ = Placement::kAuto;
  std::size_t bytes_copied_ = 0;
  std::vector<ValueRef> stack_;
};

class Decoder {
 public:
  explicit Decoder(const BufferSource* source = nullptr, const ReducerTable* reducers = nullptr)
      : source_(source), reducers_(reducers) {}

  // Rebuilds a T through its reduce hook. Throws brine::DecodeError on a missing or
  // ill-shaped value.
  template <class T>
  T decode(const fb::Value* v) const;

  // A scalar; a value of another kind (string, bytes, composite, reference) is a DecodeError.
  uint64_t scalar(const fb::Value& v) const {
    if (v.str() != nullptr || v.bytes() != nullptr || v.items() != nullptr || v.ref() != nullptr) not_a_scalar();
    return v.scalar();
  }
  std::string_view string(const fb::Value& v) const;
  // Contiguous data from `bytes` or `ref`, checked to be whole elements of `elem_size` and
  // aligned to `align`.
  std::span<const std::byte> bytes(const fb::Value& v, std::size_t elem_size, std::size_t align) const;
  // The children of a composite; checks the count when `expected` is given.
  const ValueList& items(const fb::Value& v, std::size_t expected = SIZE_MAX) const;
  const fb::Value& item(const ValueList& list, std::size_t i) const;

  template <class T>
  std::span<const T> array(const fb::Value& v) const {
    auto b = bytes(v, sizeof(T), alignof(T));
    return {reinterpret_cast<const T*>(b.data()), b.size() / sizeof(T)};
  }

  // Keeps a referenced value's bytes alive beyond the envelope (see BufferSource::pin);
  // nullptr for copied values.
  std::shared_ptr<const void> pin(const fb::Value& v) const {
    return source_ != nullptr && v.ref() != nullptr ? source_->pin(*v.ref()) : nullptr;
  }

  const BufferSource* source() const noexcept { return source_; }

 private:
  [[noreturn]] static void not_a_scalar();
  const BufferSource* source_;
  const ReducerTable* reducers_;
};

}  // namespace brine
