// ClusterPool over MPI. See <brine/mpi/cluster.h> for the contract; this file holds the three
// parts that make it:
//
//  1. cluster_run: a registered function that a worker of a rank's local Pool runs. Its
//     arguments are a driver's task envelope (verbatim, as received) and the buffers the driver
//     sent beside it; it verifies the envelope and runs it with core's run_task, exactly as a
//     Pool worker runs an envelope from its slot, and returns the result envelope's bytes.
//  2. RankServer: one rank's share of the cluster, a local brine::Pool. It verifies each frame
//     that arrives, submits cluster_run for it and, once its future completes, emits the result
//     envelope (or an error envelope naming the rank, host and pid when the worker died).
//  3. ClusterCore: MPI. On rank 0 a service thread owns every MPI call: it dispatches the
//     backlog to the ranks with free workers, ships buffers a rank does not hold yet, receives
//     results and completes the futures (outside its lock). On other ranks the main thread runs
//     the same kind of loop around a RankServer until the driver says stop.
//
// Messages (on a duplicate of MPI_COMM_WORLD, so the program's own MPI traffic cannot match
// ours), in MPI's non-overtaking order between one pair of ranks:
//   kHello     rank -> 0   Hello {workers, pid, host}
//   kBufferHead 0 -> rank  BufferHead {id, size, cached}, then the bytes as kBufferData
//                          messages of at most kMaxChunk each, received in place into the rank's
//                          arena
//   kTask      0 -> rank   a task envelope (fb::Task) followed by a Trailer {task id, timeout,
//                          keep id, element size}; a keep id asks the rank to keep the result
//   kResult    rank -> 0   a result envelope (fb::Result) followed by a Trailer; for a kept
//                          result, a notice (a result whose value is the kept envelope's size)
//   kFetch     0 -> rank   Fetch {task id, keep id}: send the kept result, as kResult (the
//                          envelope as the worker made it, with its own task id)
//   kHeld      rank -> 0   uint64: the buffers and kept results the rank holds now (on change)
//   kHave      rank -> 0   uint64: a cached buffer's id, once the rank holds all of it (with
//                          kHaveFailed: a peer did not pass it after all)
//   kPeerSend  0 -> rank   PeerSend {id, to}: send a buffer (or kept value) you hold to rank `to`
//   kPeerHead  0 -> rank   PeerHead {id, from}: receive a buffer from rank `from` (same host)
//   kPeerData  rank -> rank  its size (uint64; UINT64_MAX: not held), then the bytes in pieces of
//                          at most kMaxChunk. Ranks of one host pass cached buffers to each other
//                          this way, so the driver sends each once per host (Open MPI carries
//                          messages between ranks of a host over shared memory: btl vader)
//   kRelease   0 -> rank   ids of cached buffers the driver dropped
//   kShutdown  0 -> rank   one byte: 1 = kill the workers now, 0 = finish first
//   kBye       rank -> 0   the rank stopped serving (its results were all sent before)
//   kAlive     rank -> 0   nothing to say, sent when a quarter of ClusterOptions::host_timeout
//                          passed without a message (also between the pieces of a large buffer)
#include "brine/mpi/cluster.h"

#include <mpi.h>
#include <sched.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <set>
#include <span>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>

#include "brine/core/call.h"

namespace brine {
namespace detail {
namespace {

constexpr int kHello = 1;
constexpr int kBufferHead = 2;
constexpr int kBufferData = 3;
constexpr int kTask = 4;
constexpr int kResult = 5;
constexpr int kRelease = 6;
constexpr int kShutdown = 7;
constexpr int kBye = 8;
constexpr int kAlive = 9;
constexpr int kFetch = 10;
constexpr int kHeld = 11;
constexpr int kHave = 12;
constexpr int kPeerSend = 13;
constexpr int kPeerHead = 14;
constexpr int kPeerData = 15;

// BufferRef::generation of a reference to a kept result (RemoteRef): the whole value, whatever
// its size (the driver does not know it when it encodes the task).
constexpr uint32_t kWholeKept = 1;

// Buffers travel in pieces of at most this many bytes (MPI counts are ints; between two pieces
// a receiving rank can say it is alive).
constexpr std::size_t kMaxChunk = std::size_t{64} << 20;
// A frame (envelope + trailer) is one message.
constexpr std::size_t kMaxFrame = std::size_t{INT32_MAX};

struct Hello {
  uint32_t workers;
  int32_t pid;
  char host[64];
};
static_assert(std::is_trivially_copyable_v<Hello>);

struct BufferHead {
  uint64_t id;
  uint64_t size;
  uint64_t cached;  // 1: kept until released; 0: belongs to the next task only
};
static_assert(sizeof(BufferHead) == 24);

// Follows every envelope on the wire: the envelope itself stays at the start of the message,
// aligned as it was built. keep_id and elem_size are the driver's (0 from a rank).
struct Trailer {
  uint64_t task_id;
  int64_t timeout_ms;
  uint32_t keep_id;    // keep the result under this buffer id (submit_remote); 0: send it
  uint32_t elem_size;  // of the kept value's elements, if it is one contiguous vector; else 0
};
static_assert(sizeof(Trailer) == 24 && std::is_trivially_copyable_v<Trailer>);

struct Fetch {
  uint64_t task_id;
  uint64_t keep_id;
};
static_assert(sizeof(Fetch) == 16);

struct PeerSend {
  uint64_t id;
  int64_t to;
};
struct PeerHead {
  uint64_t id;
  int64_t from;
};
static_assert(sizeof(PeerSend) == 16 && sizeof(PeerHead) == 16);
constexpr uint64_t kNotHeld = UINT64_MAX;
// Set in a kHave id: the rank did not get that buffer from its peer after all (the driver sends
// it again to the next task there that needs it).
constexpr uint64_t kHaveFailed = uint64_t{1} << 63;

// Heap bytes aligned to 64 (vectors of any scalar decode in place from them).
class AlignedBytes {
 public:
  explicit AlignedBytes(std::size_t n) : size_(n) {
    data_ = static_cast<std::byte*>(std::aligned_alloc(64, (std::max<std::size_t>(n, 1) + 63) / 64 * 64));
    if (data_ == nullptr) throw std::bad_alloc();
  }
  ~AlignedBytes() { std::free(data_); }
  AlignedBytes(const AlignedBytes&) = delete;
  AlignedBytes& operator=(const AlignedBytes&) = delete;
  std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

 private:
  std::size_t size_;
  std::byte* data_;
};

std::string mpi_error_text(int rc) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(rc);
  return std::string(text, static_cast<std::size_t>(len));
}

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw Error(ErrorCode::kUnknown, std::string("brine: MPI call ") + what + " failed: " + mpi_error_text(rc));
}

std::string host_name() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) return "unknown-host";
  return host;
}

// The rank the launcher gave this process, before MPI_Init (Open MPI, PMIx, MPICH); -1 if none.
int rank_from_environment() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"}) {
    if (const char* v = std::getenv(name); v != nullptr && *v != '\0') return std::atoi(v);
  }
  return -1;
}

// A finished result envelope for a failure that happened outside the task (on a rank).
std::vector<uint8_t> error_result(uint64_t task_id, fb::Phase phase, ErrorCode code, std::string_view type_name,
                                  std::string_view message, std::string_view where) {
  flatbuffers::FlatBufferBuilder fbb(512);
  Encoder e(fbb);
  finish_result(e, encode_error(e, task_id, phase, code, type_name, message, where));
  return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

void append_trailer(std::vector<uint8_t>& frame, Trailer t) {
  const auto* p = reinterpret_cast<const uint8_t*>(&t);
  frame.insert(frame.end(), p, p + sizeof t);
}

Trailer read_trailer(const std::byte* frame, std::size_t size) {
  if (size < sizeof(Trailer)) {
    throw DecodeError("brine: a cluster message of " + std::to_string(size) + " bytes is too short for its trailer");
  }
  Trailer t;
  std::memcpy(&t, frame + size - sizeof t, sizeof t);
  return t;
}

// The bytes a task reads in place from a kept result (a vector<T> or SharedVector<T>): the vector
// in field 0 of its value table (brine's Box<R>), checked to lie inside the envelope. Throws
// DecodeError.
std::span<const uint8_t> kept_value(std::span<const uint8_t> envelope, std::size_t elem_size) {
  const fb::Result& r = verify_result(std::as_bytes(envelope));
  if (r.error() != nullptr) throw DecodeError("brine: a kept result holds an error, not a value");
  if (r.refs() != nullptr && r.refs()->size() != 0) {
    throw DecodeError("brine: a kept result references arena buffers; a cluster result must hold its bytes");
  }
  const auto* table = reinterpret_cast<const flatbuffers::Table*>(r.value());
  if (table == nullptr) throw DecodeError("brine: a kept result carries no value");
  flatbuffers::Verifier v(envelope.data(), envelope.size(), verifier_options(envelope.size()));
  if (!table->VerifyOffset(v, 4)) throw DecodeError("brine: a kept result's value is not a vector");
  const auto* vec = table->GetPointer<const uint8_t*>(4);
  if (vec == nullptr) return {};
  if (!v.VerifyVectorOrString(vec, elem_size)) throw DecodeError("brine: a kept result's vector lies outside its envelope");
  const auto count = flatbuffers::ReadScalar<flatbuffers::uoffset_t>(vec);
  return {vec + sizeof(flatbuffers::uoffset_t), std::size_t{count} * elem_size};
}

// What a rank sends instead of a result it keeps: a result whose value is the kept envelope's size.
std::vector<uint8_t> kept_notice(uint64_t task_id, uint64_t bytes) {
  flatbuffers::FlatBufferBuilder fbb(128);
  Encoder e(fbb);
  ResultParts parts;
  parts.task_id = task_id;
  parts.value = Box<uint64_t>::write(e, bytes);
  finish_result(e, parts);
  return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

// ---- 1. in a worker of a serving rank ----------------------------------------------------------

// The buffers the driver sent beside an envelope, by the id its references name.
class SentBuffers final : public BufferSource {
 public:
  SentBuffers(const std::vector<uint32_t>& ids, const std::vector<std::span<const uint8_t>>& buffers)
      : ids_(ids), buffers_(buffers) {}
  std::span<const std::byte> resolve(const fb::BufferRef& ref) const override {
    for (std::size_t i = 0; i < ids_.size(); ++i) {
      if (ids_[i] != ref.block()) continue;
      const std::span<const uint8_t> b = buffers_[i];
      if (ref.generation() == kWholeKept && ref.offset() == 0) return std::as_bytes(b);
      if (ref.generation() != 0 || ref.offset() > b.size() || ref.length() > b.size() - ref.offset()) {
        throw DecodeError("brine: a task references bytes [" + std::to_string(ref.offset()) + ", +" +
                          std::to_string(ref.length()) + ") of cluster buffer " + std::to_string(ref.block()) +
                          ", which holds " + std::to_string(b.size()) + " bytes");
      }
      return std::as_bytes(b.subspan(ref.offset(), ref.length()));
    }
    throw DecodeError("brine: a task references cluster buffer " + std::to_string(ref.block()) +
                      ", which was not sent with it");
  }

 private:
  const std::vector<uint32_t>& ids_;
  const std::vector<std::span<const uint8_t>>& buffers_;
};

}  // namespace

// Runs a driver's task envelope in this worker: the same verification and run_task as a Pool
// worker's, with the references resolved against the buffers sent beside it. Everything the
// result holds is copied into it (it crosses the network next).
std::vector<uint8_t> cluster_run(std::span<const uint8_t> envelope, std::vector<uint32_t> ids,
                                 std::vector<std::span<const uint8_t>> buffers) {
  flatbuffers::FlatBufferBuilder fbb(1024);
  Encoder e(fbb);
  ResultParts result;
  uint64_t task_id = 0;
  try {
    if (ids.size() != buffers.size()) throw DecodeError("brine: a cluster task lists buffer ids and buffers that differ in number");
    const fb::Task& task = verify_task(std::as_bytes(envelope));
    task_id = task.head()->task_id();
    const SentBuffers source(ids, buffers);
    Decoder d(&source);
    d.set_envelope(envelope.data(), envelope.size(), task.refs());
    result = run_task(task, FunctionRegistry::global(), d, e);
  } catch (const Error& err) {
    fbb.Clear();
    result = encode_error(e, task_id, fb::Phase::DecodeTask, err.code(), current_exception_type(), err.what(), "cluster worker");
  }
  finish_result(e, result);
  return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

}  // namespace detail
}  // namespace brine

