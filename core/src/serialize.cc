#include "brine/core/serialize.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <istream>
#include <ostream>
#include <system_error>

namespace brine {

namespace {

constexpr std::size_t kHeaderSize = 8;  // root table offset + file identifier
// FlatBuffers offsets are signed 32-bit: no buffer reaches 2 GiB.
constexpr std::size_t kMaxBlobSize = FLATBUFFERS_MAX_BUFFER_SIZE;
// Alignment of the widest scalar in a blob; the verifier requires it of the buffer's address.
constexpr std::size_t kMinAddressAlignment = 8;
// Room kept after a large buffer for the tables written after it.
constexpr std::size_t kReserveSlack = 64 * 1024;

[[noreturn]] void reject(std::span<const std::byte> bytes, std::string_view check, const std::string& detail) {
  throw DecodeError("brine: a blob of " + std::to_string(bytes.size()) + " bytes failed the " + std::string(check) +
                    " check: " + detail);
}

std::string at_byte(std::size_t pos) { return " at byte " + std::to_string(pos); }

// Reads a little-endian U at `pos` with a bounds check: usable before the verifier has run.
template <class U>
U read_at(std::span<const std::byte> bytes, std::size_t pos, std::string_view check, const char* what) {
  if (pos > bytes.size() || bytes.size() - pos < sizeof(U)) {
    reject(bytes, check, std::string(what) + at_byte(pos) + " lies past the end; the blob is truncated or corrupt");
  }
  U v;
  std::memcpy(&v, bytes.data() + pos, sizeof(U));
  return flatbuffers::EndianScalar(v);
}

// Position of field `slot` of the root table, or nullopt if the field is absent. Bounds-checked.
std::optional<std::size_t> root_field(std::span<const std::byte> bytes, flatbuffers::voffset_t slot,
                                      std::string_view check) {
  const std::size_t table = read_at<flatbuffers::uoffset_t>(bytes, 0, check, "the root table offset");
  const auto to_vtable = read_at<flatbuffers::soffset_t>(bytes, table, check, "the root table");
  const auto vtable = static_cast<int64_t>(table) - to_vtable;
  if (vtable < 0) reject(bytes, check, "the root table" + at_byte(table) + " names a vtable before the start");
  const auto vtable_size = read_at<flatbuffers::voffset_t>(bytes, static_cast<std::size_t>(vtable), check,
                                                           "the root vtable");
  if (slot + sizeof(flatbuffers::voffset_t) > vtable_size) return std::nullopt;
  const auto field = read_at<flatbuffers::voffset_t>(bytes, static_cast<std::size_t>(vtable) + slot, check,
                                                     "a root vtable entry");
  if (field == 0) return std::nullopt;
  return table + field;
}

flatbuffers::Verifier::Options verifier_options() {
  flatbuffers::Verifier::Options opts;
  opts.max_depth = 128;
  opts.max_tables = 100'000'000;
  opts.check_alignment = true;
  return opts;
}

std::string quoted_identifier(std::span<const std::byte> id) {
  std::string out = "\"";
  for (std::byte b : id) {
    const auto c = static_cast<unsigned char>(b);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    }
  }
  return out + "\"";
}

// The FlatBuffers 2.0.8 verifier says only yes or no. Re-verifies the root's sub-objects one by
// one to say which of them is malformed, and where it starts.
std::string locate_verifier_failure(std::span<const std::byte> bytes) {
  using flatbuffers::Verifier;
  using Buffers = flatbuffers::Vector<flatbuffers::Offset<fb::BlobBuffer>>;
  struct Part {
    const char* name;
    flatbuffers::voffset_t slot;
    bool (*verify)(Verifier&, const uint8_t*);
  };
  static constexpr Part kParts[] = {
      {"type_name string", fb::Blob::VT_TYPE_NAME,
       [](Verifier& v, const uint8_t* p) { return v.VerifyString(reinterpret_cast<const flatbuffers::String*>(p)); }},
      {"value table", fb::Blob::VT_VALUE,
       [](Verifier& v, const uint8_t* p) { return v.VerifyTable(reinterpret_cast<const fb::Value*>(p)); }},
      {"task table", fb::Blob::VT_TASK,
       [](Verifier& v, const uint8_t* p) { return v.VerifyTable(reinterpret_cast<const fb::Task*>(p)); }},
      {"buffer table", fb::Blob::VT_BUFFERS,
       [](Verifier& v, const uint8_t* p) {
         const auto* list = reinterpret_cast<const Buffers*>(p);
         return v.VerifyVector(list) && v.VerifyVectorOfTables(list);
       }},
      {"function_name string", fb::Blob::VT_FUNCTION_NAME,
       [](Verifier& v, const uint8_t* p) { return v.VerifyString(reinterpret_cast<const flatbuffers::String*>(p)); }},
  };
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  constexpr std::string_view kCheck = "verifier";
  constexpr const char* kNoFiner = " (an offset, length, alignment or nesting depth inside it is out of bounds; "
                                   "FlatBuffers 2.0.8 reports no finer position)";
  for (const Part& part : kParts) {
    const std::optional<std::size_t> field = root_field(bytes, part.slot, kCheck);
    if (!field) continue;
    const std::size_t target = *field + read_at<flatbuffers::uoffset_t>(bytes, *field, kCheck, "a root field");
    if (target > bytes.size()) {
      reject(bytes, kCheck, std::string("the offset of its ") + part.name + at_byte(*field) + " points past the end");
    }
    Verifier verifier(data, bytes.size(), verifier_options());
    if (!part.verify(verifier, data + target)) return std::string("its ") + part.name + at_byte(target) + " is malformed" + kNoFiner;
  }
  const std::size_t root = read_at<flatbuffers::uoffset_t>(bytes, 0, kCheck, "the root table offset");
  return "its root table" + at_byte(root) + " is malformed" + kNoFiner;
}

std::string stored_type(const fb::Blob& blob) {
  return blob.type_name() != nullptr ? blob.type_name()->str() : std::string("(unnamed type)");
}

// `holds` introduces the stored type ("it holds a value of type"); `advice` says what to do.
void check_fingerprint(std::span<const std::byte> bytes, const fb::Blob& blob, uint64_t fingerprint,
                       std::string (*signature)(), const std::string& holds, const char* advice) {
  if (blob.fingerprint() == fingerprint) return;
  const std::optional<std::size_t> at = root_field(bytes, fb::Blob::VT_FINGERPRINT, "type");
  const std::string where = at ? at_byte(*at) : std::string(" (absent)");
  const std::string stored = stored_type(blob);
  const std::string requested = signature();
  if (stored == requested) {
    reject(bytes, "type", "the fingerprint" + where + " does not match the type name " + stored + "; the blob is corrupt");
  }
  reject(bytes, "type", holds + " " + stored + " (fingerprint" + where + "), not the requested " + requested + "; " + advice);
}

[[noreturn]] void throw_io(const std::string& what, const std::filesystem::path& path) {
  throw std::filesystem::filesystem_error("brine: " + what, path, std::error_code(errno, std::generic_category()));
}

// Owns a file descriptor.
class Fd {
 public:
  Fd(const std::filesystem::path& path, int flags, const char* what) : fd_(::open(path.c_str(), flags | O_CLOEXEC, 0666)) {
    if (fd_ < 0) throw_io(what, path);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }
  // Closes now, reporting a failure (a delayed write error) instead of losing it.
  void close(const std::filesystem::path& path) {
    const int fd = std::exchange(fd_, -1);
    if (::close(fd) != 0) throw_io("cannot close", path);
  }
  std::size_t size(const std::filesystem::path& path) const {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw_io("cannot stat", path);
    if (!S_ISREG(st.st_mode)) {
      errno = EINVAL;
      throw_io("not a regular file", path);
    }
    return static_cast<std::size_t>(st.st_size);
  }

