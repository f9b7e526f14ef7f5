// Standalone serialization: brine's envelopes without a pool, as Python has pickle.dumps /
// pickle.loads, dill.dump and loky's dumps(obj, reducers=...). Use it to persist a value or a
// call and run it later, to send one over a channel of your own, or to measure what
// serialization costs.
//
//   brine::Bytes bytes = brine::dumps(shape);             // a FlatBuffer of Shape's own schema
//   Shape back = brine::loads<Shape>(bytes);
//
//   brine::dump(samples, "samples.brn");                   // a std::vector<double> of 1 GiB
//   auto m = brine::load_mapped<std::span<const double>>("samples.brn");
//   double first = (*m)[0];                                // reads the mapped file: no copy
//
//   brine::dump_call("job.brn", norm, xs);                 // a registered function or closure
//   brine::Call call = brine::load_call("job.brn");        // later, in any process of a binary
//   double r = call.run<double>();                         // that registers the same name
//
// Format: a FlatBuffer of the value's own schema (brine::schema_of<T>() prints it): its root is
// T's table (a value that is not a table stands in a one-field table), its file identifier
// that of the schema. Any FlatBuffers reader built from that schema reads it; brine::loads
// reads any such buffer, also one written by another FlatBuffers writer. After the value brine
// appends a small fb::DumpInfo table (core/schema/blob.fbs: kFormatVersion, the type's name and
// shape) that no reader of T sees, and ends the buffer with its position and "BRN2". Values go
// through the same reduce hooks as in a pool: brine::Reducer<T>, overridden per call by an
// optional ReducerTable. There is no shared arena: everything is inside the dump, and vectors
// of kBlobBufferThreshold bytes or more start kBlobBufferAlignment-aligned, so a mapped dump
// decodes into spans without copying. A call's dump is the table of its function's signature
// (field i is argument i), with the function's name in the DumpInfo.
//
// Verification first: loads, load, load_mapped and load_call check the size, the address
// alignment, the file identifier, the format version and the type's shape (a dump of an older
// or newer version of T that only adds fields at the end of its tables is accepted; any other
// difference is refused, naming both types), then run a verifier built from T's hooks. A failure throws brine::DecodeError naming the check and, where
// it is known, the byte offset. Decoding then checks every value's shape (DecodeError again).
// No input, however corrupt, causes undefined behaviour. Writing or reading a file throws
// std::filesystem::filesystem_error; a stream, std::ios_base::failure.
//
// Ownership: loads<T>(bytes) may return views (std::span, std::string_view) into `bytes`: keep
// them alive as long as the value. load<T> frees its bytes before returning, so its T must own
// its data (top-level and std-container views are rejected at compile time; a view inside
// your own struct is not detected). load_mapped<T> returns a Mapped<T> that owns the mapping
// its value points into. dumps/dump copy everything they need: the value may change afterwards.
//
// Thread safety: every function here is reentrant; concurrent calls are safe while no thread
// modifies a ReducerTable they share. Mapped<T> and Call are values: const access from several
// threads is safe, anything else needs the usual external synchronization.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "brine/core/blob_generated.h"
#include "brine/core/schema.h"
#include "brine/core/call.h"
#include "brine/core/closure.h"

namespace brine {

// Version of the dump layout. Bumped when a dump written by one brine cannot be read by the
// other; loads rejects any other version with a DecodeError.
inline constexpr uint32_t kFormatVersion = 2;
// Vectors at least this large start kBlobBufferAlignment-aligned (a cache line: SIMD-friendly
// once mapped). Smaller ones are aligned to their element.
inline constexpr std::size_t kBlobBufferThreshold = 4096;
inline constexpr std::size_t kBlobBufferAlignment = 64;

// The bytes of a dump: owns the builder's memory (no copy after writing). Converts to a span;
// also to a std::vector<std::byte>, which copies.
class Bytes {
 public:
  Bytes() = default;
  explicit Bytes(flatbuffers::DetachedBuffer buffer) : buffer_(std::move(buffer)) {}
  const std::byte* data() const noexcept { return reinterpret_cast<const std::byte*>(buffer_.data()); }
  std::byte* data() noexcept { return reinterpret_cast<std::byte*>(buffer_.data()); }
  std::size_t size() const noexcept { return buffer_.size(); }
  bool empty() const noexcept { return size() == 0; }
  const std::byte* begin() const noexcept { return data(); }
  const std::byte* end() const noexcept { return data() + size(); }
  std::span<const std::byte> span() const noexcept { return {data(), size()}; }
  operator std::span<const std::byte>() const noexcept { return span(); }
  operator std::vector<std::byte>() const { return {begin(), end()}; }
  friend bool operator==(const Bytes& a, const Bytes& b) noexcept {
    return a.size() == b.size() && (a.size() == 0 || std::memcmp(a.data(), b.data(), a.size()) == 0);
  }