BRINE_REGISTER_AS(brine::detail::cluster_run, "brine::cluster_run");

namespace brine::detail {
namespace {

// ---- 2. one rank's share of the cluster --------------------------------------------------------

class RankServer {
 public:
  // Called with each finished result frame (envelope + trailer), from the pool's collector
  // thread (or from run() itself, for a frame refused before it reached the pool).
  using Emit = std::function<void(std::vector<uint8_t>)>;

  RankServer(const PoolOptions& options, Emit emit) : emit_(std::move(emit)), pool_(options) {}

  void identify(int rank) {
    rank_ = rank;
    where_ = "rank " + std::to_string(rank) + " (host " + host_name() + ", pid " + std::to_string(getpid()) + ")";
  }
  Pool& pool() noexcept { return pool_; }
  // Drops every buffer and kept result: their arena blocks must die before the pool does.
  void drop_all() {
    adopt_kept();
    buffers_.clear();
  }
  unsigned workers() const noexcept { return pool_.size(); }
  uint64_t in_flight() const noexcept { return in_flight_.load(std::memory_order_acquire); }
  std::size_t buffers_held() const noexcept { return buffers_.size(); }

  // Arena bytes to receive a frame or a buffer into (never copied again on this rank).
  SharedVector<uint8_t> allocate(std::size_t n) { return pool_.shared_vector<uint8_t>(n); }
  void store(uint32_t id, SharedVector<uint8_t> data, bool cached) {
    buffers_[id] = Held{std::move(data), cached, {}};
    missing_.erase(id);
  }
  void release(uint32_t id) {
    buffers_.erase(id);
    missing_.erase(id);
  }
  // A buffer a rank of this host was to pass on never came: tasks that need it fail saying why.
  void missing(uint32_t id, std::string why) { missing_[id] = std::move(why); }

  // Takes in the results kept since the last call. The thread that owns buffers_ calls it after
  // taking the emitted frames: a notice it sends was emitted after its result was queued here,
  // so no task that uses the result can arrive before it is held.
  void adopt_kept() {
    std::deque<std::pair<uint32_t, Held>> kept;
    {
      std::lock_guard lock(kept_mu_);
      kept.swap(kept_);
    }
    for (auto& [id, held] : kept) buffers_[id] = std::move(held);
  }
  // A kept result's frame (its envelope and a trailer with its task id), as a kResult message;
  // empty if this rank does not keep `id`.
  SharedVector<uint8_t> kept_frame(uint32_t id) const {
    const auto it = buffers_.find(id);
    return it != buffers_.end() ? it->second.frame : SharedVector<uint8_t>();
  }
  // What a task reads for `id` (a cached buffer or a kept value), to pass to a host peer; empty
  // if this rank holds nothing under `id`.
  std::optional<SharedVector<uint8_t>> held(uint32_t id) const {
    const auto it = buffers_.find(id);
    if (it == buffers_.end()) return std::nullopt;
    return it->second.data;
  }
  // The error frame a fetch of a result this rank does not keep gets.
  std::vector<uint8_t> not_kept(uint64_t task_id, uint32_t id) const {
    std::vector<uint8_t> out = error_result(task_id, fb::Phase::Run, ErrorCode::kDecode, "brine::DecodeError",
                                            "brine: " + where_ + " keeps no result " + std::to_string(id) +
                                                " (released, or never kept there)",
                                            "cluster fetch");
    append_trailer(out, Trailer{task_id, 0, 0, 0});
    return out;
  }

  // Verifies a task frame and runs it on the local pool; its result (or error) is emitted once.
  void run(const SharedVector<uint8_t>& frame) {
    const auto* bytes = reinterpret_cast<const std::byte*>(frame.data());
    const Trailer t = read_trailer(bytes, frame.size());
    const std::span<const uint8_t> envelope(frame.data(), frame.size() - sizeof(Trailer));
    std::string fn = "a cluster task";
    std::vector<uint32_t> used;  // buffer ids, in the order they are passed
    std::vector<std::span<const uint8_t>> buffers;
    try {
      const fb::Task& task = verify_task(std::as_bytes(envelope));
      const fb::TaskHead& head = *task.head();  // required: the verifier checked it is there
      if (head.task_id() != t.task_id) {
        throw DecodeError("brine: a task envelope carries id " + std::to_string(head.task_id()) +
                          " in a frame for task " + std::to_string(t.task_id));
      }
      if (const FunctionInfo* info = FunctionRegistry::global().find(head.function_id())) fn = info->name;
      if (const auto* refs = task.refs()) {
        for (flatbuffers::uoffset_t i = 0; i < refs->size(); ++i) {
          const uint32_t id = refs->Get(i)->ref().block();
          if (std::find(used.begin(), used.end(), id) != used.end()) continue;
          const auto it = buffers_.find(id);
          if (it == buffers_.end()) {
            const auto why = missing_.find(id);
            throw DecodeError("brine: " + where_ + " got a task that references cluster buffer " + std::to_string(id) +
                              ", which it does not hold" + (why != missing_.end() ? ": " + why->second : std::string()));
          }
          used.push_back(id);
          buffers.emplace_back(it->second.data.data(), it->second.data.size());
        }
      }
      in_flight_.fetch_add(1, std::memory_order_acq_rel);
      Future<std::vector<uint8_t>> f;
      try {
        f = pool_.submit_with({.timeout = std::chrono::milliseconds(t.timeout_ms)}, cluster_run, envelope, used, buffers);
      } catch (...) {
        in_flight_.fetch_sub(1, std::memory_order_acq_rel);
        throw;
      }
      // A one-task buffer lives on in the local task that holds its arena block.
      for (uint32_t id : used) {
        if (auto it = buffers_.find(id); it != buffers_.end() && !it->second.cached) buffers_.erase(it);
      }
      f.add_done_callback([this, f, t, fn]() mutable {
        const uint64_t id = t.task_id;
        std::vector<uint8_t> out;
        try {
          out = f.get();
        } catch (const Error& err) {
          out = failure(id, err, fn);
        } catch (...) {
          out = error_result(id, fb::Phase::Run, ErrorCode::kUnknown, current_exception_type(),
                             "brine: on " + where_ + ": " + current_exception_message(), fn);
        }
        if (t.keep_id != 0) out = keep(t, std::move(out), fn);
        append_trailer(out, Trailer{id, 0, 0, 0});
        emit_(std::move(out));  // before the count drops: a stopping loop waits for both
        in_flight_.fetch_sub(1, std::memory_order_acq_rel);
      });
    } catch (const Error& err) {
      std::vector<uint8_t> out = failure(t.task_id, err, fn);
      append_trailer(out, Trailer{t.task_id, 0, 0, 0});
      emit_(std::move(out));
    }
  }

 private:
  // The envelope of a failure on this rank: the same error class, its message naming the rank.
  std::vector<uint8_t> failure(uint64_t id, const Error& err, const std::string& fn) const {
    std::string_view text = err.what();
    const std::string prefix = std::string(err.name()) + ": ";
    if (text.substr(0, prefix.size()) == prefix) text.remove_prefix(prefix.size());
    return error_result(id, fb::Phase::Run, err.code(), err.name(), "brine: on " + where_ + ": " + std::string(text), fn);
  }

  struct Held {
    SharedVector<uint8_t> data;   // what a task that references it reads
    bool cached = false;          // kept until released (else: for the next task only)
    SharedVector<uint8_t> frame;  // a kept result: its envelope and trailer, as a fetch sends it
  };

  // Keeps a task's result envelope here (submit_remote): copied into the arena with the
  // trailer a fetch sends, queued for adopt_kept(); returns the notice the driver gets instead
  // (or the task's error, or an error naming this rank if the result cannot be kept).
  std::vector<uint8_t> keep(const Trailer& t, std::vector<uint8_t> envelope, const std::string& fn) {
    try {
      const fb::Result& r = verify_result(std::as_bytes(std::span<const uint8_t>(envelope)));
      if (r.error() != nullptr) return envelope;  // nothing to keep: the error goes to the driver
      SharedVector<uint8_t> frame = allocate(envelope.size() + sizeof(Trailer));
      std::memcpy(frame.data(), envelope.data(), envelope.size());
      const Trailer back{t.task_id, 0, 0, 0};
      std::memcpy(frame.data() + envelope.size(), &back, sizeof back);
      std::span<const uint8_t> value(frame.data(), envelope.size());
      if (t.elem_size != 0) value = kept_value(value, t.elem_size);
      Held held{SharedVector<uint8_t>(std::make_shared<SharedVector<uint8_t>>(frame), const_cast<uint8_t*>(value.data()),
                                      value.size()),
                true, frame};
      {
        std::lock_guard lock(kept_mu_);
        kept_.emplace_back(t.keep_id, std::move(held));
      }
      return kept_notice(t.task_id, envelope.size());
    } catch (const Error& err) {
      return failure(t.task_id, err, fn);
    }
  }

