// Standalone serialization: brine's envelopes without a pool, as Python has pickle.dumps /
// pickle.loads, dill.dump and loky's dumps(obj, reducers=...). Use it to persist a value or a
// call and run it later, to send one over a channel of your own, or to measure what
// serialization costs.
//
//   std::vector<std::byte> bytes = brine::dumps(shape);   // FlatBuffer, file identifier "BRN1"
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
// Format: a FlatBuffer whose root is fb::Blob (core/schema/blob.fbs): kFormatVersion, the
// fingerprint and signature of the value's type, and either a value or a task. Values go
// through the same reduce hooks as in a pool: brine::Reducer<T>, overridden per call by an
// optional ReducerTable. There is no shared arena, so everything is inside the blob; the blob
// is its own arena: contiguous buffers of kBlobBufferThreshold bytes or more (and any forced
// with brine::ref()) are stored kBlobBufferAlignment-aligned in the blob's buffer table, where
// values reference them. Smaller ones are copied into the value, aligned to their element.
//
// Verification first: loads, load, load_mapped and load_call check the size, the address
// alignment, the file identifier, the format version, run the FlatBuffers verifier and then
// check the type fingerprint. A failure throws brine::DecodeError naming the check and, where
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
#include "brine/core/call.h"
#include "brine/core/closure.h"

namespace brine {

// Version of the blob layout. Bumped when a blob written by one brine cannot be read by the
// other; loads rejects any other version with a DecodeError.
inline constexpr uint32_t kFormatVersion = 1;
// Contiguous buffers at least this large go to the blob's buffer table, aligned to
// kBlobBufferAlignment (a cache line: SIMD-friendly once mapped). Smaller ones stay inline.
inline constexpr std::size_t kBlobBufferThreshold = 4096;
inline constexpr std::size_t kBlobBufferAlignment = 64;

namespace detail {

// A FlatBufferBuilder that can make room ahead: before a large buffer, so that the tables
// written after it do not trigger a reallocation that copies it again.
class GrowableBuilder : public flatbuffers::FlatBufferBuilder {
 public:
  void reserve(std::size_t bytes) { buf_.ensure_space(bytes); }
};

// Builds one blob. Its BufferSink side stores large buffers in the blob's buffer table.
class BlobWriter final : private BufferSink {
 public:
  explicit BlobWriter(const ReducerTable* reducers);

  Encoder& encoder() noexcept { return encoder_; }
  // Finish the blob around an encoded value, or around an encoded call of `fn` that returns a
  // value of the given fingerprint and signature.
  void finish_value(ValueRef value, uint64_t fingerprint, std::string_view type_name);
  void finish_call(const FunctionInfo& fn, const EncodedCall& call, uint64_t result_fingerprint,
                   std::string_view result_type);
  flatbuffers::DetachedBuffer release() { return fbb_.Release(); }

 private:
  std::optional<fb::BufferRef> locate(const void* data, std::size_t size) override;
  fb::BufferRef place(const void* data, std::size_t size, std::size_t align) override;
  void finish(flatbuffers::Offset<fb::Value> value, flatbuffers::Offset<fb::Task> task,
              flatbuffers::Offset<flatbuffers::String> function_name, uint64_t fingerprint,
              std::string_view type_name);

  GrowableBuilder fbb_;
  Encoder encoder_;
  std::vector<flatbuffers::Offset<fb::BlobBuffer>> buffers_;
};

// Resolves a blob's buffer references (block = index in Blob.buffers) with bounds checks.
class BlobSource final : public BufferSource {
 public:
  explicit BlobSource(const fb::Blob& blob) : blob_(blob) {}
  std::span<const std::byte> resolve(const fb::BufferRef& ref) const override;

