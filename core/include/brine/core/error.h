// brine's exception hierarchy. Every failure a caller may handle differently has its own type,
// rooted at brine::Error; every message says what happened and what to do about it.
//
// Thread safety: these are plain value types. Inside shared memory an error is never an
// exception object: workers send {code, type name, message, where} as data (see result.fbs)
// and the parent rebuilds one of these types from it.
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
  kPoolClosed = 10,      // submit after shutdown, or the pool broke
  kSegment = 11,         // a shared-memory segment could not be created, mapped or attached
  kBrokenPool = 12,      // the pool cannot run tasks any more (its workers' initializer failed)
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

// The task threw. type_name() is the demangled C++ type of the remote exception, message() its
// what(), where() the registered function that threw.
class RemoteError : public Error {
 public:
  RemoteError(std::string type_name, std::string message, std::string where);
  const std::string& type_name() const noexcept { return type_name_; }
  const std::string& message() const noexcept { return message_; }
  const std::string& where() const noexcept { return where_; }

 private:
  std::string type_name_, message_, where_;
};

// One type per code, so callers can catch exactly what they handle.
template <ErrorCode kCode>
class CodedError : public Error {
 public:
  explicit CodedError(const std::string& message) : Error(kCode, message) {}
};

using NotRegistered = CodedError<ErrorCode::kNotRegistered>;
using NotSerializable = CodedError<ErrorCode::kNotSerializable>;
using DecodeError = CodedError<ErrorCode::kDecode>;
using ArenaExhausted = CodedError<ErrorCode::kArenaExhausted>;
using WorkerCrashed = CodedError<ErrorCode::kWorkerCrashed>;
using TimeoutError = CodedError<ErrorCode::kTimeout>;
using Cancelled = CodedError<ErrorCode::kCancelled>;
using RingFull = CodedError<ErrorCode::kRingFull>;
using PoolClosed = CodedError<ErrorCode::kPoolClosed>;
using SegmentError = CodedError<ErrorCode::kSegment>;
using BrokenPool = CodedError<ErrorCode::kBrokenPool>;

// Rebuilds the exception a worker reported, so Future::get() can throw the right type.
[[noreturn]] void throw_error(ErrorCode code, const std::string& type_name, const std::string& message,
                              const std::string& where);

// Demangled name of the dynamic type of the exception currently being handled ("unknown" if
// it is not a std::exception), and its what().
std::string current_exception_type();
std::string current_exception_message();
std::string demangle(const char* mangled);

}  // namespace brine