  int rank_ = 0;
  std::string where_ = "rank ?";
  Emit emit_;
  std::atomic<uint64_t> in_flight_{0};
  std::unordered_map<uint32_t, Held> buffers_;  // the service thread's only
  std::unordered_map<uint32_t, std::string> missing_;  // likewise: buffers a peer did not pass on, and why
  std::mutex kept_mu_;
  std::deque<std::pair<uint32_t, Held>> kept_;  // kept by the pool's collector, for adopt_kept()
  Pool pool_;  // last: destroyed first, while what its callbacks use still lives
};

// ---- 3. MPI ------------------------------------------------------------------------------------

// A buffer the driver ships beside envelopes: a SharedVector's storage (cached on ranks by
// identity until its last handle dies) or a copy made for one task.
struct DriverBuffer {
  DriverBuffer(uint32_t id_, std::size_t n, bool cached_) : id(id_), bytes(n), cached(cached_) {}
  ~DriverBuffer();
  uint32_t id;
  AlignedBytes bytes;
  bool cached;
  std::weak_ptr<ClusterCore> core;  // set for cached buffers
};

// A future waiting for a kept result's value (RemoteRef::fetch).
struct FetchRequest {
  std::shared_ptr<RemoteResult> ref;
  std::shared_ptr<TaskStateBase> state;
  std::shared_ptr<std::shared_ptr<const void>> bytes;  // set to the fetched frame: the value's views point into it
};

struct ClusterTask {
  uint64_t id = 0;
  std::shared_ptr<TaskStateBase> state;  // until completed
  std::shared_ptr<AlignedBytes> frame;   // envelope + trailer, until sent and done
  std::vector<std::shared_ptr<DriverBuffer>> buffers;
  std::shared_ptr<AlignedBytes> result;  // the value's views point into it: lives with the future
  std::string function;
  int rank = -1;
  // submit_remote: the record of its kept result, which is `state` (not owned here: the state's
  // cancel hook owns this task, and a second owner would make a cycle)
  RemoteResult* keep = nullptr;
  std::vector<std::shared_ptr<RemoteResult>> inputs;   // RemoteRef arguments; a fetch: the value it brings
  // A fetch of inputs[0]'s value from the rank that keeps it (its id is the task that made the
  // value): not a task, takes no worker. Every future fetching that value while it travels
  // waits on the one fetch; a staging fetch copies the value to the driver (staged_).
  bool fetch = false;
  bool staging = false;
  std::vector<FetchRequest> waiters;
};

}  // namespace

class ClusterCore : public std::enable_shared_from_this<ClusterCore> {
 public:
  explicit ClusterCore(ClusterOptions options) : options_(std::move(options)) {}

  // ---- set-up ----------------------------------------------------------------------------------

