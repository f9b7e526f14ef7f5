// brine's exception hierarchy. Every failure a caller may handle differently has its own class,
// rooted at brine::Error; every message says what happened and what to do about it.
//
//   std::runtime_error
//     brine::Error                 code() and name() of every brine failure
//       brine::RemoteError         the task threw; type_name(), message(), where()
//       brine::NotRegistered       no function by that name or id in this binary
//       brine::NotSerializable     a value could not be reduced, or a closure left its binary
//       brine::DecodeError         an envelope or value failed verification or did not match
//       brine::ArenaExhausted      the shared arena had no room for a buffer
//       brine::WorkerCrashed       the worker running the task died
//       brine::TimeoutError        the task ran past its deadline; its worker was killed
//       brine::Cancelled           the task was cancelled before it ran
//       brine::RingFull            back-pressure kFail and every slot or ring was full
//       brine::PoolClosed          the pool was shut down before or while the task ran
//       brine::SegmentError        shared memory could not be created, mapped or attached
//       brine::BrokenPool          the pool cannot run tasks any more
//
// what() begins with the class's name ("brine::WorkerCrashed: worker 0 (pid 812) was killed
// by signal 9 ..."); name() returns it alone. Catch a specific class, or brine::Error for all.
//
// Thread safety: these are plain value types. Inside shared memory an error is never an
// exception object: workers send {code, type name, message, where} as data (see result.fbs)
// and the parent rebuilds the class of the same code with throw_error().
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace brine {

// Stable numeric codes, written into result envelopes. Never renumber.
enum class ErrorCode : int32_t {
  kUnknown = 0,
  kRemote = 1,           // the task threw; type name and what() travel back
  kNotRegistered = 2,    // no function with that name/id in this binary
  kNotSerializable = 3,  // a value could not be reduced (or a by-value closure left its binary)
  kDecode = 4,           // an envelope or value failed verification or did not match its type
  kArenaExhausted = 5,   // the shared arena had no room for a buffer
  kWorkerCrashed = 6,    // the worker running the task died
  kTimeout = 7,          // the task ran past its deadline and its worker was killed
  kCancelled = 8,        // the task was cancelled before it ran
  kRingFull = 9,         // back-pressure policy kFail and every ring was full
  kPoolClosed = 10,      // submit after shutdown, or the pool shut down while the task waited or ran
  kSegment = 11,         // a shared-memory segment could not be created, mapped or attached
  kBrokenPool = 12,      // the pool cannot run tasks any more (its workers' initializer failed)
};

// The public class name of the error a code stands for ("brine::WorkerCrashed").
const char* error_name(ErrorCode code) noexcept;

class Error : public std::runtime_error {
 public:
  // An error of `code` whose what() reads "brine::Error: <message>". A leading
  // "brine: " in `message` is replaced by the class's name, and a message that already starts
  // with it (one rebuilt from a worker's report) is kept as is. Prefer a specific class.
  Error(ErrorCode code, const std::string& message);
  ErrorCode code() const noexcept { return code_; }
  // The class's name, as in the hierarchy above ("brine::Error" for this base class).
  virtual const char* name() const noexcept { return "brine::Error"; }

 protected:
  Error(ErrorCode code, const char* name, const std::string& message);

 private:
  ErrorCode code_;
};

// The task threw. type_name() is the demangled C++ type of the remote exception
// ("std::domain_error", or "brine::DecodeError" for one of brine's own), message() its what(),
// where() the registered function that threw. what() reads
// "brine::RemoteError: std::domain_error in divide: division by zero".
class RemoteError : public Error {
 public:
  RemoteError(std::string type_name, std::string message, std::string where);
  const char* name() const noexcept override { return "brine::RemoteError"; }
  const std::string& type_name() const noexcept { return type_name_; }
  const std::string& message() const noexcept { return message_; }
  const std::string& where() const noexcept { return where_; }

 private:
  std::string type_name_, message_, where_;
};

// One class per code, so callers catch exactly what they handle; each demangles to its
// public name.
class NotRegistered : public Error {
 public:
  explicit NotRegistered(const std::string& message) : Error(ErrorCode::kNotRegistered, "brine::NotRegistered", message) {}
  const char* name() const noexcept override { return "brine::NotRegistered"; }
};
class NotSerializable : public Error {
 public:
  explicit NotSerializable(const std::string& message) : Error(ErrorCode::kNotSerializable, "brine::NotSerializable", message) {}
  const char* name() const noexcept override { return "brine::NotSerializable"; }
};
class DecodeError : public Error {
 public:
  explicit DecodeError(const std::string& message) : Error(ErrorCode::kDecode, "brine::DecodeError", message) {}
  const char* name() const noexcept override { return "brine::DecodeError"; }
};
class ArenaExhausted : public Error {
 public:
  explicit ArenaExhausted(const std::string& message) : Error(ErrorCode::kArenaExhausted, "brine::ArenaExhausted", message) {}
  const char* name() const noexcept override { return "brine::ArenaExhausted"; }
};
class WorkerCrashed : public Error {
 public:
  explicit WorkerCrashed(const std::string& message) : Error(ErrorCode::kWorkerCrashed, "brine::WorkerCrashed", message) {}
  const char* name() const noexcept override { return "brine::WorkerCrashed"; }
};
class TimeoutError : public Error {
 public:
  explicit TimeoutError(const std::string& message) : Error(ErrorCode::kTimeout, "brine::TimeoutError", message) {}
  const char* name() const noexcept override { return "brine::TimeoutError"; }
};
class Cancelled : public Error {
 public:
  explicit Cancelled(const std::string& message) : Error(ErrorCode::kCancelled, "brine::Cancelled", message) {}
  const char* name() const noexcept override { return "brine::Cancelled"; }
};
class RingFull : public Error {
 public:
  explicit RingFull(const std::string& message) : Error(ErrorCode::kRingFull, "brine::RingFull", message) {}
  const char* name() const noexcept override { return "brine::RingFull"; }
};
class PoolClosed : public Error {
 public:
  explicit PoolClosed(const std::string& message) : Error(ErrorCode::kPoolClosed, "brine::PoolClosed", message) {}
  const char* name() const noexcept override { return "brine::PoolClosed"; }
};
class SegmentError : public Error {
 public:
  explicit SegmentError(const std::string& message) : Error(ErrorCode::kSegment, "brine::SegmentError", message) {}
  const char* name() const noexcept override { return "brine::SegmentError"; }
};
class BrokenPool : public Error {
 public:
  explicit BrokenPool(const std::string& message) : Error(ErrorCode::kBrokenPool, "brine::BrokenPool", message) {}
  const char* name() const noexcept override { return "brine::BrokenPool"; }
};

// Rebuilds the exception a worker reported, so Future::get() can throw the right class.
[[noreturn]] void throw_error(ErrorCode code, const std::string& type_name, const std::string& message,
                              const std::string& where);

// Demangled name of the dynamic type of the exception currently being handled ("unknown" if
// it is not a std::exception), and its what().
std::string current_exception_type();
std::string current_exception_message();
std::string demangle(const char* mangled);

}  // namespace brine