 private:
  flatbuffers::DetachedBuffer buffer_;
};

namespace detail {

// The allocator of every dump's buffer. It keeps the last freed buffer of 1 to 256 MiB and hands
// it to the next dump that needs between half of it and all of it: a loop that dumps large values
// writes into pages that are already mapped, where a fresh buffer from malloc (glibc maps
// anything that large afresh) spent a third of a 75 MB dump faulting pages in. At most one
// buffer is kept per process; it is released when a larger one replaces it. Each thread also
// keeps the last smaller buffer it freed, for its next small dump.
flatbuffers::Allocator& dump_allocator() noexcept;

// A FlatBufferBuilder that can make room ahead.
class GrowableBuilder : public flatbuffers::FlatBufferBuilder {
 public:
  GrowableBuilder() : flatbuffers::FlatBufferBuilder(1024, &dump_allocator(), false) {}
  void reserve(std::size_t bytes) { buf_.ensure_space(bytes); }
};

// What a dump says of itself (fb::DumpInfo).
struct DumpFacts {
  std::string_view type_name;
  std::string_view descriptor;
  std::string_view function_name;  // calls only
  uint64_t function_id = 0;
  uint64_t signature = 0;
  std::string_view result_descriptor;
};

// The end of every dump of one type: the DumpInfo and the trailer, byte for byte the same in
// each (a FlatBuffer is written from its end, so what is written first lands at the same place).
// Built once per type: a dump of the type starts by copying it, and a load that finds it at the
// end of its input knows the DumpInfo without verifying and comparing it.
struct DumpTail {
  std::vector<uint8_t> bytes;
  std::size_t min_align = 1;        // the builder's alignment after writing it
  flatbuffers::uoffset_t info = 0;  // the DumpInfo's position, counted from the end
};
DumpTail make_dump_tail(const DumpFacts& facts);

// Builds one dump: the DumpInfo first (it lands at the end), then the value, then the root.
class DumpWriter {
 public:
  // `expected`: the size the dump will probably have (its type's previous dump), reserved up
  // front so that a large dump is not copied by the builder as it grows.
  DumpWriter(const ReducerTable* reducers, const DumpFacts& facts, std::size_t expected = 0);
  // The same, from the type's precomputed tail.
  DumpWriter(const ReducerTable* reducers, const DumpTail& tail, std::size_t expected = 0);
  Encoder& encoder() noexcept { return encoder_; }
  // Finishes around the root table; checks the size limit.
  Bytes finish(flatbuffers::uoffset_t root, const std::string& identifier);