  // Returns true on rank 0; serves and exits on every other rank.
  bool start(int* argc, char*** argv) {
    if (options_.pool.reducers != nullptr) {
      throw NotSerializable("brine: per-pool reducers (PoolOptions::reducers) cannot cross MPI ranks; register a "
                            "global brine::Reducer<T> instead");
    }
    // A rank's local pool starts before MPI does, so that its fork server is forked from a
    // process with no MPI state and no threads of MPI's.
    const int env_rank = rank_from_environment();
    if (env_rank > 0) make_server();
    if (env_rank == 0 && options_.driver_workers > 0) make_local();

    int initialized = 0;
    MPI_Initialized(&initialized);
    int provided = MPI_THREAD_SINGLE;
    if (initialized == 0) {
      check(MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
      owns_mpi_ = true;
    } else {
      MPI_Query_thread(&provided);
    }
    if (provided < MPI_THREAD_SERIALIZED) {
      if (owns_mpi_) MPI_Finalize();
      throw Error(ErrorCode::kUnknown, "brine: this MPI library gives thread level " + std::to_string(provided) +
                                           "; brine::ClusterPool needs MPI_THREAD_SERIALIZED (initialize MPI with "
                                           "MPI_Init_thread, or let the ClusterPool do it)");
    }
    check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    if (rank_ != 0) {
      serve();  // never returns
    }
    if (options_.driver_workers > 0 && !local_) make_local();
    if (size_ < 2 && !local_) {
      finalize();
      throw Error(ErrorCode::kUnknown, "brine: a ClusterPool needs a rank to run tasks on: start the program with "
                                       "mpirun -np N (N >= 2), or give rank 0 workers with ClusterOptions::driver_workers");
    }
    // Every rank says how many workers it has, and where it runs.
    if (local_) {
      Link link;
      link.local = true;
      link.stats.rank = 0;
      link.stats.host = host_name();
      link.stats.pid = getpid();
      link.stats.workers = local_->workers();
      links_.push_back(std::move(link));
    }
    for (int r = 1; r < size_; ++r) {
      Hello h{};
      check(MPI_Recv(&h, sizeof h, MPI_BYTE, r, kHello, comm_, MPI_STATUS_IGNORE), "MPI_Recv (hello)");
      Link link;
      link.stats.rank = r;
      link.stats.host = std::string(h.host, strnlen(h.host, sizeof h.host));
      link.stats.pid = h.pid;
      link.stats.workers = h.workers;
      link.heard = std::chrono::steady_clock::now();
      links_.push_back(std::move(link));
    }
    for (const Link& l : links_) total_workers_ += l.stats.workers;
    service_ = std::thread([this] { service(); });
    return true;
  }

  // ---- the driver's API ----------------------------------------------------------------------

  void submit(const std::shared_ptr<TaskStateBase>& state, const FunctionInfo& info,
              const std::function<EncodedCall(Encoder&)>& encode, const SubmitOptions& opts,
              const std::shared_ptr<RemoteResult>& keep) {
    if (closing_.load(std::memory_order_acquire)) {
      throw PoolClosed("brine: submit after the cluster was shut down; create a new brine::ClusterPool");
    }
    auto task = std::make_shared<ClusterTask>();
    task->id = next_task_.fetch_add(1, std::memory_order_relaxed);
    task->function = info.name;
    if (keep) {
      keep->id = next_buffer_.fetch_add(1, std::memory_order_relaxed);
      keep->task_id = task->id;
      keep->function = info.name;
      keep->core = weak_from_this();
      task->keep = keep.get();
      std::lock_guard lock(buffers_mu_);
      remote_[reinterpret_cast<uintptr_t>(keep->token())] = keep;
    }
    flatbuffers::FlatBufferBuilder fbb(4096);
    Sink sink(*this, task->buffers, task->inputs);
    Encoder e(fbb, {options_.reference_threshold, &sink, nullptr});
    std::exception_ptr error;
    try {
      finish_task(e, task->id, info, encode(e));
      const std::size_t n = fbb.GetSize();
      if (n + sizeof(Trailer) > kMaxFrame) {
        throw NotSerializable("brine: a task envelope of " + std::to_string(n) + " bytes exceeds one MPI message (" +
                              std::to_string(kMaxFrame) + " bytes); pass large data as brine::ref or a SharedVector");
      }
      task->frame = std::make_shared<AlignedBytes>(n + sizeof(Trailer));
      std::memcpy(task->frame->data(), fbb.GetBufferPointer(), n);
      const Trailer t{task->id, static_cast<int64_t>(opts.timeout.count()), keep ? keep->id : 0u,
                      keep ? static_cast<uint32_t>(keep->elem_size) : 0u};
      std::memcpy(task->frame->data() + n, &t, sizeof t);
      state->bytes_copied = e.bytes_copied() + n;
    } catch (...) {
      error = std::current_exception();
    }
    if (error) {
      state->fail(std::move(error));
      return;
    }
    task->state = state;
    state->cancel_hook = [weak = weak_from_this(), task] {
      auto core = weak.lock();
      return core != nullptr && core->cancel(*task);
    };
    {
      std::lock_guard lock(mu_);
      if (closing_.load(std::memory_order_acquire)) {
        task->state.reset();
        throw PoolClosed("brine: submit after the cluster was shut down; create a new brine::ClusterPool");
      }
      backlog_.push_back(std::move(task));
      ++submitted_;
    }
    cv_.notify_one();
  }

  std::pair<std::shared_ptr<const void>, void*> allocate_shared(std::size_t bytes) {
    auto buf = std::make_shared<DriverBuffer>(next_buffer_.fetch_add(1, std::memory_order_relaxed), bytes, true);
    buf->core = weak_from_this();
    std::lock_guard lock(buffers_mu_);
    cached_[reinterpret_cast<uintptr_t>(buf->bytes.data())] = buf;
    return {buf, buf->bytes.data()};
  }

  // A cached buffer's last handle died: forget it here, and on every rank that holds it.
  void drop_cached(const DriverBuffer& buf) noexcept {
    {
      std::lock_guard lock(buffers_mu_);
      cached_.erase(reinterpret_cast<uintptr_t>(buf.bytes.data()));
    }
    try {
      std::lock_guard lock(releases_mu_);  // not mu_: the last handle may die under it
      releases_.push_back(buf.id);
    } catch (...) {
      // out of memory: the ranks keep a copy until they exit
    }
    cv_.notify_one();
  }

  // A kept result's last handle died: forget its token, and free it on every rank that holds it.
  void forget(const RemoteResult& ref) noexcept {
    {
      std::lock_guard lock(buffers_mu_);
      remote_.erase(reinterpret_cast<uintptr_t>(ref.token()));
    }
    if (ref.id == 0) return;  // never submitted
    try {
      std::lock_guard lock(releases_mu_);
      releases_.push_back(ref.id);
    } catch (...) {
      // out of memory: the rank keeps the value until it exits
    }
    cv_.notify_one();
  }

  // RemoteRef::fetch: queued until the value exists, then asked of the rank that keeps it.
  void fetch(FetchRequest request) {
    {
      std::lock_guard lock(mu_);
      if (closing_.load(std::memory_order_acquire)) {
        throw PoolClosed("brine: RemoteRef::get/fetch after the cluster was shut down: the ranks that kept results "
                         "have stopped; fetch what you need before ClusterPool::shutdown");
      }
      fetches_.push_back(std::move(request));
    }
    cv_.notify_one();
  }

  bool owns(const RemoteResult& ref) const noexcept { return ref.core.lock().get() == this; }

  bool cancel(ClusterTask& task) {
    std::shared_ptr<TaskStateBase> state;
    {
      std::lock_guard lock(mu_);
      const auto it = std::find_if(backlog_.begin(), backlog_.end(), [&](const auto& t) { return t.get() == &task; });
      if (it == backlog_.end()) return false;
      state = std::move(task.state);
      (*it)->frame.reset();
      (*it)->buffers.clear();
      backlog_.erase(it);
      ++completed_;
    }
    if (state) state->fail(std::make_exception_ptr(Cancelled("brine: the task was cancelled before any rank started it")));
    return true;
  }

  std::size_t default_chunksize(std::size_t n, bool vectorized) const noexcept {
    const std::size_t per = n / (std::size_t{4} * std::max(1u, total_workers_));
    return std::clamp<std::size_t>(per, 1, vectorized ? std::size_t{1} << 14 : 4096);
  }

  ClusterStats stats() const {
    std::lock_guard lock(mu_);
    ClusterStats s;
    s.submitted = submitted_;
    s.completed = completed_;
    s.backlog = backlog_.size();
    s.results_staged = results_staged_;
    for (const Link& l : links_) {
      s.ranks.push_back(l.stats);
      s.ranks.back().buffers_cached = l.held.size() - l.kept.size();
      s.ranks.back().results_held = l.kept.size();
      s.ranks.back().lost = l.lost;
    }
    return s;
  }

  void shutdown(bool wait, bool cancel_futures) {
    std::vector<std::shared_ptr<ClusterTask>> cancelled;
    {
      std::lock_guard lock(mu_);
      if (!closing_.exchange(true, std::memory_order_acq_rel)) {
        now_ = !wait;
        if (!wait || cancel_futures) {
          cancelled.assign(backlog_.begin(), backlog_.end());
          backlog_.clear();
          completed_ += cancelled.size();
        }
      }
    }
    for (auto& t : cancelled) {
      if (t->state) {
        t->state->fail(std::make_exception_ptr(Cancelled("brine: the cluster was shut down before any rank started the task")));
      }
    }
    cv_.notify_one();
    std::lock_guard join_lock(join_mu_);
    if (service_.joinable()) service_.join();
    finalize();
  }

  int rank_count() const noexcept { return size_; }
  unsigned total_workers() const noexcept { return total_workers_; }
  bool closed() const noexcept { return closing_.load(std::memory_order_acquire); }
  const ClusterOptions& options() const noexcept { return options_; }

 private:
  struct Link {
    ClusterRankStats stats;
    std::set<uint32_t> held;  // cached buffers and kept results this rank holds
    std::set<uint32_t> kept;  // of those, the results it computed and keeps (submit_remote)
    std::set<uint32_t> have;  // of those, the ones it said it holds whole (kHave): it can pass them on
    bool local = false;        // rank 0's own pool
    bool bye = false;
    bool lost = false;         // silent for longer than host_timeout: given up
    std::chrono::steady_clock::time_point heard;  // its last message (or a send to it finishing)
  };
  struct PendingSend {
    MPI_Request request;
    int dest;
    std::shared_ptr<const void> keep;  // the bytes, until MPI is done with them
  };
  struct Arrival {
    std::shared_ptr<ClusterTask> task;
    std::shared_ptr<TaskStateBase> state;
    std::shared_ptr<AlignedBytes> bytes;  // result frame
    std::exception_ptr error;             // instead of bytes
    std::shared_ptr<std::shared_ptr<const void>> keep_bytes;  // a fetch's: where its future keeps them
  };

  // Encodes a task's large buffers beside it: a SharedVector by identity, anything else copied
  // into a buffer of its own.
  class Sink final : public BufferSink {
   public:
    Sink(ClusterCore& core, std::vector<std::shared_ptr<DriverBuffer>>& used,
         std::vector<std::shared_ptr<RemoteResult>>& inputs)
        : core_(core), used_(used), inputs_(inputs) {}
    std::optional<fb::BufferRef> locate(const void* data, std::size_t size) override {
      std::shared_ptr<DriverBuffer> buf;  // before the lock: if it is the last handle, it dies after it
      std::shared_ptr<RemoteResult> ref;
      std::lock_guard lock(core_.buffers_mu_);
      const auto addr = reinterpret_cast<uintptr_t>(data);
      // A RemoteRef argument (prepare_cluster_argument): the whole value, wherever it is kept.
      if (const auto r = core_.remote_.find(addr); r != core_.remote_.end() && (ref = r->second.lock())) {
        if (std::none_of(inputs_.begin(), inputs_.end(), [&](const auto& in) { return in == ref; })) inputs_.push_back(ref);
        return fb::BufferRef(ref->id, kWholeKept, 0, 0);
      }
      auto it = core_.cached_.upper_bound(addr);
      if (it == core_.cached_.begin()) return std::nullopt;
      --it;
      buf = it->second.lock();
      if (!buf || addr - it->first > buf->bytes.size() || size > buf->bytes.size() - (addr - it->first)) return std::nullopt;
      if (std::none_of(used_.begin(), used_.end(), [&](const auto& b) { return b == buf; })) used_.push_back(buf);
      return fb::BufferRef(buf->id, 0, addr - it->first, size);
    }
    fb::BufferRef place(const void* data, std::size_t size, std::size_t /*align: 64 covers it*/) override {
      auto buf = std::make_shared<DriverBuffer>(core_.next_buffer_.fetch_add(1, std::memory_order_relaxed), size, false);
      std::memcpy(buf->bytes.data(), data, size);
      used_.push_back(buf);
      return fb::BufferRef(buf->id, 0, 0, size);
    }

   private:
    ClusterCore& core_;
    std::vector<std::shared_ptr<DriverBuffer>>& used_;
    std::vector<std::shared_ptr<RemoteResult>>& inputs_;
  };

  void make_server() {
    server_ = std::make_unique<RankServer>(options_.pool, [this](std::vector<uint8_t> frame) {
      {
        std::lock_guard lock(out_mu_);
        out_.push_back(std::move(frame));
      }
      out_cv_.notify_one();
    });
  }
  void make_local() {
    PoolOptions o = options_.pool;
    o.workers = options_.driver_workers;
    local_ = std::make_unique<RankServer>(o, [this](std::vector<uint8_t> frame) {
      {
        std::lock_guard lock(out_mu_);
        out_.push_back(std::move(frame));
      }
      cv_.notify_one();
    });
    local_->identify(0);
  }

  void finalize() noexcept {
    if (lost_any_) {
      // MPI_Finalize synchronizes with every rank, the silent one included: it would never
      // return. Leave MPI as it is; when this process exits, mpirun ends the job.
      if (owns_mpi_) {
        std::fprintf(stderr, "brine: a rank stopped answering, so MPI_Finalize (which waits for every rank) is not "
                             "called; when this program exits, mpirun ends the job, that rank included\n");
      }
      owns_mpi_ = false;
      return;
    }
    if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
    if (owns_mpi_) {
      owns_mpi_ = false;
      int finalized = 0;
      MPI_Finalized(&finalized);
      if (finalized == 0) MPI_Finalize();
    }
  }

  void isend(const void* data, std::size_t n, int dest, int tag, std::shared_ptr<const void> keep) {
    PendingSend p{MPI_REQUEST_NULL, dest, std::move(keep)};
    check(MPI_Isend(data, static_cast<int>(n), MPI_BYTE, dest, tag, comm_, &p.request), "MPI_Isend");
    if (dest == 0) last_sent_ = std::chrono::steady_clock::now();  // what keep_alive() measures
    sends_.push_back(std::move(p));
  }
  // Frees the sends MPI has finished with; true if any.
  bool test_sends() {
    bool any = false;
    for (std::size_t i = 0; i < sends_.size();) {
      int flag = 0;
      check(MPI_Test(&sends_[i].request, &flag, MPI_STATUS_IGNORE), "MPI_Test");
      if (flag != 0) {
        if (rank_ == 0) heard_from(sends_[i].dest);
        sends_[i] = std::move(sends_.back());
        sends_.pop_back();
        any = true;
      } else {
        ++i;
      }
    }
    return any;
  }

  // ---- driver: the service thread ----------------------------------------------------------

  // The rank with the most free workers (then the lowest); with `task`, only one that need not
  // wait for a buffer a rank of its host is still receiving (see must_wait).
  Link* pick(const ClusterTask* task = nullptr) {
    Link* best = nullptr;
    uint64_t best_free = 0;
    for (Link& l : links_) {
      if (l.bye || l.lost || l.stats.in_flight >= l.stats.workers) continue;
      if (task != nullptr && must_wait(l, *task)) continue;
      const uint64_t free = l.stats.workers - l.stats.in_flight;
      if (free > best_free) {
        best = &l;
        best_free = free;
      }
    }
    return best;
  }

  // A rank of l's host (not l, not rank 0's own pool) that holds all of buffer `id` and can pass
  // it on; nullptr if none (then `arriving` says whether one is still receiving it).
  Link* host_peer(const Link& l, uint32_t id, bool& arriving) {
    arriving = false;
    if (!options_.share_on_host || l.local) return nullptr;
    for (Link& p : links_) {
      if (&p == &l || p.local || p.lost || p.bye || p.stats.host != l.stats.host || p.held.count(id) == 0) continue;
      if (p.have.count(id) != 0) return &p;
      arriving = true;
    }
    return nullptr;
  }
  // Whether a task sent to `l` now would need a cached buffer (or kept value) that l lacks and
  // a rank of its host is still receiving: it waits for that copy rather than take a second one
  // across the network.
  bool must_wait(const Link& l, const ClusterTask& task) {
    bool arriving = false;
    for (const auto& buf : task.buffers) {
      if (buf->cached && l.held.count(buf->id) == 0 && host_peer(l, buf->id, arriving) == nullptr && arriving) return true;
    }
    for (const auto& in : task.inputs) {
      if (l.held.count(in->id) == 0 && host_peer(l, in->id, arriving) == nullptr && arriving) return true;
    }
    return false;
  }
  // Has `from` pass what it holds under `id` to `l`, a rank of the same host.
  void send_from_peer(Link& l, Link& from, uint32_t id) {
    auto order = std::make_shared<PeerSend>(PeerSend{id, l.stats.rank});
    isend(order.get(), sizeof *order, from.stats.rank, kPeerSend, order);
    from.stats.bytes_sent += sizeof *order;
    auto head = std::make_shared<PeerHead>(PeerHead{id, from.stats.rank});
    isend(head.get(), sizeof *head, l.stats.rank, kPeerHead, head);
    l.stats.bytes_sent += sizeof *head;
    l.stats.buffers_from_peers += 1;
    l.held.insert(id);
  }

  void send_buffer(Link& l, const std::shared_ptr<DriverBuffer>& buf) {
    const std::size_t n = buf->bytes.size();
    bool arriving = false;
    if (buf->cached) {
      if (Link* peer = host_peer(l, buf->id, arriving)) {
        send_from_peer(l, *peer, buf->id);  // the bytes crossed the network to this host once already
        return;
      }
    }
    if (l.local) {
      SharedVector<uint8_t> copy = local_->allocate(n);
      std::memcpy(copy.data(), buf->bytes.data(), n);
      local_->store(buf->id, std::move(copy), buf->cached);
    } else {
      auto head = std::make_shared<BufferHead>(BufferHead{buf->id, n, buf->cached ? 1u : 0u});
      isend(head.get(), sizeof *head, l.stats.rank, kBufferHead, head);
      for (std::size_t off = 0; off < n; off += kMaxChunk) {
        isend(buf->bytes.data() + off, std::min(kMaxChunk, n - off), l.stats.rank, kBufferData, buf);
      }
      l.stats.bytes_sent += sizeof(BufferHead) + n;
    }
    l.stats.buffers_sent += 1;
    l.stats.buffer_bytes_sent += n;
    if (buf->cached) l.held.insert(buf->id);
  }

  void send_task(Link& l, std::shared_ptr<ClusterTask> task) {
    // RemoteRef arguments: read in place where they are kept, else the driver's staged copy.
    for (const auto& in : task->inputs) {
      bool arriving = false;
      if (l.kept.count(in->id) != 0) {
        l.stats.inputs_in_place += 1;
      } else if (l.held.count(in->id) != 0) {
        // a copy was shipped before
      } else if (Link* peer = host_peer(l, in->id, arriving)) {
        send_from_peer(l, *peer, in->id);  // kept (or copied) on this host: rank to rank
      } else {
        task->buffers.push_back(staged_.at(in->id));
      }
    }
    task->inputs.clear();  // a release the handles' deaths send now follows the task
    for (const auto& buf : task->buffers) {
      if (!buf->cached || l.held.count(buf->id) == 0) send_buffer(l, buf);
    }
    const std::size_t n = task->frame->size();
    if (l.local) {
      SharedVector<uint8_t> frame = local_->allocate(n);
      std::memcpy(frame.data(), task->frame->data(), n);
      local_->run(frame);
    } else {
      isend(task->frame->data(), n, l.stats.rank, kTask, task->frame);
      l.stats.bytes_sent += n;
    }
    task->buffers.clear();  // the sends and the ranks hold what they still need
    task->rank = l.stats.rank;
    l.stats.tasks_sent += 1;
    l.stats.in_flight += 1;
    in_flight_[task->id] = std::move(task);
  }

  Link* link_at(int rank) {
    for (Link& l : links_) {
      if (l.stats.rank == rank) return &l;
    }
    return nullptr;
  }
  static std::string who(const Link& l) {
    return "rank " + std::to_string(l.stats.rank) + " (host " + l.stats.host + ", pid " + std::to_string(l.stats.pid) + ")";
  }

  // Sends the backlog's tasks that can go now, in order: a plain task to the first free worker;
  // a task with RemoteRef arguments (once they exist) to the rank keeping the largest if it has
  // a free worker, else to the first free worker anywhere once the driver holds a copy of each
  // argument that rank lacks (staging fetches them). A task whose argument failed fails with
  // its error; one whose argument's rank is lost, with HostLost.
  bool dispatch(std::vector<Arrival>& done) {
    bool any = false;
    for (auto it = backlog_.begin(); it != backlog_.end();) {
      Link* l = nullptr;
      if ((*it)->inputs.empty()) {
        l = pick(it->get());
        if (l == nullptr) break;  // no free worker (that need not wait): later tasks wait too
      } else {
        std::exception_ptr error;
        l = place(**it, error);
        if (error) {
          Arrival a;
          a.task = std::move(*it);
          a.state = std::move(a.task->state);
          a.error = std::move(error);
          done.push_back(std::move(a));
          ++completed_;
          it = backlog_.erase(it);
          any = true;
          continue;
        }
        if (l == nullptr) {
          ++it;
          continue;
        }
      }
      auto task = std::move(*it);
      it = backlog_.erase(it);
      send_task(*l, std::move(task));
      any = true;
    }
    return any;
  }

  // Where a task with RemoteRef arguments goes now (see dispatch); nullptr: not yet.
  Link* place(const ClusterTask& task, std::exception_ptr& error) {
    const std::shared_ptr<RemoteResult>* largest = nullptr;
    for (const auto& in : task.inputs) {
      if (!in->done()) return nullptr;
      if (in->failure()) {
        error = in->failure();  // the argument's own error, as its get() throws it
        return nullptr;
      }
      if (const auto f = stage_failed_.find(in->id); f != stage_failed_.end()) {
        error = f->second;
        return nullptr;
      }
      Link* holder = link_at(in->rank);
      if (holder == nullptr || holder->lost) {
        if (staged_.count(in->id) != 0) continue;  // the driver's copy outlives the rank
        error = std::make_exception_ptr(HostLost(
            "brine: " + (holder != nullptr ? who(*holder) : "rank " + std::to_string(in->rank)) +
            " stopped answering and the result of " + in->function + " it kept is lost, so " + task.function +
            ", which takes it, cannot run; submit " + in->function + " again"));
        return nullptr;
      }
      if (largest == nullptr || in->bytes > (*largest)->bytes) largest = &in;
    }
    Link* home = largest != nullptr ? link_at((*largest)->rank) : nullptr;
    Link* l = home != nullptr && !home->bye && home->stats.in_flight < home->stats.workers ? home : pick();
    if (l == nullptr) return nullptr;
    bool missing = false;
    for (const auto& in : task.inputs) {
      bool arriving = false;
      if (l->held.count(in->id) != 0 || staged_.count(in->id) != 0 || host_peer(*l, in->id, arriving) != nullptr) continue;
      missing = true;
      if (!arriving && staging_.insert(in->id).second) fetch_from(*link_at(in->rank), in, nullptr);
    }
    return missing || must_wait(*l, task) ? nullptr : l;
  }

  // Asks `l` for the value `ref` keeps there, for `waiter` (or, without one, to stage it at the
  // driver). One fetch per value at a time: later requests wait on the one travelling.
  void fetch_from(Link& l, const std::shared_ptr<RemoteResult>& ref, FetchRequest* waiter) {
    std::shared_ptr<ClusterTask> task;
    if (const auto it = in_flight_.find(ref->task_id); it != in_flight_.end() && it->second->fetch) {
      task = it->second;
    } else {
      task = std::make_shared<ClusterTask>();
      task->id = ref->task_id;
      task->fetch = true;
      task->function = ref->function;
      task->rank = l.stats.rank;
      task->inputs.push_back(ref);
      in_flight_[task->id] = task;
      if (l.local) {  // rank 0's own pool: the frame arrives like its results do
        SharedVector<uint8_t> frame = local_->kept_frame(ref->id);
        std::vector<uint8_t> out = frame.size() != 0 ? std::vector<uint8_t>(frame.begin(), frame.end())
                                                     : local_->not_kept(task->id, ref->id);
        std::lock_guard lock(out_mu_);
        out_.push_back(std::move(out));
      } else {
        auto msg = std::make_shared<Fetch>(Fetch{task->id, ref->id});
        isend(msg.get(), sizeof *msg, l.stats.rank, kFetch, msg);
        l.stats.bytes_sent += sizeof *msg;
      }
    }
    if (waiter != nullptr) {
      task->waiters.push_back(std::move(*waiter));
    } else {
      task->staging = true;
    }
  }

  // Starts the fetches whose values exist; fails those whose task failed or whose rank is lost.
  bool start_fetches(std::vector<Arrival>& done) {
    bool any = false;
    for (auto it = fetches_.begin(); it != fetches_.end();) {
      const RemoteResult& ref = *it->ref;
      if (!ref.done()) {
        ++it;
        continue;
      }
      any = true;
      std::exception_ptr error = ref.failure();
      Link* holder = error ? nullptr : link_at(ref.rank);
      if (!error && (holder == nullptr || holder->lost)) {
        error = std::make_exception_ptr(HostLost(
            "brine: " + (holder != nullptr ? who(*holder) : "rank " + std::to_string(ref.rank)) +
            " stopped answering and the result of " + ref.function + " it kept is lost; submit " + ref.function + " again"));
      }
      if (error) {
        Arrival a;
        a.state = std::move(it->state);
        a.error = std::move(error);
        done.push_back(std::move(a));
      } else {
        fetch_from(*holder, it->ref, &*it);
      }
      it = fetches_.erase(it);
    }
    return any;
  }

  void heard_from(int rank) {
    for (Link& l : links_) {
      if (l.stats.rank == rank && !l.local) l.heard = std::chrono::steady_clock::now();
    }
  }

  // Gives up on ranks silent for longer than host_timeout: their tasks fail with HostLost, and
  // nothing more is sent to them. If no rank is left, neither can the backlog run.
  bool check_lost(std::vector<Arrival>& done) {
    if (options_.host_timeout.count() <= 0) return false;
    const auto now = std::chrono::steady_clock::now();
    bool any = false;
    for (Link& l : links_) {
      if (l.local || l.bye || l.lost || now - l.heard <= options_.host_timeout) continue;
      l.lost = true;
      lost_any_ = true;
      any = true;
      const std::string who = "rank " + std::to_string(l.stats.rank) + " (host " + l.stats.host + ", pid " +
                              std::to_string(l.stats.pid) + ")";
      std::fprintf(stderr, "brine: %s has not answered for %lld ms (ClusterOptions::host_timeout); its %llu tasks fail "
                   "with brine::HostLost, the %zu results it kept are lost, and it gets no more\n", who.c_str(),
                   static_cast<long long>(options_.host_timeout.count()), static_cast<unsigned long long>(l.stats.in_flight),
                   l.kept.size());
      for (auto it = in_flight_.begin(); it != in_flight_.end();) {
        if (it->second->rank != l.stats.rank) {
          ++it;
          continue;
        }
        if (it->second->fetch) {  // not a task: its futures fail, nothing is counted
          ClusterTask& f = *it->second;
          if (f.staging) staging_.erase(f.inputs.front()->id);
          for (FetchRequest& w : f.waiters) {
            Arrival a;
            a.state = std::move(w.state);
            a.error = std::make_exception_ptr(HostLost("brine: " + who + " stopped answering while the driver fetched the result of " +
                                                       f.function + " it kept (nothing heard for " +
                                                       std::to_string(options_.host_timeout.count()) +
                                                       " ms, ClusterOptions::host_timeout); the value is lost"));
            done.push_back(std::move(a));
          }
          it = in_flight_.erase(it);
          continue;
        }
        Arrival a;
        a.task = std::move(it->second);
        a.state = std::move(a.task->state);
        a.error = std::make_exception_ptr(HostLost("brine: " + who + " stopped answering while it ran " + a.task->function +
                                                   " (nothing heard for " + std::to_string(options_.host_timeout.count()) +
                                                   " ms, ClusterOptions::host_timeout); the task may or may not have run"));
        done.push_back(std::move(a));
        it = in_flight_.erase(it);
        ++completed_;
      }
      l.stats.in_flight = 0;
      // Its sends may never finish: set aside, never waited for.
      for (std::size_t i = 0; i < sends_.size();) {
        if (sends_[i].dest == l.stats.rank) {
          abandoned_.push_back(std::move(sends_[i]));
          sends_[i] = std::move(sends_.back());
          sends_.pop_back();
        } else {
          ++i;
        }
      }
    }
    if (any && std::all_of(links_.begin(), links_.end(), [](const Link& l) { return l.lost; })) {
      for (auto& t : backlog_) {
        Arrival a;
        a.task = t;
        a.state = std::move(t->state);
        a.error = std::make_exception_ptr(HostLost("brine: every rank of the cluster stopped answering before " +
                                                   a.task->function + " could run"));
        done.push_back(std::move(a));
        ++completed_;
      }
      backlog_.clear();
    }
    return any;
  }

  Link& link_of(int rank) {
    for (Link& l : links_) {
      if (l.stats.rank == rank && !l.local) return l;
    }
    throw Error(ErrorCode::kUnknown, "brine: a message from rank " + std::to_string(rank) + ", which serves no pool");
  }

  // A result frame from `rank`: matched to its task, verified, counted. Completed later,
  // outside the lock.
  void arrive(Link& l, std::shared_ptr<AlignedBytes> bytes, std::vector<Arrival>& done) {
    l.stats.bytes_received += bytes->size();
    Trailer t{};
    try {
      t = read_trailer(bytes->data(), bytes->size());
    } catch (const Error& err) {
      std::fprintf(stderr, "brine: dropped a malformed message from rank %d: %s\n", l.stats.rank, err.what());
      return;
    }
    const auto it = in_flight_.find(t.task_id);
    if (it == in_flight_.end() || it->second->rank != l.stats.rank) {
      std::fprintf(stderr, "brine: dropped a result from rank %d for task %llu, which it was not running\n", l.stats.rank,
                   static_cast<unsigned long long>(t.task_id));
      return;
    }
    if (it->second->fetch) {
      std::shared_ptr<ClusterTask> task = std::move(it->second);
      in_flight_.erase(it);
      arrive_fetched(l, *task, std::move(bytes), t, done);
      return;
    }
    Arrival a;
    a.task = std::move(it->second);
    in_flight_.erase(it);
    a.state = std::move(a.task->state);
    l.stats.in_flight -= 1;
    l.stats.tasks_done += 1;
    ++completed_;
    try {
      const fb::Result& r = verify_result(std::span<const std::byte>(bytes->data(), bytes->size() - sizeof(Trailer)));
      if (r.task_id() != t.task_id) throw DecodeError("brine: a result envelope's task id does not match its frame");
      if (r.error() != nullptr && r.error()->code() == static_cast<int32_t>(ErrorCode::kWorkerCrashed)) {
        l.stats.workers_crashed += 1;
      }
      if (a.task->keep && r.error() == nullptr) {  // the rank keeps the value: record where
        a.task->keep->rank = l.stats.rank;
        l.held.insert(a.task->keep->id);
        l.kept.insert(a.task->keep->id);
        l.have.insert(a.task->keep->id);
        l.stats.results_kept += 1;
      }
      a.bytes = std::move(bytes);
    } catch (const Error& err) {
      a.error = std::make_exception_ptr(DecodeError("brine: the result of " + a.task->function + " from rank " +
                                                    std::to_string(l.stats.rank) + " (host " + l.stats.host +
                                                    ") failed verification: " + err.what()));
    }
    done.push_back(std::move(a));
  }

  // A kept result's frame from the rank that keeps it: for every future that fetched it, or
  // copied into a buffer of the driver (staging) that ranks lacking the value are sent.
  void arrive_fetched(Link& l, ClusterTask& task, std::shared_ptr<AlignedBytes> bytes, const Trailer& t,
                      std::vector<Arrival>& done) {
    const RemoteResult& ref = *task.inputs.front();
    std::exception_ptr error;
    try {
      const std::span<const uint8_t> envelope(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size() - sizeof(Trailer));
      const fb::Result& r = verify_result(std::as_bytes(envelope));
      if (r.task_id() != t.task_id) throw DecodeError("brine: a result envelope's task id does not match its frame");
      if (r.error() == nullptr) l.stats.results_fetched += 1;
      if (task.staging) {
        staging_.erase(ref.id);
        if (r.error() != nullptr) rethrow(*r.error());
        const std::span<const uint8_t> value = kept_value(envelope, ref.elem_size);
        auto copy = std::make_shared<DriverBuffer>(ref.id, value.size(), true);  // no core: the ref releases it
        std::memcpy(copy->bytes.data(), value.data(), value.size());
        staged_[ref.id] = std::move(copy);
        results_staged_ += 1;
      }
    } catch (const Error& err) {
      error = std::make_exception_ptr(DecodeError("brine: the result of " + task.function + " fetched from " + who(l) +
                                                  " failed: " + err.what()));
      if (task.staging) stage_failed_[ref.id] = error;
    }
    for (FetchRequest& w : task.waiters) {
      Arrival a;
      a.state = std::move(w.state);
      a.keep_bytes = std::move(w.bytes);
      if (error) {
        a.error = error;
      } else {
        a.bytes = bytes;
      }
      done.push_back(std::move(a));
    }
  }

  bool poll(std::vector<Arrival>& done) {
    bool any = false;
    for (;;) {
      int flag = 0;
      MPI_Message msg;
      MPI_Status status;
      check(MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &flag, &msg, &status), "MPI_Improbe");
      if (flag == 0) break;
      any = true;
      int count = 0;
      MPI_Get_count(&status, MPI_BYTE, &count);
      Link& l = link_of(status.MPI_SOURCE);
      l.heard = std::chrono::steady_clock::now();
      if (status.MPI_TAG == kResult) {
        auto bytes = std::make_shared<AlignedBytes>(static_cast<std::size_t>(count));
        check(MPI_Mrecv(bytes->data(), count, MPI_BYTE, &msg, MPI_STATUS_IGNORE), "MPI_Mrecv (result)");
        arrive(l, std::move(bytes), done);
      } else {
        std::vector<char> ignored(static_cast<std::size_t>(std::max(count, 1)));
        check(MPI_Mrecv(ignored.data(), count, MPI_BYTE, &msg, MPI_STATUS_IGNORE), "MPI_Mrecv");
        if (status.MPI_TAG == kBye) {
          l.bye = true;
        } else if (status.MPI_TAG == kHeld) {
          if (count == sizeof(uint64_t)) std::memcpy(&l.stats.held_reported, ignored.data(), sizeof(uint64_t));
        } else if (status.MPI_TAG == kHave) {
          uint64_t id = 0;
          if (count == sizeof id) std::memcpy(&id, ignored.data(), sizeof id);
          const auto buffer = static_cast<uint32_t>(id & ~kHaveFailed);
          if ((id & kHaveFailed) != 0) {  // its peer did not pass it: the next task there gets it anew
            l.held.erase(buffer);
            l.have.erase(buffer);
          } else if (l.held.count(buffer) != 0) {
            l.have.insert(buffer);
          }
        } else if (status.MPI_TAG == kAlive) {
          // heard above
        } else {
          std::fprintf(stderr, "brine: dropped a message with tag %d from rank %d\n", status.MPI_TAG, status.MPI_SOURCE);
        }
      }
    }
    if (local_) {  // rank 0's own pool
      std::deque<std::vector<uint8_t>> out;
      {
        std::lock_guard lock(out_mu_);
        out.swap(out_);
      }
      local_->adopt_kept();  // after taking the frames: see adopt_kept
      links_.front().stats.held_reported = local_->buffers_held();
      for (auto& frame : out) {
        any = true;
        auto bytes = std::make_shared<AlignedBytes>(frame.size());
        std::memcpy(bytes->data(), frame.data(), frame.size());
        arrive(links_.front(), std::move(bytes), done);
      }
    }
    return any;
  }

