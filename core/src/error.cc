#include "brine/core/error.h"

#include <cxxabi.h>

#include <cstdlib>
#include <exception>
#include <memory>
#include <typeinfo>

namespace brine {

RemoteError::RemoteError(std::string type_name, std::string message, std::string where)
    : Error(ErrorCode::kRemote, type_name + " in " + where + ": " + message),
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