 private:
  DumpWriter(const ReducerTable* reducers, std::size_t expected);
  GrowableBuilder fbb_;
  Encoder encoder_;
  flatbuffers::uoffset_t info_ = 0;
};

// A dump's verified header: the root table, and the DumpInfo if brine wrote one.
struct DumpView {
  const uint8_t* root = nullptr;
  const fb::DumpInfo* info = nullptr;
};
// The checks every dump passes before decoding: size, alignment, identifier (`identifier`,
// or any when empty), format version, the shape against `descriptor` (by hash, then by the
// evolution rule). Throws DecodeError naming the check. A dump ending with `tail` (the type's
// own) has a DumpInfo known to pass them.
DumpView open_dump(std::span<const std::byte> bytes, const std::string& identifier, const std::string& descriptor,
                   const std::string& type_name, const DumpTail* tail = nullptr);
// A DecodeError for a dump whose root failed its typed verifier.
[[noreturn]] void reject_root(std::span<const std::byte> bytes, const std::string& type_name);

// The type a value is stored as: brine::copy(x) and brine::ref(x) store x's type.
template <class T>
struct Unplaced {
  using type = T;
};
template <class T>
struct Unplaced<Placed<T>> {
  using type = T;
};

// What dumps and loads check a T against, computed once per type.
struct TypeFacts {
  TypeFacts(SchemaFacts s, std::string n)
      : schema(std::move(s)), name(std::move(n)), tail(make_dump_tail(DumpFacts{name, schema.descriptor, {}, 0, 0, {}})) {}
  SchemaFacts schema;
  std::string name;  // type_signature<T>()
  DumpTail tail;
};
template <class T>
const TypeFacts& facts_of() {
  static const TypeFacts facts{schema_facts<T>(), type_signature<T>()};
  return facts;
}

template <class T>
Bytes value_blob(const T& value, const ReducerTable* reducers) {
  using Stored = typename Unplaced<T>::type;
  const TypeFacts& f = facts_of<Stored>();
  static std::atomic<std::size_t> last_size{0};
  DumpWriter w(reducers, f.tail, last_size.load(std::memory_order_relaxed));
  Bytes out = w.finish(write_root<T>(w.encoder(), value), f.schema.identifier);
  last_size.store(out.size(), std::memory_order_relaxed);
  return out;
}

// `info` if a call of it may go to a file; NotSerializable for a lambda sent by value.
const FunctionInfo& dumpable(const FunctionInfo& info);

// A call of any callable CallableTraits knows: a registered function, brine::partial, a
// registered functor. A by-value lambda is refused: its code is named by an offset in this
// binary image, meaningless to any other build.
template <class C, class... A>
Bytes call_blob(const C& callable, const A&... args) {
  using Traits = CallableTraits<C>;
  using Result = std::decay_t<typename Traits::Result>;
  const FunctionInfo& info = dumpable(Traits::info(callable));
  DumpWriter w(nullptr, DumpFacts{type_signature<Result>(), info.args_descriptor(), info.name, info.id, info.signature,
                                  info.result_descriptor()});
  const EncodedCall call = encode_call(w.encoder(), callable, args...);
  return w.finish(call.call, identifier_for(call_table_name(info.name)));
}

template <class T>
T decode_blob(std::span<const std::byte> bytes, const ReducerTable* reducers) {
  const TypeFacts& f = facts_of<T>();
  const DumpView view = open_dump(bytes, f.schema.identifier, f.schema.descriptor, f.name, &f.tail);
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  Decoder d(nullptr, reducers);
  d.set_envelope(data, bytes.size(), nullptr);
  flatbuffers::Verifier v = d.verifier();
  if (!Root<T>::verify(v, view.root)) reject_root(bytes, f.name);
  return read_root<T>(d, view.root);
}

// Whether T holds views into the bytes it was decoded from (std::span, std::string_view,
// directly or inside std containers). A view inside a user-defined struct is not detected.
template <class T>
inline constexpr bool kHoldsViews = false;
template <class T, std::size_t N>
inline constexpr bool kHoldsViews<std::span<T, N>> = true;
template <>
inline constexpr bool kHoldsViews<std::string_view> = true;
template <class T, std::size_t N>
inline constexpr bool kHoldsViews<std::array<T, N>> = kHoldsViews<T>;
template <template <class...> class C, class... Ts>
inline constexpr bool kHoldsViews<C<Ts...>> = (kHoldsViews<Ts> || ...);

template <class T>
void require_owning() {
  static_assert(!kHoldsViews<T>,
                "brine: this type holds views (std::span, std::string_view) that would point into freed "
                "bytes; load an owning type (std::vector, std::string), use brine::load_mapped, or "
                "brine::loads over a buffer you keep alive");
}

// Replaces `path` atomically: writes a temporary file beside it and renames it over `path`, so
// a reader never sees half a blob and existing mappings keep the old contents.
void write_file(const std::filesystem::path& path, std::span<const std::byte> blob);
void write_stream(std::ostream& out, std::span<const std::byte> blob);
std::vector<std::byte> read_file(const std::filesystem::path& path);
// Reads `in` to its end.
std::vector<std::byte> read_stream(std::istream& in);

// A read-only private mapping of a whole file. Move-only; unmaps on destruction.
class MappedFile {
 public:
  // Throws std::filesystem::filesystem_error if the file cannot be opened or mapped.
  explicit MappedFile(const std::filesystem::path& path);
  MappedFile(MappedFile&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }

