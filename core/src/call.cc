#include "brine/core/call.h"

#include <cstring>
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
  if (std::memcmp(data + sizeof(flatbuffers::uoffset_t), identifier, flatbuffers::kFileIdentifierLength) != 0) {
    throw DecodeError(std::string("brine: corrupt ") + what + ": bytes 4..7 are not the identifier \"" + identifier +
                      "\"");
  }
  flatbuffers::Verifier verifier(data, size, verifier_options(size));
  if (!verifier.VerifyBuffer<Root>(nullptr)) {  // the identifier is checked above
    throw DecodeError(std::string("brine: corrupt ") + what + " (" + std::to_string(size) +
                      " bytes): the FlatBuffers verifier rejected its table graph (an offset, length or "
                      "nesting points outside the buffer)");
  }
  return *flatbuffers::GetRoot<Root>(data);
}

}  // namespace

void finish_task(Encoder& e, uint64_t task_id, const FunctionInfo& info, const EncodedCall& call) {
  auto& fbb = e.builder();
  const auto refs = e.finish_refs();
  const fb::TaskHead head(task_id, info.id, info.signature, info.image_id, call.vectorized ? kTaskVectorized : 0,
                          call.bound_count);
  // The frame's vtable is the envelope's only one of its shape: searching the others for a
  // twin costs more than the few bytes a match could save. (Every builder brine encodes with
  // de-duplicates; FlatBuffers 2.0 has no getter to save and restore the setting.)
  fbb.DedupVtables(false);
  const auto task = fb::CreateTask(fbb, &head, flatbuffers::Offset<fb::AnyTable>(call.call),
                                   flatbuffers::Offset<fb::AnyTable>(call.bound), call.batch, refs);
  fbb.DedupVtables(true);
  fbb.Finish(task, fb::TaskIdentifier());
}

const fb::Task& verify_task(std::span<const std::byte> envelope) {
  return verify<fb::Task>(envelope, fb::TaskIdentifier(), "task envelope");
}

const fb::Result& verify_result(std::span<const std::byte> envelope) {
  return verify<fb::Result>(envelope, fb::ResultIdentifier(), "result envelope");
}

ResultParts encode_error(Encoder& e, uint64_t task_id, fb::Phase phase, ErrorCode code, std::string_view type_name,
                         std::string_view message, std::string_view where) {
  auto& fbb = e.builder();
  const auto err = fb::CreateError(fbb, phase, static_cast<int32_t>(code), fbb.CreateString(type_name),
                                   fbb.CreateString(message), fbb.CreateString(where));
  return ResultParts{task_id, 0, err, 0};
}

void finish_result(Encoder& e, const ResultParts& r) {
  auto& fbb = e.builder();
  const auto refs = e.finish_refs();
  fbb.Finish(fb::CreateResult(fbb, r.task_id, flatbuffers::Offset<fb::AnyTable>(r.value), r.error, r.batch, refs),
             fb::ResultIdentifier());
}

// One call of a verified task; a failure becomes an error result, never an exception.
ResultParts invoke_call(const FunctionInfo& info, Invoker invoke, uint64_t task_id, const CallFrame& call,
                        const Decoder& d, Encoder& e) {
  fb::Phase phase = fb::Phase::DecodeTask;
  try {
    const flatbuffers::uoffset_t value = invoke(call, d, e, phase);
    return ResultParts{task_id, value, 0, 0};
  } catch (const Error& err) {
    // A brine error inside the call (a nested decode, an arena limit...) keeps its own type.
    return encode_error(e, task_id, phase, phase == fb::Phase::Run ? ErrorCode::kRemote : err.code(),
                        current_exception_type(), err.what(), info.name);
  } catch (...) {
    return encode_error(e, task_id, phase, ErrorCode::kRemote, current_exception_type(), current_exception_message(),
                        info.name);
  }
}

namespace {

const flatbuffers::Table* as_table(const fb::AnyTable* t) { return reinterpret_cast<const flatbuffers::Table*>(t); }

}  // namespace

ResultParts run_task(const fb::Task& task, const FunctionRegistry& registry, const Decoder& d, Encoder& e,
                     std::vector<std::shared_ptr<void>>* keep) {
  const fb::TaskHead& head = *task.head();  // required: the verifier checked it is there
  const FunctionInfo* info = registry.find(head.function_id());
  if (info == nullptr) {
    return encode_error(e, head.task_id(), fb::Phase::DecodeTask, ErrorCode::kNotRegistered, "brine::NotRegistered",
                        "no function with id " + std::to_string(head.function_id()) +
                            " is registered in the worker's binary; register it with BRINE_REGISTER in a file "
                            "linked into the worker",
                        "worker");
  }
  if (info->signature != head.signature()) {
    return encode_error(e, head.task_id(), fb::Phase::DecodeTask, ErrorCode::kDecode, "brine::DecodeError",
                        "the task's argument types do not match " + info->name + info->signature_text +
                            " as registered in the worker; rebuild both sides from the same sources",
                        info->name);
  }
  if (info->by_value && head.image_id() != info->image_id) {
    return encode_error(e, head.task_id(), fb::Phase::DecodeTask, ErrorCode::kNotSerializable,
                        "brine::NotSerializable",
                        info->name + " was sent by value from a different binary image; a lambda only runs in "
                                     "workers of the binary that sent it (fork, or spawn of the same build). "
                                     "Register a function or functor and send it by name instead",
                        info->name);
  }
  const CallFrame single{as_table(task.call()), as_table(task.bound()), head.bound_count(), keep};
  if ((head.flags() & kTaskVectorized) != 0) {
    if (info->invoke_vectorized == nullptr) {
      return encode_error(e, head.task_id(), fb::Phase::DecodeTask, ErrorCode::kDecode, "brine::DecodeError",
                          "a vectorized chunk names " + info->name + ", which cannot run vectorized", info->name);
    }
    return invoke_call(*info, info->invoke_vectorized, head.task_id(), single, d, e);
  }
  const auto* batch = task.batch();
  if (batch == nullptr) return invoke_call(*info, info->invoke, head.task_id(), single, d, e);
  // A chunk: every call shares the function and its bound state; each gets its own result.
  std::vector<flatbuffers::Offset<fb::Result>> results;
  results.reserve(batch->size());
  for (const fb::AnyTable* call : *batch) {
    const ResultParts r = invoke_call(*info, info->invoke, head.task_id(),
                                      CallFrame{as_table(call), single.bound, single.bound_count, nullptr}, d, e);
    results.push_back(fb::CreateResult(e.builder(), r.task_id, flatbuffers::Offset<fb::AnyTable>(r.value), r.error));
  }
  return ResultParts{head.task_id(), 0, 0, e.builder().CreateVector(results)};
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
