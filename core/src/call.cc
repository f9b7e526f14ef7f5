#include "brine/core/call.h"

#include <string>

namespace brine {

namespace {

template <class Root>
const Root& verify(std::span<const std::byte> envelope, const char* identifier, const char* what) {
  const auto* data = reinterpret_cast<const uint8_t*>(envelope.data());
  const std::size_t size = envelope.size();
  if (size < 8) {
    throw DecodeError(std::string("brine: corrupt ") + what + ": " + std::to_string(size) +
                      " bytes is shorter than a FlatBuffers header (8)");
  }
  if (!flatbuffers::BufferHasIdentifier(data, identifier)) {
    throw DecodeError(std::string("brine: corrupt ") + what + ": bytes 4..7 are not the identifier \"" + identifier +
                      "\"");
  }
  flatbuffers::Verifier::Options opts;
  opts.max_depth = 128;
  opts.max_tables = 100'000'000;
  opts.check_alignment = true;
  flatbuffers::Verifier verifier(data, size, opts);
  if (!verifier.VerifyBuffer<Root>(identifier)) {
    throw DecodeError(std::string("brine: corrupt ") + what + " (" + std::to_string(size) +
                      " bytes): the FlatBuffers verifier rejected its table graph (an offset, length or "
                      "nesting points outside the buffer)");
  }
  return *flatbuffers::GetRoot<Root>(data);
}

}  // namespace

const fb::Task& verify_task(std::span<const std::byte> envelope) {
  return verify<fb::Task>(envelope, fb::TaskIdentifier(), "task envelope");
}

const fb::Result& verify_result(std::span<const std::byte> envelope) {
  return verify<fb::Result>(envelope, fb::ResultIdentifier(), "result envelope");
}

flatbuffers::Offset<fb::Result> encode_error(Encoder& e, uint64_t task_id, fb::Phase phase, ErrorCode code,
                                             std::string_view type_name, std::string_view message,
                                             std::string_view where) {
  auto& fbb = e.builder();
  auto err = fb::CreateError(fbb, phase, static_cast<int32_t>(code), fbb.CreateString(type_name),
                             fbb.CreateString(message), fbb.CreateString(where));
  return fb::CreateResult(fbb, task_id, 0, err);
}

namespace {

// One call of a verified task; a failure becomes an error result, never an exception.
flatbuffers::Offset<fb::Result> run_call(const FunctionInfo& info, Invoker invoke, uint64_t task_id,
                                         const CallValues& call, const Decoder& d, Encoder& e) {
  const std::size_t mark = e.mark();
  fb::Phase phase = fb::Phase::DecodeTask;
  try {
    const ValueRef value = invoke(call, d, e, phase);
    return fb::CreateResult(e.builder(), task_id, value);
  } catch (const Error& err) {
    e.discard_since(mark);
    // A brine error inside the call (a nested decode, an arena limit...) keeps its own type.
    return encode_error(e, task_id, phase, phase == fb::Phase::Run ? ErrorCode::kRemote : err.code(),
                        current_exception_type(), err.what(), info.name);
  } catch (...) {
    e.discard_since(mark);
    return encode_error(e, task_id, phase, ErrorCode::kRemote, current_exception_type(), current_exception_message(),
                        info.name);
  }
}

}  // namespace

flatbuffers::Offset<fb::Result> run_task(const fb::Task& task, const FunctionRegistry& registry, const Decoder& d,
                                         Encoder& e) {
  const FunctionInfo* info = registry.find(task.function_id());
  if (info == nullptr) {
    return encode_error(e, task.task_id(), fb::Phase::DecodeTask, ErrorCode::kNotRegistered, "brine::NotRegistered",
                        "no function with id " + std::to_string(task.function_id()) +
                            " is registered in the worker's binary; register it with BRINE_REGISTER in a file "
                            "linked into the worker",
                        "worker");
  }
  if (info->signature != task.signature()) {
    return encode_error(e, task.task_id(), fb::Phase::DecodeTask, ErrorCode::kDecode, "brine::DecodeError",
                        "the task's argument types do not match " + info->name + info->signature_text +
                            " as registered in the worker; rebuild both sides from the same sources",
                        info->name);
  }
  if (info->by_value && task.image_id() != info->image_id) {
    return encode_error(e, task.task_id(), fb::Phase::DecodeTask, ErrorCode::kNotSerializable,
                        "brine::NotSerializable",
                        info->name + " was sent by value from a different binary image; a lambda only runs in "
                                     "workers of the binary that sent it (fork, or spawn of the same build). "
                                     "Register a function or functor and send it by name instead",
                        info->name);
  }
  if ((task.flags() & kTaskVectorized) != 0) {
    if (info->invoke_vectorized == nullptr) {
      return encode_error(e, task.task_id(), fb::Phase::DecodeTask, ErrorCode::kDecode, "brine::DecodeError",
                          "a vectorized chunk names " + info->name + ", which cannot run vectorized", info->name);
    }
    return run_call(*info, info->invoke_vectorized, task.task_id(), CallValues{task.bound(), task.args()}, d, e);
  }
  const auto* batch = task.batch();
  if (batch == nullptr) return run_call(*info, info->invoke, task.task_id(), CallValues{task.bound(), task.args()}, d, e);
  // A chunk: every call shares the function and its bound state; each gets its own result.
  std::vector<flatbuffers::Offset<fb::Result>> results;
  results.reserve(batch->size());
  for (const fb::Task* call : *batch) {
    results.push_back(run_call(*info, info->invoke, task.task_id(), CallValues{task.bound(), call->args()}, d, e));
  }
  auto list = e.builder().CreateVector(results);
  return fb::CreateResult(e.builder(), task.task_id(), 0, 0, list);
}

void rethrow(const fb::Error& error) {
  auto str = [](const flatbuffers::String* s) { return s != nullptr ? s->str() : std::string(); };
  const std::string type = str(error.type_name());
  const std::string where = str(error.where());
  const std::string message = str(error.message());
  const auto code = static_cast<ErrorCode>(error.code());
  if (code == ErrorCode::kRemote) throw RemoteError(type, message, where);
  throw_error(code, type, message + (where.empty() ? "" : " (in " + where + ", " + fb::EnumNamePhase(error.phase()) + ")"),
              where);
}

}  // namespace brine
