#include "brine/core/error.h"

#include <cxxabi.h>

#include <cstdlib>
#include <exception>
#include <memory>
#include <string_view>
#include <typeinfo>

namespace brine {

namespace {

// "brine::X: body": the class's name, then the message without its "brine: " lead-in. A message
// that already names the class (rebuilt from a worker's report) is kept as is.
std::string named(const char* name, const std::string& message) {
  const std::string prefix = std::string(name) + ": ";
  if (message.compare(0, prefix.size(), prefix) == 0) return message;
  constexpr std::string_view kLead = "brine: ";
  if (message.compare(0, kLead.size(), kLead) == 0) return prefix + message.substr(kLead.size());
  return prefix + message;
}

}  // namespace

const char* error_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kRemote: return "brine::RemoteError";
    case ErrorCode::kNotRegistered: return "brine::NotRegistered";
    case ErrorCode::kNotSerializable: return "brine::NotSerializable";
    case ErrorCode::kDecode: return "brine::DecodeError";
    case ErrorCode::kArenaExhausted: return "brine::ArenaExhausted";
    case ErrorCode::kWorkerCrashed: return "brine::WorkerCrashed";
    case ErrorCode::kTimeout: return "brine::TimeoutError";
    case ErrorCode::kCancelled: return "brine::Cancelled";
    case ErrorCode::kRingFull: return "brine::RingFull";
    case ErrorCode::kPoolClosed: return "brine::PoolClosed";
    case ErrorCode::kSegment: return "brine::SegmentError";
    case ErrorCode::kBrokenPool: return "brine::BrokenPool";
    case ErrorCode::kUnknown: break;
  }
  return "brine::Error";
}

Error::Error(ErrorCode code, const std::string& message) : Error(code, "brine::Error", message) {}

Error::Error(ErrorCode code, const char* name, const std::string& message)
    : std::runtime_error(named(name, message)), code_(code) {}

RemoteError::RemoteError(std::string type_name, std::string message, std::string where)
    : Error(ErrorCode::kRemote, "brine::RemoteError", type_name + " in " + where + ": " + message),
      type_name_(std::move(type_name)),
      message_(std::move(message)),
      where_(std::move(where)) {}

std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> out(abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  return status == 0 && out ? std::string(out.get()) : std::string(mangled);
}

std::string current_exception_type() {
  const std::type_info* t = abi::__cxa_current_exception_type();
  return t != nullptr ? demangle(t->name()) : "unknown";
}

std::string current_exception_message() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "(not a std::exception)";
  }
}

void throw_error(ErrorCode code, const std::string& type_name, const std::string& message, const std::string& where) {
  switch (code) {
    case ErrorCode::kRemote: throw RemoteError(type_name, message, where);
    case ErrorCode::kNotRegistered: throw NotRegistered(message);
    case ErrorCode::kNotSerializable: throw NotSerializable(message);
    case ErrorCode::kDecode: throw DecodeError(message);
    case ErrorCode::kArenaExhausted: throw ArenaExhausted(message);
    case ErrorCode::kWorkerCrashed: throw WorkerCrashed(message);
    case ErrorCode::kTimeout: throw TimeoutError(message);
    case ErrorCode::kCancelled: throw Cancelled(message);
    case ErrorCode::kRingFull: throw RingFull(message);
    case ErrorCode::kPoolClosed: throw PoolClosed(message);
    case ErrorCode::kSegment: throw SegmentError(message);
    case ErrorCode::kBrokenPool: throw BrokenPool(message);
    case ErrorCode::kUnknown: break;
  }
  throw Error(code, message);
}

}  // namespace brine
