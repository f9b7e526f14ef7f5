#include "brine/core/codec.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>

namespace brine {

namespace detail {
uint32_t next_type_id() noexcept {
  static std::atomic<uint32_t> next{0};
  return next.fetch_add(1, std::memory_order_relaxed);
}
}  // namespace detail

void Encoder::reserve(std::size_t more) {
  constexpr std::size_t kSlack = 64 * 1024;  // the tables and the root written after it
  const std::size_t now = fbb_.GetSize();
  if (more >= kMaxEnvelopeSize || now + more + kSlack >= kMaxEnvelopeSize) {
    const std::size_t total = now + more + kSlack;
    throw NotSerializable("brine: writing " + std::to_string(more) + " more bytes would take the envelope to " +
                          std::to_string(total) + " bytes, " + std::to_string(total - kMaxEnvelopeSize + 1) +
                          " past FlatBuffers' limit of " + std::to_string(kMaxEnvelopeSize) +
                          " bytes; split the value, or send it through a pool, whose arena holds large buffers");
  }
}

flatbuffers::uoffset_t Encoder::contiguous(const void* data, std::size_t count, std::size_t elem_size,
                                           std::size_t align, Placement placement) {
  const std::size_t size = count * elem_size;
  if (placement == Placement::kAuto) placement = forced_;
  BufferSink* sink = options_.sink;
  if (sink != nullptr && placement != Placement::kCopy) {
    std::optional<fb::BufferRef> ref = sink->locate(data, size);
    if (!ref && (placement == Placement::kReference || size >= options_.reference_threshold)) {
      ref = sink->place(data, size, align);
      bytes_copied_ += size;
    }
    if (ref) {
      fbb_.StartVector(0, elem_size);
      const flatbuffers::uoffset_t at = fbb_.EndVector(0);
      refs_.emplace_back(at, *ref);
      return at;
    }
  } else if (placement == Placement::kReference && options_.large_alignment == 0) {
    throw NotSerializable("brine: brine::ref() needs a shared arena, and this encoder has none (" +
                          std::to_string(size) + " bytes); submit through a Pool, or use brine::copy()");
  }
  reserve(size + 64);
  // Without an arena (a dump), brine::ref() asks for the alignment of a large buffer.
  if ((size >= options_.reference_threshold || placement == Placement::kReference) && options_.large_alignment > align) {
    fbb_.PreAlign(size, options_.large_alignment);
  }
  // As CreateVectorOfStructs does: align to the element's alignment (a power of two), not to
  // its size (a 12-byte struct is 4-aligned).
  fbb_.StartVector(size / align, align);
  if (size != 0) fbb_.PushBytes(static_cast<const uint8_t*>(data), size);
  bytes_copied_ += size;
  return fbb_.EndVector(count);
}

flatbuffers::Offset<RefList> Encoder::finish_refs() {
  if (refs_.empty()) return 0;
  std::sort(refs_.begin(), refs_.end(),
            [](const fb::RefEntry& a, const fb::RefEntry& b) { return a.position() < b.position(); });
  const auto out = fbb_.CreateVectorOfStructs(refs_.data(), refs_.size());
  refs_.clear();
  return out;
}

std::optional<fb::BufferRef> Decoder::find_ref(const uint8_t* vec) const noexcept {
  if (refs_ == nullptr || vec < begin_ || vec >= end_) return std::nullopt;
  const auto position = static_cast<uint64_t>(end_ - vec);
  const uint8_t* entries = refs_->Data();
  const auto entry = [&](std::size_t i) {
    fb::RefEntry e;
    std::memcpy(static_cast<void*>(&e), entries + i * sizeof(fb::RefEntry), sizeof(fb::RefEntry));
    return e;
  };
  std::size_t lo = 0, hi = refs_->size();
  while (lo < hi) {  // lower bound on the sorted positions
    const std::size_t mid = lo + (hi - lo) / 2;
    if (entry(mid).position() < position) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == refs_->size()) return std::nullopt;
  const fb::RefEntry found = entry(lo);
  if (found.position() != position) return std::nullopt;
  return found.ref();
}

std::span<const std::byte> Decoder::contiguous(const uint8_t* vec, std::size_t elem_size, std::size_t align) const {
  const auto count = flatbuffers::ReadScalar<flatbuffers::uoffset_t>(vec);
  std::span<const std::byte> out(reinterpret_cast<const std::byte*>(vec + sizeof(flatbuffers::uoffset_t)),
                                 std::size_t{count} * elem_size);
  if (count == 0) {
    if (const std::optional<fb::BufferRef> r = find_ref(vec)) {
      if (source_ == nullptr) {
        throw DecodeError("brine: a value references a shared arena (block " + std::to_string(r->block()) +
                          ") but this decoder has none; load it through the pool that sent it");
      }
      out = source_->resolve(*r);
      if (out.size() % elem_size != 0) {
        throw DecodeError("brine: " + std::to_string(out.size()) + " bytes is not a whole number of " +
                          std::to_string(elem_size) + "-byte elements");
      }
    }
  }
  if (!out.empty() && reinterpret_cast<std::uintptr_t>(out.data()) % align != 0) {
    throw DecodeError("brine: contiguous data is not aligned to " + std::to_string(align) +
                      " bytes; decode from an aligned buffer (e.g. brine::load_mapped) or into a std::vector");
  }
  return out;
}

std::shared_ptr<const void> Decoder::pin(const uint8_t* vec) const {
  if (source_ == nullptr || vec == nullptr) return nullptr;
  const std::optional<fb::BufferRef> r = find_ref(vec);
  return r ? source_->pin(*r) : nullptr;
}

flatbuffers::Verifier Decoder::verifier() const {
  const auto size = static_cast<std::size_t>(end_ - begin_);
  return flatbuffers::Verifier(begin_, size, verifier_options(size));
}

void Decoder::throw_invalid(const char* what) const {
  throw DecodeError(std::string("brine: ") + what + " failed verification against its type (an offset, length, "
                    "alignment or nesting depth is out of bounds, in an envelope of " +
                    std::to_string(end_ - begin_) + " bytes); the bytes are corrupt or of another type");
}

}  // namespace brine