 private:
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace detail

// ---- values ----------------------------------------------------------------------------------

// Encodes `value` into a new dump. Throws NotSerializable if a reduce hook refuses it, or the
// dump would pass a limit loads enforces (FlatBuffers' 2 GiB, kMaxDepth), saying which and by
// how much.
template <class T>
Bytes dumps(const T& value, const ReducerTable* reducers = nullptr) {
  return detail::value_blob(value, reducers);
}

// Writes the blob of `value` to `path`, replacing it atomically.
template <class T>
void dump(const T& value, const std::filesystem::path& path, const ReducerTable* reducers = nullptr) {
  detail::write_file(path, detail::value_blob(value, reducers));
}

template <class T>
void dump(const T& value, std::ostream& out, const ReducerTable* reducers = nullptr) {
  detail::write_stream(out, detail::value_blob(value, reducers));
}

// Verifies `bytes` and decodes the value they hold as T. Views in T point into `bytes`.
// `bytes` must start at an 8-byte aligned address (any std::vector<std::byte> does).
template <class T>
T loads(std::span<const std::byte> bytes, const ReducerTable* reducers = nullptr) {
  return detail::decode_blob<T>(bytes, reducers);
}

template <class T>
T load(const std::filesystem::path& path, const ReducerTable* reducers = nullptr) {
  detail::require_owning<T>();
  return loads<T>(detail::read_file(path), reducers);
}

// Reads `in` to its end, then verifies and decodes like loads.
template <class T>
T load(std::istream& in, const ReducerTable* reducers = nullptr) {
  detail::require_owning<T>();
  return loads<T>(detail::read_stream(in), reducers);
}

// A value decoded from a memory-mapped blob, together with the mapping its views point into.
// Move-only; moving keeps the views valid (the mapping does not move). The file must not be
// truncated or rewritten in place while mapped (brine::dump replaces files, which is safe).
template <class T>
class Mapped {
 public:
  const T& get() const noexcept { return value_; }
  T& get() noexcept { return value_; }
  const T& operator*() const noexcept { return value_; }
  T& operator*() noexcept { return value_; }
  const T* operator->() const noexcept { return &value_; }
  T* operator->() noexcept { return &value_; }
  // The mapped blob.
  std::span<const std::byte> mapping() const noexcept { return file_.bytes(); }

 private:
  template <class U>
  friend Mapped<U> load_mapped(const std::filesystem::path& path, const ReducerTable* reducers);

  Mapped(detail::MappedFile file, const ReducerTable* reducers)
      : file_(std::move(file)), value_(detail::decode_blob<T>(file_.bytes(), reducers)) {}

  detail::MappedFile file_;  // declared first: outlives value_, which may point into it
  T value_;
};

// Maps `path` read-only, verifies it and decodes it as T: std::span<const X> (also inside
// composites and your own types) and std::string_view point into the mapping, without copying.
template <class T>
Mapped<T> load_mapped(const std::filesystem::path& path, const ReducerTable* reducers = nullptr) {
  return Mapped<T>(detail::MappedFile(path), reducers);
}

// ---- calls -----------------------------------------------------------------------------------

// A call loaded from a blob: a registered function's (or functor's) id, its bound state and its
// encoded arguments. Owns its bytes; copyable. Running it needs the function to be registered in
// this binary.
class Call {
 public:
  // The registered name of the function the call names.
  const std::string& name() const noexcept { return name_; }
  // The verified blob.
  std::span<const std::byte> bytes() const noexcept { return bytes_; }

  // Runs the call in this process through FunctionRegistry::global() and returns its result.
  // Throws DecodeError if the function does not return an R, NotRegistered if this binary
  // does not register it, RemoteError if it threw.
  template <class R>
  R run(const ReducerTable* reducers = nullptr) const {
    detail::require_owning<R>();
    check_result(detail::result_descriptor<R>(), type_signature<R>());
    const flatbuffers::DetachedBuffer result = execute(reducers);
    Decoder d(nullptr, reducers);
    d.set_envelope(result.data(), result.size(), nullptr);
    return decode_result<R>(*flatbuffers::GetRoot<fb::Result>(result.data()), d);
  }

 private:
  friend Call loads_call(std::span<const std::byte> bytes);
  friend Call load_call(const std::filesystem::path& path);
  // Verifies `bytes` as a call blob. Throws DecodeError.
  explicit Call(std::vector<std::byte> bytes);
  // Throws DecodeError unless the call returns the shape `descriptor` (type `type_name`).
  void check_result(const std::string& descriptor, const std::string& type_name) const;
  // Runs the call into a result envelope (trusted: built here).
  flatbuffers::DetachedBuffer execute(const ReducerTable* reducers) const;

  std::vector<std::byte> bytes_;
  std::string name_;
};

// Encodes a call of `callable` with `args` (converted to its parameter types) into a blob.
// `callable` is a registered function (BRINE_REGISTER), brine::partial(fn, bound...) or a
// functor registered with BRINE_REGISTER_FUNCTOR. Throws NotRegistered for an unregistered
// function, NotSerializable for a lambda by value (valid only inside this binary image).
template <class C, class... A>
Bytes dumps_call(const C& callable, const A&... args) {
  const std::decay_t<C>& c = callable;
  return detail::call_blob(c, args...);
}

template <class C, class... A>
void dump_call(const std::filesystem::path& path, const C& callable, const A&... args) {
  const std::decay_t<C>& c = callable;
  detail::write_file(path, detail::call_blob(c, args...));
}

// Verifies a call dump and copies it. Throws DecodeError (also for a blob holding a value).
Call loads_call(std::span<const std::byte> bytes);
Call load_call(const std::filesystem::path& path);

}  // namespace brine
