#include "brine/core/codec.h"

#include <cstring>
#include <string>

namespace brine {

ValueRef Encoder::empty() { return fb::CreateValue(fbb_); }

ValueRef Encoder::scalar(uint64_t bits) {
  fb::ValueBuilder b(fbb_);
  b.add_scalar(bits);
  return b.Finish();
}

ValueRef Encoder::string(std::string_view s) {
  bytes_copied_ += s.size();
  auto str = fbb_.CreateString(s.data(), s.size());
  fb::ValueBuilder b(fbb_);
  b.add_str(str);
  return b.Finish();
}

ValueRef Encoder::bytes(const void* data, std::size_t size, std::size_t align, Placement placement) {
  if (placement == Placement::kAuto) placement = forced_;
  BufferSink* sink = options_.sink;
  if (sink != nullptr && placement != Placement::kCopy) {
    std::optional<fb::BufferRef> ref = sink->locate(data, size);
    if (!ref && (placement == Placement::kReference || size >= options_.reference_threshold)) {
      ref = sink->place(data, size, align);
      bytes_copied_ += size;
    }
    if (ref) {
      fb::ValueBuilder b(fbb_);
      b.add_ref(&*ref);
      return b.Finish();
    }
  } else if (placement == Placement::kReference) {
    throw NotSerializable("brine: brine::ref() needs a shared arena, and this encoder has none (" +
                          std::to_string(size) + " bytes); submit through a Pool, or use brine::copy()");
  }
  fbb_.ForceVectorAlignment(size, 1, align < 4 ? 4 : align);
  auto vec = fbb_.CreateVector(static_cast<const uint8_t*>(data), size);
  bytes_copied_ += size;
  fb::ValueBuilder b(fbb_);
  b.add_bytes(vec);
  return b.Finish();
}

ValueRef Encoder::items(std::span<const ValueRef> children, uint32_t tag) {
  auto vec = fbb_.CreateVector(children.data(), children.size());
  fb::ValueBuilder b(fbb_);
  b.add_items(vec);
  if (tag != 0) b.add_tag(tag);
  return b.Finish();
}

ValueRef Encoder::items_since(std::size_t mark, uint32_t tag) {
  ValueRef out = items(std::span<const ValueRef>(stack_.data() + mark, stack_.size() - mark), tag);
  stack_.resize(mark);
  return out;
}

flatbuffers::Offset<ValueList> Encoder::list_since(std::size_t mark) {
  auto out = fbb_.CreateVector(stack_.data() + mark, stack_.size() - mark);
  stack_.resize(mark);
  return out;
}

void Decoder::not_a_scalar() {
  throw DecodeError("brine: expected a scalar value, found a string, array or composite");
}

std::string_view Decoder::string(const fb::Value& v) const {
  const flatbuffers::String* s = v.str();
  if (s == nullptr) throw DecodeError("brine: expected a string value, found none");
  return {s->data(), s->size()};
}

std::span<const std::byte> Decoder::bytes(const fb::Value& v, std::size_t elem_size, std::size_t align) const {
  std::span<const std::byte> out;
  if (const auto* b = v.bytes()) {
    out = {reinterpret_cast<const std::byte*>(b->data()), b->size()};
  } else if (const fb::BufferRef* r = v.ref()) {
    if (source_ == nullptr) {
      throw DecodeError("brine: a value references a shared arena (block " + std::to_string(r->block()) +
                        ") but this decoder has none; load it through the pool that sent it");
    }
    out = source_->resolve(*r);
  } else {
    throw DecodeError("brine: expected contiguous data, found a different kind of value");
  }
  if (out.size() % elem_size != 0) {
    throw DecodeError("brine: " + std::to_string(out.size()) + " bytes is not a whole number of " +
                      std::to_string(elem_size) + "-byte elements");
  }
  if (reinterpret_cast<std::uintptr_t>(out.data()) % align != 0) {
    throw DecodeError("brine: contiguous data is not aligned to " + std::to_string(align) +
                      " bytes; decode from an aligned buffer (e.g. brine::load_mapped) or into a std::vector");
  }
  return out;
}

const ValueList& Decoder::items(const fb::Value& v, std::size_t expected) const {
  const ValueList* list = v.items();
  if (list == nullptr) throw DecodeError("brine: expected a composite value, found a different kind of value");
  if (expected != SIZE_MAX && list->size() != expected) {
    throw DecodeError("brine: expected " + std::to_string(expected) + " items, found " + std::to_string(list->size()));
  }
  return *list;
}

const fb::Value& Decoder::item(const ValueList& list, std::size_t i) const {
  const fb::Value* v = list.Get(static_cast<flatbuffers::uoffset_t>(i));
  if (v == nullptr) throw DecodeError("brine: item " + std::to_string(i) + " is missing");
  return *v;
}

}  // namespace brine