  bool send_releases() {
    auto ids = std::make_shared<std::vector<uint32_t>>();
    {
      std::lock_guard lock(releases_mu_);
      ids->swap(releases_);
    }
    if (ids->empty()) return false;
    for (uint32_t id : *ids) {
      staged_.erase(id);
      stage_failed_.erase(id);
    }
    for (Link& l : links_) {
      std::vector<uint32_t> mine;
      for (uint32_t id : *ids) {
        l.kept.erase(id);
        l.have.erase(id);
        if (l.held.erase(id) != 0) mine.push_back(id);
      }
      if (mine.empty()) continue;
      if (l.local) {
        for (uint32_t id : mine) local_->release(id);
        continue;
      }
      auto msg = std::make_shared<std::vector<uint32_t>>(std::move(mine));
      isend(msg->data(), msg->size() * sizeof(uint32_t), l.stats.rank, kRelease, msg);
      l.stats.bytes_sent += msg->size() * sizeof(uint32_t);
    }
    return true;
  }

  static void complete(std::vector<Arrival>& done) {
    for (Arrival& a : done) {
      if (!a.state) continue;
      if (a.error) {
        a.state->fail(a.error);
        continue;
      }
      const auto* data = reinterpret_cast<const uint8_t*>(a.bytes->data());
      const std::size_t n = a.bytes->size() - sizeof(Trailer);
      const fb::Result& r = *flatbuffers::GetRoot<fb::Result>(data);  // verified on arrival
      Decoder d;
      d.set_envelope(data, n, r.refs());
      if (a.keep_bytes) {
        *a.keep_bytes = a.bytes;  // a fetch's future keeps them
      } else {
        a.task->result = a.bytes;  // views in the value point into it; the future keeps the task
      }
      a.state->decode(r, d);
      a.state->finish();
    }
    done.clear();
  }