 private:
  int fd_;
};

std::span<const std::byte> bytes_of(const flatbuffers::DetachedBuffer& blob) {
  return {reinterpret_cast<const std::byte*>(blob.data()), blob.size()};
}

}  // namespace

namespace detail {

// ---- writing ---------------------------------------------------------------------------------

BlobWriter::BlobWriter(const ReducerTable* reducers)
    : encoder_(fbb_, {.reference_threshold = kBlobBufferThreshold, .sink = this, .reducers = reducers}) {}

// Buffers are not deduplicated: a pointer seen twice may name different contents by then (a
// freed temporary), and blobs are written once.
std::optional<fb::BufferRef> BlobWriter::locate(const void*, std::size_t) { return std::nullopt; }

fb::BufferRef BlobWriter::place(const void* data, std::size_t size, std::size_t align) {
  if (size >= kMaxBlobSize || fbb_.GetSize() + kReserveSlack + size >= kMaxBlobSize) {
    throw NotSerializable("brine: a buffer of " + std::to_string(size) + " bytes would take the blob past " +
                          "FlatBuffers' 2 GiB limit; split it, or send it through a pool's shared arena");
  }
  fbb_.reserve(size + kReserveSlack);
  // ForceVectorAlignment caps alignment at FLATBUFFERS_MAX_ALIGNMENT (32 in FlatBuffers 2.0.8);
  // PreAlign pads the same way without the cap, and raises the whole buffer's alignment to match.
  fbb_.PreAlign(size, align > kBlobBufferAlignment ? align : kBlobBufferAlignment);
  const auto vec = fbb_.CreateVector(static_cast<const uint8_t*>(data), size);
  buffers_.push_back(fb::CreateBlobBuffer(fbb_, vec));
  return fb::BufferRef(static_cast<uint32_t>(buffers_.size() - 1), 0, 0, size);
}

void BlobWriter::finish_value(ValueRef value, uint64_t fingerprint, std::string_view type_name) {
  finish(value, 0, 0, fingerprint, type_name);
}

void BlobWriter::finish_call(const FunctionInfo& fn, const EncodedCall& call, uint64_t result_fingerprint,
                             std::string_view result_type) {
  const auto task = fb::CreateTask(fbb_, /*task_id=*/0, fn.id, fn.signature, /*flags=*/0, call.args, call.bound);
  finish(0, task, fbb_.CreateString(fn.name), result_fingerprint, result_type);
}

void BlobWriter::finish(flatbuffers::Offset<fb::Value> value, flatbuffers::Offset<fb::Task> task,
                        flatbuffers::Offset<flatbuffers::String> function_name, uint64_t fingerprint,
                        std::string_view type_name) {
  const auto type = fbb_.CreateString(type_name);
  const auto buffers = buffers_.empty() ? 0 : fbb_.CreateVector(buffers_);
  fb::BlobBuilder b(fbb_);
  b.add_format_version(kFormatVersion);
  b.add_fingerprint(fingerprint);
  b.add_type_name(type);
  b.add_value(value);
  b.add_task(task);
  b.add_buffers(buffers);
  b.add_function_name(function_name);
  fbb_.Finish(b.Finish(), fb::BlobIdentifier());
}

const FunctionInfo& dumpable(const FunctionInfo& info) {
  if (!info.by_value) return info;
  throw NotSerializable("brine: cannot dump " + info.name +
                        ": a lambda sent by value is named by its place in this binary image, so no other build "
                        "could run it; dump a function registered with BRINE_REGISTER, brine::partial(fn, bound...), "
                        "or a functor registered with BRINE_REGISTER_FUNCTOR instead");
}

std::vector<std::byte> to_vector(const flatbuffers::DetachedBuffer& blob) {
  const auto bytes = bytes_of(blob);
  return {bytes.begin(), bytes.end()};
}

void write_file(const std::filesystem::path& path, const flatbuffers::DetachedBuffer& blob) {
  static std::atomic<uint64_t> counter{0};
  std::filesystem::path tmp = path;
  tmp += ".brine-tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  Fd fd(tmp, O_WRONLY | O_CREAT | O_EXCL, "cannot create a temporary file beside the blob");
  try {
    for (auto rest = bytes_of(blob); !rest.empty();) {
      const ssize_t n = ::write(fd.get(), rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_io("cannot write", tmp);
      rest = rest.subspan(static_cast<std::size_t>(n));
    }
    fd.close(tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw_io("cannot rename " + tmp.string() + " to", path);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
}

void write_stream(std::ostream& out, const flatbuffers::DetachedBuffer& blob) {
  out.write(reinterpret_cast<const char*>(blob.data()), static_cast<std::streamsize>(blob.size()));
  if (!out) throw std::ios_base::failure("brine: writing a blob of " + std::to_string(blob.size()) + " bytes failed");
}

std::vector<std::byte> read_file(const std::filesystem::path& path) {
  Fd fd(path, O_RDONLY, "cannot open");
  std::vector<std::byte> out(fd.size(path));
  for (std::size_t done = 0; done < out.size();) {
    const ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_io("cannot read", path);
    if (n == 0) {
      out.resize(done);  // the file shrank meanwhile: verification will say what is wrong
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  return out;
}

std::vector<std::byte> read_stream(std::istream& in) {
  std::vector<std::byte> out;
  constexpr std::size_t kChunk = 64 * 1024;
  // Stops one chunk past the largest possible blob: verification rejects it by its size.
  while (in && out.size() <= kMaxBlobSize) {
    const std::size_t done = out.size();
    out.resize(done + kChunk);
    in.read(reinterpret_cast<char*>(out.data() + done), kChunk);
    out.resize(done + static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw std::ios_base::failure("brine: reading a blob from a stream failed");
  return out;
}

// ---- reading ---------------------------------------------------------------------------------

const fb::Blob& verify_blob(std::span<const std::byte> bytes) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  if (bytes.size() < kHeaderSize) {
    reject(bytes, "size", "it is shorter than the 8-byte FlatBuffers header; the input is empty or truncated");
  }
  if (bytes.size() >= kMaxBlobSize) reject(bytes, "size", "FlatBuffers buffers are smaller than 2 GiB");
  if (reinterpret_cast<std::uintptr_t>(data) % kMinAddressAlignment != 0) {
    reject(bytes, "alignment",
           "it starts at an address that is not 8-byte aligned; copy it into a std::vector<std::byte> first");
  }
  if (!flatbuffers::BufferHasIdentifier(data, fb::BlobIdentifier())) {
    reject(bytes, "identifier",
           "bytes 4..7 hold " + quoted_identifier(bytes.subspan(4, 4)) + " instead of \"" + fb::BlobIdentifier() +
               "\": this is not a brine blob (pool envelopes say \"" + fb::TaskIdentifier() + "\" or \"" +
               fb::ResultIdentifier() + "\")");
  }
  constexpr std::string_view kVersionCheck = "format version";
  const std::optional<std::size_t> version_at = root_field(bytes, fb::Blob::VT_FORMAT_VERSION, kVersionCheck);
  const uint32_t version = version_at ? read_at<uint32_t>(bytes, *version_at, kVersionCheck, "the format version") : 0;
  if (version != kFormatVersion) {
    reject(bytes, kVersionCheck,
           "it has format version " + std::to_string(version) + (version_at ? at_byte(*version_at) : " (absent)") +
               " and this build reads version " + std::to_string(kFormatVersion) +
               "; load it with the brine that wrote it, or dump it again");
  }
  flatbuffers::Verifier verifier(data, bytes.size(), verifier_options());
  if (!verifier.VerifyBuffer<fb::Blob>(fb::BlobIdentifier())) reject(bytes, "verifier", locate_verifier_failure(bytes));
  return *fb::GetBlob(data);
}

const fb::Value& blob_value(const fb::Blob& blob, std::span<const std::byte> bytes, uint64_t fingerprint,
                            std::string (*signature)()) {
  if (blob.task() != nullptr) {
    reject(bytes, "type", "it holds a call to " + (blob.function_name() ? blob.function_name()->str() : "a function") +
                              ", not a " + signature() + "; load it with brine::load_call");
  }
  check_fingerprint(bytes, blob, fingerprint, signature, "it holds a value of type",
                    "load it as the type it was dumped as");
  if (blob.value() == nullptr) reject(bytes, "type", "it holds no value; it was not written by brine::dump");
  return *blob.value();
}

std::span<const std::byte> BlobSource::resolve(const fb::BufferRef& ref) const {
  const auto* buffers = blob_.buffers();
  const std::size_t count = buffers != nullptr ? buffers->size() : 0;
  if (ref.block() >= count) {
    throw DecodeError("brine: a value references blob buffer " + std::to_string(ref.block()) + " of " +
                      std::to_string(count) + "; the blob is corrupt");
  }
  if (ref.generation() != 0) {
    throw DecodeError("brine: a value references blob buffer " + std::to_string(ref.block()) + " with generation " +
                      std::to_string(ref.generation()) + " (blob buffers have 0); the blob is corrupt");
  }
  const flatbuffers::Vector<uint8_t>* data = buffers->Get(ref.block())->data();
  const std::size_t size = data != nullptr ? data->size() : 0;
  if (ref.offset() > size || ref.length() > size - ref.offset()) {
    throw DecodeError("brine: a value references bytes [" + std::to_string(ref.offset()) + ", +" +
                      std::to_string(ref.length()) + ") of blob buffer " + std::to_string(ref.block()) + ", which holds " +
                      std::to_string(size) + "; the blob is corrupt");
  }
  if (size == 0) return {};
  return {reinterpret_cast<const std::byte*>(data->data()) + ref.offset(), static_cast<std::size_t>(ref.length())};
}

MappedFile::MappedFile(const std::filesystem::path& path) {
  Fd fd(path, O_RDONLY, "cannot open");
  const std::size_t size = fd.size(path);
  if (size == 0) return;  // nothing to map: verification reports the empty blob
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (p == MAP_FAILED) throw_io("cannot map", path);
  data_ = static_cast<const std::byte*>(p);
  size_ = size;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    MappedFile old(std::move(*this));
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
}

}  // namespace detail

// ---- calls -----------------------------------------------------------------------------------

Call::Call(std::vector<std::byte> bytes) : bytes_(std::move(bytes)) {
  const fb::Blob& blob = detail::verify_blob(bytes_);
  const fb::Task* task = blob.task();
  if (task == nullptr) {
    reject(bytes_, "type", "it holds a value of type " + stored_type(blob) + ", not a call; load it with brine::loads");
  }
  if (task->image_id() != 0) {
    reject(bytes_, "type",
           "it holds a lambda by value, valid only inside the binary image that made it; dump a registered "
           "function, brine::partial or a registered functor instead");
  }
  name_ = blob.function_name() != nullptr ? blob.function_name()->str()
                                          : "the function with id " + std::to_string(task->function_id());
}

flatbuffers::DetachedBuffer Call::execute(uint64_t result_fingerprint, std::string (*result_type)(),
                                          const ReducerTable* reducers) const {
  const fb::Blob& blob = *fb::GetBlob(bytes_.data());  // verified by the constructor
  check_fingerprint(bytes_, blob, result_fingerprint, result_type, "the call to " + name_ + " returns",
                    "run it as the type the function returns");
  const detail::BlobSource source(blob);
  flatbuffers::FlatBufferBuilder fbb;
  Encoder e(fbb, {.reducers = reducers});
  fbb.Finish(run_task(*blob.task(), FunctionRegistry::global(), Decoder(&source, reducers), e), fb::ResultIdentifier());
  return fbb.Release();
}

Call loads_call(std::span<const std::byte> bytes) { return Call(std::vector<std::byte>(bytes.begin(), bytes.end())); }

Call load_call(const std::filesystem::path& path) { return Call(detail::read_file(path)); }

}  // namespace brine