 private:
  const fb::Blob& blob_;
};

// Runs every check before decoding (see the header comment) and returns the root. `bytes`
// must stay alive while the result is used. Throws DecodeError.
const fb::Blob& verify_blob(std::span<const std::byte> bytes);
// The blob's value, if it holds one of the type `fingerprint` names; else a DecodeError naming
// the stored type and `signature()`.
const fb::Value& blob_value(const fb::Blob& blob, std::span<const std::byte> bytes, uint64_t fingerprint,
                            std::string (*signature)());

// Fingerprints are hashed once per type.
template <class T>
uint64_t fingerprint_of() {
  static const uint64_t fingerprint = type_fingerprint<T>();
  return fingerprint;
}

// The type a value is stored as: brine::copy(x) and brine::ref(x) store x's type.
template <class T>
struct Unplaced {
  using type = T;
};
template <class T>
struct Unplaced<Placed<T>> {
  using type = T;
};

template <class T>
flatbuffers::DetachedBuffer value_blob(const T& value, const ReducerTable* reducers) {
  using Stored = typename Unplaced<T>::type;
  BlobWriter w(reducers);
  w.finish_value(w.encoder().encode(value), fingerprint_of<Stored>(), type_signature<Stored>());
  return w.release();
}

// `info` if a call of it may go to a file; NotSerializable for a lambda sent by value.
const FunctionInfo& dumpable(const FunctionInfo& info);

// A call of any callable CallableTraits knows: a registered function, brine::partial, a
// registered functor. A by-value lambda is refused: its code is named by an offset in this
// binary image, meaningless to any other build.
template <class C, class... A>
flatbuffers::DetachedBuffer call_blob(const C& callable, const A&... args) {
  using Traits = CallableTraits<C>;
  using Result = std::decay_t<typename Traits::Result>;
  const FunctionInfo& info = dumpable(Traits::info(callable));
  BlobWriter w(nullptr);
  const EncodedCall call = encode_call(w.encoder(), callable, args...);
  w.finish_call(info, call, fingerprint_of<Result>(), type_signature<Result>());
  return w.release();
}

template <class T>
T decode_blob(std::span<const std::byte> bytes, const ReducerTable* reducers) {
  const fb::Blob& blob = verify_blob(bytes);
  const fb::Value& value = blob_value(blob, bytes, fingerprint_of<T>(), &type_signature<T>);
  const BlobSource source(blob);
  return Decoder(&source, reducers).decode<T>(&value);
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

std::vector<std::byte> to_vector(const flatbuffers::DetachedBuffer& blob);
// Replaces `path` atomically: writes a temporary file beside it and renames it over `path`, so
// a reader never sees half a blob and existing mappings keep the old contents.
void write_file(const std::filesystem::path& path, const flatbuffers::DetachedBuffer& blob);
void write_stream(std::ostream& out, const flatbuffers::DetachedBuffer& blob);
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

// Encodes `value` into a new blob. Throws NotSerializable if a reduce hook refuses it or the
// blob would exceed FlatBuffers' 2 GiB limit.
template <class T>
std::vector<std::byte> dumps(const T& value, const ReducerTable* reducers = nullptr) {
  return detail::to_vector(detail::value_blob(value, reducers));
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
    const flatbuffers::DetachedBuffer result = execute(detail::fingerprint_of<R>(), &type_signature<R>, reducers);
    return decode_result<R>(*flatbuffers::GetRoot<fb::Result>(result.data()), Decoder(nullptr, reducers));
  }

 private:
  friend Call loads_call(std::span<const std::byte> bytes);
  friend Call load_call(const std::filesystem::path& path);
  // Verifies `bytes` as a call blob. Throws DecodeError.
  explicit Call(std::vector<std::byte> bytes);
  // Runs the task into a result envelope (trusted: built here). Checks the result type first.
  flatbuffers::DetachedBuffer execute(uint64_t result_fingerprint, std::string (*result_type)(),
                                      const ReducerTable* reducers) const;

  std::vector<std::byte> bytes_;
  std::string name_;
};

// Encodes a call of `callable` with `args` (converted to its parameter types) into a blob.
// `callable` is a registered function (BRINE_REGISTER), brine::partial(fn, bound...) or a
// functor registered with BRINE_REGISTER_FUNCTOR. Throws NotRegistered for an unregistered
// function, NotSerializable for a lambda by value (valid only inside this binary image).
template <class C, class... A>
std::vector<std::byte> dumps_call(const C& callable, const A&... args) {
  const std::decay_t<C>& c = callable;
  return detail::to_vector(detail::call_blob(c, args...));
}

template <class C, class... A>
void dump_call(const std::filesystem::path& path, const C& callable, const A&... args) {
  const std::decay_t<C>& c = callable;
  detail::write_file(path, detail::call_blob(c, args...));
}

// Verifies a call blob and copies it. Throws DecodeError (also for a blob holding a value).
Call loads_call(std::span<const std::byte> bytes);
Call load_call(const std::filesystem::path& path);

}  // namespace brine