  void service() {
    std::vector<Arrival> done;
    std::unique_lock lock(mu_);
    auto last = std::chrono::steady_clock::now();
    std::chrono::microseconds nap{0};
    bool said_stop = false;
    try {
      for (;;) {
        bool progress = false;
        if (!now_) {
          progress |= dispatch(done);
          progress |= start_fetches(done);
        }
        progress |= send_releases();
        progress |= poll(done);
        progress |= test_sends();
        progress |= check_lost(done);
        if (closing_.load(std::memory_order_acquire) && !said_stop &&
            (now_ || (backlog_.empty() && in_flight_.empty() && fetches_.empty()))) {
          said_stop = true;
          progress = true;
          for (Link& l : links_) {
            if (l.local || l.lost) continue;
            auto flag = std::make_shared<uint8_t>(now_ ? 1 : 0);
            isend(flag.get(), 1, l.stats.rank, kShutdown, flag);
          }
          if (local_ && now_) {
            lock.unlock();
            local_->pool().shutdown(false);  // fails what runs there; the errors arrive in out_
            lock.lock();
          }
        }
        if (!done.empty()) {
          lock.unlock();
          complete(done);
          lock.lock();
        }
        if (said_stop && sends_.empty() && (!local_ || local_->in_flight() == 0) &&
            std::all_of(links_.begin(), links_.end(), [](const Link& l) { return l.local || l.bye || l.lost; })) {
          break;
        }
        const auto now = std::chrono::steady_clock::now();
        if (progress) {
          last = now;
          nap = std::chrono::microseconds(0);
          continue;
        }
        // While a send is in progress MPI needs our calls to move it along (a large message goes
        // in fragments, each handed over in a call): poll, do not sleep.
        if (now - last < options_.poll_spin || !sends_.empty()) {
          lock.unlock();
          sched_yield();
          lock.lock();
          continue;
        }
        nap = std::min(options_.max_sleep, std::max(std::chrono::microseconds(10), nap * 2));
        cv_.wait_for(lock, nap);
      }
    } catch (const std::exception& err) {
      std::fprintf(stderr, "brine: the cluster's service thread failed: %s\n", err.what());
      broken_ = std::current_exception();
      closing_.store(true, std::memory_order_release);  // submit refuses from now on
    }
    // Whatever is left can no longer finish.
    std::vector<std::shared_ptr<ClusterTask>> left(backlog_.begin(), backlog_.end());
    backlog_.clear();
    for (auto& [id, t] : in_flight_) left.push_back(std::move(t));
    in_flight_.clear();
    std::vector<FetchRequest> fetches;
    for (FetchRequest& f : fetches_) fetches.push_back(std::move(f));
    fetches_.clear();
    for (auto& t : left) {
      for (FetchRequest& w : t->waiters) fetches.push_back(std::move(w));
    }
    lock.unlock();
    complete(done);
    for (auto& f : fetches) {
      f.state->fail(std::make_exception_ptr(PoolClosed("brine: the cluster shut down before the result of " + f.ref->function +
                                                       " was fetched; fetch what you need before ClusterPool::shutdown")));
    }
    for (auto& t : left) {
      if (t->state) {
        t->state->fail(std::make_exception_ptr(PoolClosed("brine: the cluster shut down before " + t->function +
                                                          " finished (rank " + std::to_string(t->rank) + ")")));
      }
    }
    if (local_) {
      local_->drop_all();
      local_->pool().shutdown(true);
    }
  }

