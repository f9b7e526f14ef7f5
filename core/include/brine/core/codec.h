// Encoder and Decoder: the two ends of a reduce hook.
//
// The wire is the schema. An Encoder writes every value in its own FlatBuffers layout into a
// FlatBufferBuilder: a scalar as itself, a plain struct of scalars as a FlatBuffers struct, a
// string as a string, contiguous data as a vector, a composite as a table whose field i is its
// member i. brine::Reducer<T> (reducer.h) says which; brine::schema_of<T>() prints the schema
// that describes the bytes, so any FlatBuffers reader can read them.
//
// Contiguous data (vectors of scalars or structs) is either copied into the envelope or placed
// in a shared arena (BufferSink/BufferSource) by size, or as forced by brine::copy()/ref(). A
// placed vector is written as an empty vector of its element type, and the Encoder records its
// position with the arena reference; the envelope carries that list (fb::RefEntry), and the
// Decoder resolves the vector through it. A dump has no arena: everything is inside it.
//
// Thread safety: an Encoder or Decoder is used by one thread at a time. Decoded spans and
// string_views point into the envelope or the arena: they are valid while those are.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "brine/core/buffers.h"
#include "brine/core/error.h"

namespace brine {

class Encoder;
class Decoder;
using Verifier = flatbuffers::Verifier;
using RefList = flatbuffers::Vector<const fb::RefEntry*>;

namespace detail {
// A small dense id per C++ type, assigned on first use in this process: ReducerTable lookups
// are an index, not a hash.
uint32_t next_type_id() noexcept;
template <class T>
uint32_t type_id() noexcept {
  static const uint32_t id = next_type_id();
  return id;
}
}  // namespace detail

// Per-pool (or per-call) reduce hooks that take precedence over brine::Reducer<T>, like loky's
// `reducers=` argument: two pools can treat one type differently. An override changes values,
// never the layout: it maps a T to and from the type the global Reducer<T> writes it as
// (brine::reduced_t<T>: the `As` of a reduce-to hook, else T itself), so every pool's bytes
// follow the same schema. Lookups are by a dense per-type index (no hashing per value).
class ReducerTable {
 public:
  template <class T, class R>
  void add(std::function<R(const T&)> reduce, std::function<T(const R&)> rebuild) {
    const uint32_t id = detail::type_id<T>();
    if (hooks_.size() <= id) hooks_.resize(id + 1);
    hooks_[id] = std::make_shared<Hooks<T, R>>(Hooks<T, R>{std::move(reduce), std::move(rebuild)});
  }
  bool empty() const noexcept { return hooks_.empty(); }

  template <class T, class R>
  struct Hooks {
    std::function<R(const T&)> reduce;
    std::function<T(const R&)> rebuild;
  };
  template <class T, class R>
  const Hooks<T, R>* find() const noexcept {
    const uint32_t id = detail::type_id<T>();
    return id < hooks_.size() ? static_cast<const Hooks<T, R>*>(hooks_[id].get()) : nullptr;
  }

