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
#include <new>
#include <ostream>
#include <system_error>

namespace brine {

namespace {

constexpr std::size_t kHeaderSize = 8;  // root table offset + file identifier
// FlatBuffers offsets are signed 32-bit: no buffer reaches 2 GiB.
constexpr std::size_t kMaxBlobSize = FLATBUFFERS_MAX_BUFFER_SIZE;
// Alignment of the widest scalar in a blob; the verifier requires it of the buffer's address.
constexpr std::size_t kMinAddressAlignment = 8;

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

constexpr char kTrailerMagic[4] = {'B', 'R', 'N', '2'};
constexpr std::size_t kTrailerSize = 8;  // uint32 position of the DumpInfo, then the magic

std::string stored_type(const fb::DumpInfo* info) {
  return info != nullptr && info->type_name() != nullptr ? info->type_name()->str() : std::string("(unknown type)");
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

}  // namespace

namespace detail {

namespace {

// A block of the dump allocator: its capacity in a 64-byte header before the bytes handed out.
class RecyclingAllocator final : public flatbuffers::Allocator {
 public:
  static constexpr std::size_t kHeader = 64;
  static constexpr std::size_t kMinKept = std::size_t{1} << 20;
  static constexpr std::size_t kMaxKept = std::size_t{256} << 20;

  uint8_t* allocate(size_t size) override {
    if (size < kMinKept / 2) {
      if (uint8_t* kept = std::exchange(small_.block, nullptr)) {
        const std::size_t capacity = capacity_of(kept);
        if (capacity >= size && capacity / 4 <= size) return kept;
        release(kept);
      }
    } else {
      if (uint8_t* kept = kept_.exchange(nullptr, std::memory_order_acq_rel)) {
        const std::size_t capacity = capacity_of(kept);
        if (capacity >= size && capacity / 2 <= size) return kept;
        give_back(kept);
      }
    }
    auto* block = static_cast<uint8_t*>(::operator new(size + kHeader, std::align_val_t{kHeader}));
    std::memcpy(block, &size, sizeof size);
    return block + kHeader;
  }

  void deallocate(uint8_t* p, size_t) override {
    const std::size_t capacity = capacity_of(p);
    if (capacity < kMinKept) {
      if (uint8_t* older = std::exchange(small_.block, p)) release(older);
      return;
    }
    if (capacity > kMaxKept) {
      release(p);
      return;
    }
    give_back(p);
  }

 private:
  static std::size_t capacity_of(uint8_t* p) noexcept {
    std::size_t capacity;
    std::memcpy(&capacity, p - kHeader, sizeof capacity);
    return capacity;
  }
  static void release(uint8_t* p) noexcept { ::operator delete(p - kHeader, std::align_val_t{kHeader}); }
  // Keeps the larger of `p` and the kept block; frees the other.
  void give_back(uint8_t* p) noexcept {
    uint8_t* other = kept_.exchange(p, std::memory_order_acq_rel);
    if (other == nullptr) return;
    if (capacity_of(other) > capacity_of(p)) {
      uint8_t* mine = kept_.exchange(other, std::memory_order_acq_rel);
      if (mine != nullptr) release(mine);
      return;
    }
    release(other);
  }