  // ---- a serving rank ------------------------------------------------------------------------

  [[noreturn]] void serve() {
    int status = 0;
    try {
      if (!server_) make_server();
      server_->identify(rank_);
      Hello h{};
      h.workers = server_->workers();
      h.pid = getpid();
      const std::string host = host_name();
      std::strncpy(h.host, host.c_str(), sizeof h.host - 1);
      check(MPI_Send(&h, sizeof h, MPI_BYTE, 0, kHello, comm_), "MPI_Send (hello)");
      serve_loop();
      for (auto& s : sends_) MPI_Wait(&s.request, MPI_STATUS_IGNORE);
      sends_.clear();
    } catch (const std::exception& err) {
      std::fprintf(stderr, "brine: rank %d stops serving: %s\n", rank_, err.what());
      status = 1;
    }
    if (status != 0) MPI_Abort(MPI_COMM_WORLD, 1);
    server_->drop_all();
    server_->pool().shutdown(true);
    server_.reset();
    // This rank never returns to the program: it finalizes MPI even if the program initialized it.
    owns_mpi_ = true;
    finalize();
    std::exit(0);
  }

  void say_have(uint64_t id) {
    auto msg = std::make_shared<uint64_t>(id);
    isend(msg.get(), sizeof *msg, 0, kHave, msg);
  }

  // kPeerSend: passes what this rank holds under an id to a rank of its host: the size, then
  // the bytes (kNotHeld if it holds nothing under it: the receiver then gives up on it).
  void peer_send(const PeerSend& order) {
    const std::optional<SharedVector<uint8_t>> data = server_->held(static_cast<uint32_t>(order.id));
    const int to = static_cast<int>(order.to);
    auto size = std::make_shared<uint64_t>(data ? data->size() : kNotHeld);
    isend(size.get(), sizeof *size, to, kPeerData, size);
    if (!data) {
      std::fprintf(stderr, "brine: rank %d was asked to pass buffer %llu to rank %d but holds none\n", rank_,
                   static_cast<unsigned long long>(order.id), to);
      return;
    }
    auto keep = std::make_shared<SharedVector<uint8_t>>(*data);  // until MPI is done with the bytes
    for (std::size_t off = 0; off < keep->size(); off += kMaxChunk) {
      isend(keep->data() + off, std::min(kMaxChunk, keep->size() - off), to, kPeerData, keep);
    }
  }

  // kPeerHead: receives a cached buffer from a rank of this host into the arena, then tells the
  // driver it has it. While it waits, it serves the peer sends the driver asks of this rank (two
  // ranks receiving from each other must not wait on each other) and says it is alive. A peer
  // that sends nothing for host_timeout is given up on: the buffer is not stored, and tasks that
  // need it fail as referencing a buffer the rank does not hold.
  void peer_receive(const PeerHead& head) {
    const int from = static_cast<int>(head.from);
    auto size = std::make_shared<uint64_t>(0);
    const auto id = static_cast<uint32_t>(head.id);
    const auto give_up = [&](const std::string& why) {
      server_->missing(id, "rank " + std::to_string(from) + " of its host was to pass it on, but " + why +
                               "; submit the task again (the driver then sends the buffer itself)");
      say_have(head.id | kHaveFailed);
    };
    if (!receive_from_peer(size, size.get(), sizeof *size, from)) return give_up("stopped answering");
    if (*size == kNotHeld) return give_up("held none");
    auto data = std::make_shared<SharedVector<uint8_t>>(server_->allocate(*size));
    for (std::size_t off = 0; off < data->size(); off += kMaxChunk) {
      if (!receive_from_peer(data, data->data() + off, std::min(kMaxChunk, data->size() - off), from)) {
        return give_up("stopped answering");
      }
    }
    server_->store(id, *data, true);
    say_have(head.id);
  }