 private:
  std::vector<std::shared_ptr<void>> hooks_;
};

struct EncodeOptions {
  std::size_t reference_threshold = kDefaultReferenceThreshold;
  BufferSink* sink = nullptr;              // no sink: everything is copied
  const ReducerTable* reducers = nullptr;  // overrides, consulted before brine::Reducer<T>
  // Without a sink (a dump), copied vectors of reference_threshold bytes or more start aligned
  // to this, so a mapped dump decodes them in place. 0: aligned to their element only.
  std::size_t large_alignment = 0;
};

// Limits that hold when writing and when reading: dumps never write what loads refuses.
inline constexpr std::size_t kMaxDepth = 64;        // nesting of tables and vectors of tables
inline constexpr std::size_t kMaxEnvelopeSize = FLATBUFFERS_MAX_BUFFER_SIZE;  // 2 GiB - 1

namespace detail {
// The builder's bytes, which FlatBufferBuilder keeps protected: a pointer to a protected member
// may be formed in a derived class and used on any builder.
struct BuilderBytes : flatbuffers::FlatBufferBuilder {
  static flatbuffers::vector_downward& of(flatbuffers::FlatBufferBuilder& b) noexcept {
    return b.*(&BuilderBytes::buf_);
  }
};
}  // namespace detail

class Encoder {
 public:
  explicit Encoder(flatbuffers::FlatBufferBuilder& fbb, EncodeOptions options = {})
      : fbb_(fbb), options_(options), overrides_(options.reducers != nullptr && !options.reducers->empty()
                                                     ? options.reducers
                                                     : nullptr) {}
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  // Contiguous elements of `elem_size` bytes aligned to `align`, as a vector: copied into the
  // envelope or placed in the arena (kAuto: the forced placement of an enclosing copy()/ref(),
  // else by size). Returns the vector's offset.
  flatbuffers::uoffset_t contiguous(const void* data, std::size_t count, std::size_t elem_size, std::size_t align,
                                    Placement placement = Placement::kAuto);
  // Throws NotSerializable if `more` bytes would take the envelope past FlatBuffers' limit.
  void reserve(std::size_t more);
  // The references recorded so far, as the envelope's sorted RefEntry vector (0 if none).
  flatbuffers::Offset<RefList> finish_refs();
  bool has_refs() const noexcept { return !refs_.empty(); }

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
  // Counts nesting; throws NotSerializable past kMaxDepth (the verifier would refuse it).
  class Nest {
   public:
    explicit Nest(Encoder& e) : e_(e) {
      if (++e.depth_ > kMaxDepth) {
        --e.depth_;
        throw NotSerializable("brine: a value nests tables deeper than " + std::to_string(kMaxDepth) +
                              " levels, which no reader would accept; flatten the structure");
      }
    }
    ~Nest() { --e_.depth_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;

   private:
    Encoder& e_;
  };

  // Ends the table the builder has open (FlatBufferBuilder::StartTable at `start`) and returns
  // its position. Its vtable is shared with an equal one this encoder wrote among its last
  // few, not searched for among all of the buffer's as FlatBufferBuilder::EndTable does: that
  // search compares every table's new vtable at once with wide loads, which stall on the
  // narrow stores that just wrote it (a third of encoding a vector of small tables).
  flatbuffers::uoffset_t end_table(flatbuffers::uoffset_t start);

  flatbuffers::FlatBufferBuilder& builder() noexcept { return fbb_; }
  const EncodeOptions& options() const noexcept { return options_; }
  // Overrides in effect, or nullptr (none, or an empty table).
  const ReducerTable* overrides() const noexcept { return overrides_; }
  // Bytes this encoder copied (into the envelope or into new arena blocks): the framework's
  // byte-copy counter. Buffers found already in the arena cost nothing here.
  std::size_t bytes_copied() const noexcept { return bytes_copied_; }
  void count_copied(std::size_t n) noexcept { bytes_copied_ += n; }