  std::atomic<uint8_t*> kept_{nullptr};
  // The last small block freed on this thread. A loop of small dumps then allocates nothing:
  // glibc serves a request of a KiB or more (the builder's first block) from its large bins,
  // and each such malloc first consolidates every freed small chunk (43 % of a small dump's
  // time in a loop that also frees strings, under perf).
  struct SmallBlock {
    uint8_t* block = nullptr;
    ~SmallBlock() {
      if (block != nullptr) release(std::exchange(block, nullptr));
    }
  };
  static thread_local SmallBlock small_;
};

thread_local RecyclingAllocator::SmallBlock RecyclingAllocator::small_;

}  // namespace

flatbuffers::Allocator& dump_allocator() noexcept {
  static auto* allocator = new RecyclingAllocator;  // never destroyed: a Bytes may outlive statics
  return *allocator;
}

// ---- writing ---------------------------------------------------------------------------------

namespace {

// Writes the trailer and the DumpInfo into an empty builder; returns the DumpInfo's offset.
flatbuffers::uoffset_t write_dump_info(flatbuffers::FlatBufferBuilder& fbb, const DumpFacts& facts) {
  fbb.PushBytes(reinterpret_cast<const uint8_t*>(kTrailerMagic), sizeof kTrailerMagic);
  fbb.PushElement<uint32_t>(0);  // the DumpInfo's position, patched by DumpWriter::finish
  const auto type = fbb.CreateString(facts.type_name.data(), facts.type_name.size());
  const auto descriptor = fbb.CreateString(facts.descriptor.data(), facts.descriptor.size());
  const auto function =
      facts.function_name.empty() ? 0 : fbb.CreateString(facts.function_name.data(), facts.function_name.size());
  return fb::CreateDumpInfo(fbb, kFormatVersion, fnv1a(facts.descriptor), type, descriptor, function,
                            facts.function_id, facts.signature,
                            facts.result_descriptor.empty() ? 0 : fnv1a(facts.result_descriptor))
      .o;
}

}  // namespace

DumpTail make_dump_tail(const DumpFacts& facts) {
  struct Builder : flatbuffers::FlatBufferBuilder {
    Builder() : flatbuffers::FlatBufferBuilder(256) {}
    std::size_t min_align() const { return minalign_; }  // GetBufferMinAlignment() wants a finished buffer
  } fbb;
  DumpTail tail;
  tail.info = write_dump_info(fbb, facts);
  // What finish() patches in, written here once.
  flatbuffers::WriteScalar<uint32_t>(fbb.GetCurrentBufferPointer() + fbb.GetSize() - kTrailerSize, tail.info);
  tail.bytes.assign(fbb.GetCurrentBufferPointer(), fbb.GetCurrentBufferPointer() + fbb.GetSize());
  tail.min_align = fbb.min_align();
  return tail;
}

DumpWriter::DumpWriter(const ReducerTable* reducers, std::size_t expected)
    : encoder_(fbb_, {.reference_threshold = kBlobBufferThreshold,
                      .sink = nullptr,
                      .reducers = reducers,
                      .large_alignment = kBlobBufferAlignment}) {
  if (expected > 1024 && expected < kMaxBlobSize) fbb_.reserve(expected + expected / 8);
}

DumpWriter::DumpWriter(const ReducerTable* reducers, const DumpFacts& facts, std::size_t expected)
    : DumpWriter(reducers, expected) {
  info_ = write_dump_info(fbb_, facts);
}

DumpWriter::DumpWriter(const ReducerTable* reducers, const DumpTail& tail, std::size_t expected)
    : DumpWriter(reducers, expected) {
  fbb_.Align(tail.min_align);  // an empty builder: no padding, only its alignment to keep
  fbb_.PushBytes(tail.bytes.data(), tail.bytes.size());
  info_ = tail.info;
}

Bytes DumpWriter::finish(flatbuffers::uoffset_t root, const std::string& identifier) {
  encoder_.reserve(64);
  fbb_.Finish(flatbuffers::Offset<void>(root), identifier.c_str());
  uint8_t* data = fbb_.GetBufferPointer();
  const std::size_t size = fbb_.GetSize();
  flatbuffers::WriteScalar<uint32_t>(data + size - kTrailerSize, info_);
  return Bytes(fbb_.Release());
}

const FunctionInfo& dumpable(const FunctionInfo& info) {
  if (!info.by_value) return info;
  throw NotSerializable("brine: cannot dump " + info.name +
                        ": a lambda sent by value is named by its place in this binary image, so no other build "
                        "could run it; dump a function registered with BRINE_REGISTER, brine::partial(fn, bound...), "
                        "or a functor registered with BRINE_REGISTER_FUNCTOR instead");
}

void write_file(const std::filesystem::path& path, std::span<const std::byte> blob) {
  static std::atomic<uint64_t> counter{0};
  std::filesystem::path tmp = path;
  tmp += ".brine-tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  Fd fd(tmp, O_WRONLY | O_CREAT | O_EXCL, "cannot create a temporary file beside the blob");
  try {
    for (auto rest = blob; !rest.empty();) {
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

void write_stream(std::ostream& out, std::span<const std::byte> blob) {
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

namespace {

// The DumpInfo brine appended, if the buffer ends with its trailer; nullptr for a plain
// FlatBuffer (written by another FlatBuffers writer). A damaged trailer is a DecodeError.
const fb::DumpInfo* dump_info(std::span<const std::byte> bytes) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  const std::size_t size = bytes.size();
  if (size < 16 || std::memcmp(data + size - 4, kTrailerMagic, 4) != 0) return nullptr;
  constexpr std::string_view kCheck = "dump info";
  const std::size_t back = read_at<uint32_t>(bytes, size - kTrailerSize, kCheck, "the dump info's position");
  if (back > size - kTrailerSize || back < kTrailerSize + 4 || (size - back) % 4 != 0) {
    reject(bytes, kCheck, "the dump info's position (" + std::to_string(back) + " bytes from the end) lies outside it");
  }
  const uint8_t* at = data + (size - back);
  flatbuffers::Verifier v(data, size, verifier_options(size));
  if (!reinterpret_cast<const fb::DumpInfo*>(at)->Verify(v)) {
    reject(bytes, kCheck, "its dump info table" + at_byte(size - back) + " is malformed");
  }
  return reinterpret_cast<const fb::DumpInfo*>(at);
}

}  // namespace

DumpView open_dump(std::span<const std::byte> bytes, const std::string& identifier, const std::string& descriptor,
                   const std::string& type_name, const DumpTail* tail) {
  const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
  if (bytes.size() < kHeaderSize) {
    reject(bytes, "size", "it is shorter than the 8-byte FlatBuffers header; the input is empty or truncated");
  }
  if (bytes.size() >= kMaxBlobSize) reject(bytes, "size", "FlatBuffers buffers are smaller than 2 GiB");
  if (reinterpret_cast<std::uintptr_t>(data) % kMinAddressAlignment != 0) {
    reject(bytes, "alignment",
           "it starts at an address that is not 8-byte aligned; copy it into a std::vector<std::byte> first");
  }
  DumpView view;
  // The type's own tail, byte for byte: its DumpInfo is the one this process built for the type,
  // so the table is well formed and its format version and shape match without checking.
  const bool own_tail = tail != nullptr && bytes.size() >= tail->bytes.size() + kHeaderSize &&
                        std::memcmp(data + bytes.size() - tail->bytes.size(), tail->bytes.data(), tail->bytes.size()) == 0;
  view.info = own_tail ? reinterpret_cast<const fb::DumpInfo*>(data + bytes.size() - tail->info) : dump_info(bytes);
  if (!own_tail && view.info != nullptr && view.info->format_version() != kFormatVersion) {
    reject(bytes, "format version",
           "it has format version " + std::to_string(view.info->format_version()) + " and this build reads version " +
               std::to_string(kFormatVersion) + "; load it with the brine that wrote it, or dump it again");
  }
  if (!identifier.empty() && !flatbuffers::BufferHasIdentifier(data, identifier.c_str())) {
    const std::string found = quoted_identifier(bytes.subspan(4, 4));
    if (view.info != nullptr && view.info->function_name() != nullptr) {
      reject(bytes, "type", "it holds a call to " + view.info->function_name()->str() + ", not a " + type_name +
                                "; load it with brine::load_call");
    }
    if (view.info != nullptr && stored_type(view.info) != type_name) {
      reject(bytes, "type",
             "it holds a value of type " + stored_type(view.info) + " (identifier " + found + "), not the requested " +
                 type_name + " (identifier \"" + identifier + "\"); load it as the type it was dumped as");
    }
    reject(bytes, "identifier",
           "bytes 4..7 hold " + found + " instead of \"" + identifier + "\", the identifier of " + type_name +
               ": this is not a dump of that type (pool envelopes say \"" + fb::TaskIdentifier() + "\" or \"" +
               fb::ResultIdentifier() + "\")");
  }
  if (!own_tail && view.info != nullptr && !descriptor.empty() && view.info->schema_hash() != fnv1a(descriptor)) {
    const std::string written = view.info->descriptor() != nullptr ? view.info->descriptor()->str() : std::string();
    if (!shapes_compatible(written, descriptor)) {
      reject(bytes, "type",
             "it holds a value of type " + stored_type(view.info) + " (shape " + written + "), which a reader of " + type_name +
                 " (shape " + descriptor +
                 ") cannot read: only fields added at the end of a table are compatible; load it as the type it "
                 "was dumped as");
    }
  }
  const std::size_t root = read_at<flatbuffers::uoffset_t>(bytes, 0, "root", "the root table offset");
  if (root < kHeaderSize || root >= bytes.size() || root % 4 != 0) {
    reject(bytes, "root", "the root table offset " + std::to_string(root) + " lies outside it");
  }
  view.root = data + root;
  return view;
}

void reject_root(std::span<const std::byte> bytes, const std::string& type_name) {
  reject(bytes, "verifier",
         "its root table failed verification as a " + type_name +
             " (an offset, length, alignment or nesting depth inside it is out of bounds); the bytes are corrupt");
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
  const detail::DumpView view = detail::open_dump(bytes_, {}, {}, "call");
  if (view.info == nullptr || view.info->function_name() == nullptr) {
    reject(bytes_, "type",
           "it holds a value of type " + stored_type(view.info) + ", not a call; load it with brine::loads");
  }
  name_ = view.info->function_name()->str();
  const std::string identifier = detail::identifier_for(detail::call_table_name(name_));
  if (!flatbuffers::BufferHasIdentifier(reinterpret_cast<const uint8_t*>(bytes_.data()), identifier.c_str())) {
    reject(bytes_, "identifier", "it does not carry the identifier of a call to " + name_ + "; it is corrupt");
  }
  flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(bytes_.data()), bytes_.size(),
                          verifier_options(bytes_.size()));
  if (!reinterpret_cast<const flatbuffers::Table*>(view.root)->VerifyTableStart(v)) {
    reject(bytes_, "verifier", "its call table is malformed");
  }
}

void Call::check_result(const std::string& descriptor, const std::string& type_name) const {
  const detail::DumpView view = detail::open_dump(bytes_, {}, {}, "call");
  if (view.info->result_hash() == fnv1a(descriptor)) return;
  reject(bytes_, "type",
         "the call to " + name_ + " returns " + stored_type(view.info) + ", not the requested " + type_name +
             "; run it as the type the function returns");
}

flatbuffers::DetachedBuffer Call::execute(const ReducerTable* reducers) const {
  const detail::DumpView view = detail::open_dump(bytes_, {}, {}, "call");
  const FunctionRegistry& registry = FunctionRegistry::global();
  const FunctionInfo* info = registry.find(view.info->function_id());
  if (info == nullptr) {
    throw NotRegistered("brine: " + name_ +
                        " is not registered in this binary; register it with BRINE_REGISTER in a linked file");
  }
  if (info->signature != view.info->signature()) {
    throw DecodeError("brine: the call's argument types do not match " + info->name + info->signature_text +
                      " as registered in this binary; rebuild both sides from the same sources");
  }
  Decoder d(nullptr, reducers);
  d.set_envelope(reinterpret_cast<const uint8_t*>(bytes_.data()), bytes_.size(), nullptr);
  flatbuffers::FlatBufferBuilder fbb;
  Encoder e(fbb, {.reducers = reducers});
  const CallFrame frame{reinterpret_cast<const flatbuffers::Table*>(view.root), nullptr, 0};
  finish_result(e, invoke_call(*info, info->invoke, 0, frame, d, e));
  return fbb.Release();
}

Call loads_call(std::span<const std::byte> bytes) { return Call(std::vector<std::byte>(bytes.begin(), bytes.end())); }

Call load_call(const std::filesystem::path& path) { return Call(detail::read_file(path)); }

}  // namespace brine