  // One kPeerData message of exactly `n` bytes from `from` into `into` (kept alive by `keep`).
  bool receive_from_peer(std::shared_ptr<const void> keep, void* into, std::size_t n, int from) {
    MPI_Request request = MPI_REQUEST_NULL;
    check(MPI_Irecv(into, static_cast<int>(n), MPI_BYTE, from, kPeerData, comm_, &request), "MPI_Irecv (peer)");
    auto since = std::chrono::steady_clock::now();
    for (;;) {
      int flag = 0;
      MPI_Status status;
      check(MPI_Test(&request, &flag, &status), "MPI_Test (peer)");
      if (flag != 0) {
        int count = 0;
        MPI_Get_count(&status, MPI_BYTE, &count);
        if (static_cast<std::size_t>(count) == n) return true;
        std::fprintf(stderr, "brine: rank %d got %d bytes from rank %d where %zu were due; buffer dropped\n", rank_, count,
                     from, n);
        return false;
      }
      int order_waiting = 0;
      MPI_Message msg;
      MPI_Status order_status;
      check(MPI_Improbe(0, kPeerSend, comm_, &order_waiting, &msg, &order_status), "MPI_Improbe (peer send)");
      if (order_waiting != 0) {
        PeerSend order{};
        check(MPI_Mrecv(&order, sizeof order, MPI_BYTE, &msg, MPI_STATUS_IGNORE), "MPI_Mrecv (peer send)");
        peer_send(order);
        since = std::chrono::steady_clock::now();
        continue;
      }
      test_sends();
      keep_alive();
      const auto waited = std::chrono::steady_clock::now() - since;
      if (options_.host_timeout.count() > 0 && waited > options_.host_timeout) {
        std::fprintf(stderr, "brine: rank %d gave up on a buffer from rank %d (nothing for %lld ms)\n", rank_, from,
                     static_cast<long long>(options_.host_timeout.count()));
        MPI_Cancel(&request);
        abandoned_recvs_.push_back({request, std::move(keep)});  // never completed: its bytes live until exit
        return false;
      }
      // The sender may need this core (ranks of one host): spin briefly, then nap between polls.
      if (waited < options_.poll_spin) {
        sched_yield();
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    }
  }

  // A serving rank that has said nothing for a quarter of host_timeout says it is alive.
  void keep_alive() {
    if (options_.host_timeout.count() <= 0) return;
    if (std::chrono::steady_clock::now() - last_sent_ < options_.host_timeout / 4) return;
    isend(nullptr, 0, 0, kAlive, nullptr);
  }

  void serve_loop() {
    uint64_t reported_held = 0;
    auto last = std::chrono::steady_clock::now();
    std::chrono::microseconds nap{0};
    bool stopping = false;
    for (;;) {
      bool progress = false;
      for (;;) {
        int flag = 0;
        MPI_Message msg;
        MPI_Status status;
        check(MPI_Improbe(0, MPI_ANY_TAG, comm_, &flag, &msg, &status), "MPI_Improbe");
        if (flag == 0) break;
        progress = true;
        int count = 0;
        MPI_Get_count(&status, MPI_BYTE, &count);
        const auto n = static_cast<std::size_t>(count);
        if (status.MPI_TAG == kTask) {
          SharedVector<uint8_t> frame = server_->allocate(n);
          check(MPI_Mrecv(frame.data(), count, MPI_BYTE, &msg, MPI_STATUS_IGNORE), "MPI_Mrecv (task)");
          server_->run(frame);
        } else if (status.MPI_TAG == kBufferHead) {
          BufferHead head{};
          if (n != sizeof head) throw DecodeError("brine: a buffer header of " + std::to_string(n) + " bytes");
          check(MPI_Mrecv(&head, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE), "MPI_Mrecv (buffer)");
          SharedVector<uint8_t> data = server_->allocate(head.size);
          for (std::size_t off = 0; off < head.size; off += kMaxChunk) {
            const auto piece = static_cast<int>(std::min<std::size_t>(kMaxChunk, head.size - off));
            check(MPI_Recv(data.data() + off, piece, MPI_BYTE, 0, kBufferData, comm_, MPI_STATUS_IGNORE), "MPI_Recv (buffer)");
            keep_alive();
          }
          server_->store(static_cast<uint32_t>(head.id), std::move(data), head.cached != 0);
          if (head.cached != 0) say_have(head.id);
        } else if (status.MPI_TAG == kPeerSend) {
          PeerSend order{};
          if (n != sizeof order) throw DecodeError("brine: a peer send order of " + std::to_string(n) + " bytes");
          check(MPI_Mrecv(&order, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE), "MPI_Mrecv (peer send)");
          peer_send(order);
        } else if (status.MPI_TAG == kPeerHead) {
          PeerHead head{};
          if (n != sizeof head) throw DecodeError("brine: a peer buffer header of " + std::to_string(n) + " bytes");
          check(MPI_Mrecv(&head, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE), "MPI_Mrecv (peer head)");
          peer_receive(head);
        } else if (status.MPI_TAG == kFetch) {
          Fetch req{};
          if (n != sizeof req) throw DecodeError("brine: a fetch request of " + std::to_string(n) + " bytes");
          check(MPI_Mrecv(&req, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE), "MPI_Mrecv (fetch)");
          const auto id = static_cast<uint32_t>(req.keep_id);
          SharedVector<uint8_t> frame = server_->kept_frame(id);
          if (frame.size() > kMaxFrame) {
            const Trailer t{req.task_id, 0, 0, 0};
            std::vector<uint8_t> out = error_result(req.task_id, fb::Phase::EncodeResult, ErrorCode::kNotSerializable,
                                                    "brine::NotSerializable",
                                                    "brine: a kept result of " + std::to_string(frame.size()) +
                                                        " bytes exceeds one MPI message, so it cannot be fetched; pass "
                                                        "its RemoteRef to tasks, which read it in place, or return smaller pieces",
                                                    "cluster fetch");
            append_trailer(out, t);
            frame = SharedVector<uint8_t>();
            auto keep = std::make_shared<std::vector<uint8_t>>(std::move(out));
            isend(keep->data(), keep->size(), 0, kResult, keep);
          } else if (frame.size() != 0) {
            auto keep = std::make_shared<SharedVector<uint8_t>>(frame);  // sent as it is kept: no copy
            isend(keep->data(), keep->size(), 0, kResult, keep);
          } else {
            auto keep = std::make_shared<std::vector<uint8_t>>(server_->not_kept(req.task_id, id));
            isend(keep->data(), keep->size(), 0, kResult, keep);
          }
        } else if (status.MPI_TAG == kRelease) {
          std::vector<uint32_t> ids(n / sizeof(uint32_t) + 1);
          check(MPI_Mrecv(ids.data(), count, MPI_BYTE, &msg, MPI_STATUS_IGNORE), "MPI_Mrecv (release)");
          for (std::size_t i = 0; i < n / sizeof(uint32_t); ++i) server_->release(ids[i]);
        } else if (status.MPI_TAG == kShutdown) {
          uint8_t now = 0;
          check(MPI_Mrecv(&now, count, MPI_BYTE, &msg, MPI_STATUS_IGNORE), "MPI_Mrecv (shutdown)");
          stopping = true;
          if (now != 0) server_->pool().shutdown(false);  // fails what runs; the errors go out below
        } else {
          std::vector<char> ignored(std::max<std::size_t>(n, 1));
          check(MPI_Mrecv(ignored.data(), count, MPI_BYTE, &msg, MPI_STATUS_IGNORE), "MPI_Mrecv");
          std::fprintf(stderr, "brine: rank %d dropped a message with tag %d\n", rank_, status.MPI_TAG);
        }
      }
      std::deque<std::vector<uint8_t>> out;
      {
        std::lock_guard lock(out_mu_);
        out.swap(out_);
      }
      server_->adopt_kept();  // after taking the frames: see adopt_kept
      if (server_->buffers_held() != reported_held) {  // tell the driver what this rank holds now
        reported_held = server_->buffers_held();
        auto held = std::make_shared<uint64_t>(reported_held);
        isend(held.get(), sizeof *held, 0, kHeld, held);
      }
      for (auto& frame : out) {
        progress = true;
        if (frame.size() > kMaxFrame) {
          const Trailer t = read_trailer(reinterpret_cast<const std::byte*>(frame.data()), frame.size());
          frame = error_result(t.task_id, fb::Phase::EncodeResult, ErrorCode::kNotSerializable, "brine::NotSerializable",
                               "brine: a result of " + std::to_string(frame.size()) +
                                   " bytes exceeds one MPI message; return a smaller value",
                               "cluster");
          append_trailer(frame, t);
        }
        auto keep = std::make_shared<std::vector<uint8_t>>(std::move(frame));
        isend(keep->data(), keep->size(), 0, kResult, keep);
      }
      keep_alive();
      progress |= test_sends();
      if (stopping && server_->in_flight() == 0) {
        std::lock_guard lock(out_mu_);
        if (out_.empty()) break;
        continue;
      }
      const auto now = std::chrono::steady_clock::now();
      if (progress) {
        last = now;
        nap = std::chrono::microseconds(0);
        continue;
      }
      if (now - last < options_.poll_spin || !sends_.empty()) {
        sched_yield();
        continue;
      }
      nap = std::min(options_.max_sleep, std::max(std::chrono::microseconds(10), nap * 2));
      std::unique_lock lock(out_mu_);
      out_cv_.wait_for(lock, nap, [this] { return !out_.empty(); });
    }
    check(MPI_Send(nullptr, 0, MPI_BYTE, 0, kBye, comm_), "MPI_Send (bye)");
  }

  ClusterOptions options_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  bool owns_mpi_ = false;
  int rank_ = 0;
  int size_ = 1;
  unsigned total_workers_ = 0;

  std::atomic<uint64_t> next_task_{1};
  std::atomic<uint32_t> next_buffer_{1};
  std::atomic<bool> closing_{false};

  mutable std::mutex mu_;  // guards what follows, up to buffers_mu_
  std::condition_variable cv_;
  std::deque<std::shared_ptr<ClusterTask>> backlog_;
  std::unordered_map<uint64_t, std::shared_ptr<ClusterTask>> in_flight_;
  std::vector<Link> links_;
  uint64_t submitted_ = 0;
  uint64_t completed_ = 0;
  bool now_ = false;
  bool lost_any_ = false;
  std::exception_ptr broken_;
  std::deque<FetchRequest> fetches_;  // RemoteRef::fetch requests not yet sent
  // Kept results copied to the driver to run a task away from their rank (by buffer id), the
  // ones being copied, and the copies that failed. The service thread's only.
  std::unordered_map<uint32_t, std::shared_ptr<DriverBuffer>> staged_;
  std::set<uint32_t> staging_;
  std::unordered_map<uint32_t, std::exception_ptr> stage_failed_;
  uint64_t results_staged_ = 0;

  std::mutex releases_mu_;
  std::vector<uint32_t> releases_;  // cached buffers dropped by the driver, to release on ranks

  std::mutex buffers_mu_;
  std::map<uintptr_t, std::weak_ptr<DriverBuffer>> cached_;  // SharedVectors by address
  std::unordered_map<uintptr_t, std::weak_ptr<RemoteResult>> remote_;  // RemoteRefs by token

  std::vector<PendingSend> sends_;  // the thread making MPI calls only
  std::vector<PendingSend> abandoned_;  // sends to lost ranks: never completed, kept until exit
  struct AbandonedReceive {
    MPI_Request request;
    std::shared_ptr<const void> keep;
  };
  std::vector<AbandonedReceive> abandoned_recvs_;  // receives from silent peers, kept until exit
  std::chrono::steady_clock::time_point last_sent_{};  // a serving rank's last message to rank 0

  // Result frames from a RankServer's pool, for the thread making MPI calls.
  std::mutex out_mu_;
  std::condition_variable out_cv_;
  std::deque<std::vector<uint8_t>> out_;

  std::mutex join_mu_;
  std::thread service_;
  std::unique_ptr<RankServer> local_;   // rank 0's pool (driver_workers)
  std::unique_ptr<RankServer> server_;  // a serving rank's pool
};

namespace {
DriverBuffer::~DriverBuffer() {
  if (!cached) return;
  if (auto c = core.lock()) c->drop_cached(*this);
}
}  // namespace

RemoteResult::~RemoteResult() {
  if (auto c = core.lock()) c->forget(*this);
}

void RemoteResult::decode(const fb::Result& result, const Decoder& d) noexcept {
  try {
    bytes = decode_result<uint64_t>(result, d);
  } catch (...) {
    error_ = std::current_exception();
  }
}

void request_fetch(const std::shared_ptr<RemoteResult>& ref, const std::shared_ptr<TaskStateBase>& state) {
  if (!ref) {
    throw BadRemoteRef("brine: this RemoteRef is empty (default-constructed or moved from); use one returned by "
                       "ClusterPool::submit_remote");
  }
  const auto core = ref->core.lock();
  if (!core) {
    throw PoolClosed("brine: the ClusterPool that made this RemoteRef is gone, and the value with it; fetch what you "
                     "need before the pool is destroyed");
  }
  // The future keeps the fetched frame: the value's views (a span, a SharedVector) point into it.
  auto bytes = std::make_shared<std::shared_ptr<const void>>();
  state->cancel_hook = [bytes] { return false; };  // a fetch cannot be cancelled
  core->fetch(FetchRequest{ref, state, std::move(bytes)});
}

}  // namespace brine::detail

namespace brine {

ClusterPool::ClusterPool(ClusterOptions options, int* argc, char*** argv)
    : core_(std::make_shared<detail::ClusterCore>(std::move(options))) {
  core_->start(argc, argv);
}

ClusterPool::~ClusterPool() {
  try {
    core_->shutdown(true, false);
  } catch (...) {
    // shutting down cannot report more than the service thread printed
  }
}

void ClusterPool::submit_encoded(const std::shared_ptr<detail::TaskStateBase>& state, const FunctionInfo& info,
                                 const EncodeArgs& encode, const SubmitOptions& opts,
                                 const std::shared_ptr<detail::RemoteResult>& keep) {
  core_->submit(state, info, encode, opts, keep);
}

void ClusterPool::check_remote(const detail::RemoteResult* ref) const {
  if (ref == nullptr) {
    throw BadRemoteRef("brine: a RemoteRef argument is empty (default-constructed or moved from); pass one returned "
                       "by ClusterPool::submit_remote");
  }
  if (!core_->owns(*ref)) {
    throw BadRemoteRef("brine: a RemoteRef argument was made by another ClusterPool, whose ranks keep its value; pass "
                       "ref.get() (the value) instead");
  }
}

ClusterPool::SharedBuffer ClusterPool::allocate_shared_buffer(std::size_t bytes, std::size_t align) {
  if (align > 64) {
    throw NotSerializable("brine: ClusterPool::shared_vector aligns to 64 bytes; an element needs " + std::to_string(align));
  }
  auto [owner, data] = core_->allocate_shared(bytes);
  return SharedBuffer{std::move(owner), data};
}

std::size_t ClusterPool::default_chunksize(std::size_t n, bool vectorized) const noexcept {
  return core_->default_chunksize(n, vectorized);
}
int ClusterPool::rank_count() const noexcept { return core_->rank_count(); }
unsigned ClusterPool::size() const noexcept { return core_->total_workers(); }
bool ClusterPool::closed() const noexcept { return core_->closed(); }
ClusterStats ClusterPool::stats() const { return core_->stats(); }
const ClusterOptions& ClusterPool::options() const noexcept { return core_->options(); }
void ClusterPool::shutdown(bool wait, bool cancel_futures) { core_->shutdown(wait, cancel_futures); }

}  // namespace brine