 private:
  flatbuffers::FlatBufferBuilder& fbb_;
  EncodeOptions options_;
  const ReducerTable* overrides_;
  Placement forced_ = Placement::kAuto;
  std::size_t bytes_copied_ = 0;
  std::size_t depth_ = 0;
  std::vector<fb::RefEntry> refs_;
  std::array<flatbuffers::uoffset_t, 4> vtables_{};  // positions of the last vtables written
  std::size_t next_vtable_ = 0;
};

inline flatbuffers::uoffset_t Encoder::end_table(flatbuffers::uoffset_t start) {
  using flatbuffers::uoffset_t;
  using flatbuffers::voffset_t;
  fbb_.DedupVtables(false);
  const uoffset_t table = fbb_.EndTable(start);
  fbb_.DedupVtables(true);
  // The new vtable is the builder's front: its first entry is its size in bytes.
  const uint8_t* vt = fbb_.GetCurrentBufferPointer();
  const auto bytes = flatbuffers::ReadScalar<voffset_t>(vt);
  const uoffset_t size = fbb_.GetSize();
  const uint8_t* end = vt + size;
  for (const uoffset_t at : vtables_) {
    // Only bytes written before this table began: they never change again.
    if (at < bytes || at > start) continue;
    // Entry by entry: each load matches the store that wrote it.
    const uint8_t* other = end - at;
    std::size_t i = 0;
    while (i < bytes && flatbuffers::ReadScalar<voffset_t>(other + i) == flatbuffers::ReadScalar<voffset_t>(vt + i)) {
      i += sizeof(voffset_t);
    }
    if (i == bytes) {
      // Drop the new vtable, and the note EndTable keeps of it for later de-duplication
      // (its last scratch entry), which would otherwise name bytes that are gone.
      auto& buf = detail::BuilderBytes::of(fbb_);
      buf.pop(bytes);
      buf.scratch_pop(sizeof(uoffset_t));
      flatbuffers::WriteScalar<flatbuffers::soffset_t>(
          fbb_.GetCurrentBufferPointer() + (fbb_.GetSize() - table),
          static_cast<flatbuffers::soffset_t>(at) - static_cast<flatbuffers::soffset_t>(table));
      return table;
    }
  }
  vtables_[next_vtable_] = size;
  next_vtable_ = (next_vtable_ + 1) % vtables_.size();
  return table;
}

class Decoder {
 public:
  explicit Decoder(const BufferSource* source = nullptr, const ReducerTable* reducers = nullptr)
      : source_(source), overrides_(reducers != nullptr && !reducers->empty() ? reducers : nullptr) {}

  // The envelope being decoded: its end (vector positions are counted back from it) and its
  // arena references. Without it, a vector is always its own data.
  void set_envelope(const uint8_t* begin, std::size_t size, const RefList* refs) noexcept {
    begin_ = begin;
    end_ = begin + size;
    refs_ = refs != nullptr && refs->size() != 0 ? refs : nullptr;
  }
  // A verifier over the envelope (see verifier_options).
  flatbuffers::Verifier verifier() const;
  // Runs `verify` over the envelope's object at `p`; a failure is a DecodeError naming `what`.
  template <class F>
  void require(F&& verify, const char* what) const {
    flatbuffers::Verifier v = verifier();
    if (!verify(v)) throw_invalid(what);
  }

  // The elements of a verified vector at `vec` (its length word), or the arena bytes it stands
  // for; checked to be whole elements and aligned to `align`.
  std::span<const std::byte> contiguous(const uint8_t* vec, std::size_t elem_size, std::size_t align) const;
  // Keeps a referenced vector's bytes alive beyond the envelope (see BufferSource::pin);
  // nullptr for copied vectors.
  std::shared_ptr<const void> pin(const uint8_t* vec) const;

  const BufferSource* source() const noexcept { return source_; }
  const ReducerTable* overrides() const noexcept { return overrides_; }

 private:
  // The arena reference the envelope lists for the vector at `vec`, if any. Entries are copied
  // out byte-wise: a hostile envelope may misalign the list.
  std::optional<fb::BufferRef> find_ref(const uint8_t* vec) const noexcept;
  const BufferSource* source_;
  const ReducerTable* overrides_;
  [[noreturn]] void throw_invalid(const char* what) const;
  const uint8_t* begin_ = nullptr;
  const uint8_t* end_ = nullptr;
  const RefList* refs_ = nullptr;
};

// Verifier options shared by every envelope and dump: depth as written, and a table budget
// proportional to the buffer (a buffer cannot hold more distinct tables than that; shared
// sub-tables are bounded the same way). Inline: it runs before every decode.
inline flatbuffers::Verifier::Options verifier_options(std::size_t buffer_size) {
  flatbuffers::Verifier::Options opts;
  opts.max_depth = static_cast<flatbuffers::uoffset_t>(kMaxDepth + 8);  // + envelope frames and boxes
  // A table takes at least 4 bytes: more visits than that means shared sub-tables, bounded
  // here so that verification stays linear in the buffer's size.
  opts.max_tables = static_cast<flatbuffers::uoffset_t>(buffer_size / 4 > 1024 ? buffer_size / 4 : 1024);
  opts.check_alignment = true;
  return opts;
}

}  // namespace brine
