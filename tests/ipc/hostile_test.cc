// Hostile worker: a task that, from inside its worker, scribbles into the completion ring and
// the result slot the parent reads (stray slot indices, envelope sizes past the slot, block ids
// past the table, references past their block or the arena, a truncated FlatBuffer, a ring
// index far past its capacity), then vanishes. Proves the parent rejects each with a clear
// brine error on that task only, keeps serving every other task, and (under ASan) never reads
// outside the segment.
//
// The task reaches the segment the test-only way: the memfd mapping named in /proc/self/maps,
// and its WorkerControl found by pid.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <numeric>
#include <string>

#include "brine/ipc/layout.h"
#include "brine/ipc/pool.h"
#include "test_support.h"

namespace hostile_test {

using namespace brine;

enum Mode : int {
  kStrayMessages,   // a premature "done", messages for slots not ours, then an honest result
  kSizePastSlot,    // inline envelope longer than the slot
  kBlockPastTable,  // envelope in block id past the block table
  kBlockNotHeld,    // envelope in a block the task does not hold
  kTruncated,       // the first half of a valid result envelope
  kRefPastTable,    // a value referencing block id past the table
  kRefPastBlock,    // a value referencing bytes past the end of its block
  kRefOverflow,     // offset + length wraps around 2^64
  kRefStale,        // a value referencing its block with the wrong generation
  kRingJump,        // the completion ring's write index a few laps past its read index
  kRingHuge,        // ... 2^40 messages past it
};

// What a task sees of its own worker in the shared segment.
struct Inside {
  std::byte* base = nullptr;
  ipc::SegmentHeader* header = nullptr;
  ipc::SlotHeader* slot = nullptr;
  uint32_t slot_index = 0;
  ipc::SpscRingControl* complete_control = nullptr;
  mutable ipc::SpscRing complete;

  // Where the worker writes the slot's inline result envelope.
  std::byte* slot_data() const { return base + header->result_data_offset + std::size_t{slot_index} * header->slot_bytes; }
  std::size_t slot_bytes() const { return header->slot_bytes; }
};

Inside find_inside() {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    unsigned long long start = 0, offset = 1;
    if (line.find("memfd:brine-") == std::string::npos || std::sscanf(line.c_str(), "%llx-%*x %*s %llx", &start, &offset) != 2 || offset != 0) {
      continue;
    }
    Inside in;
    in.base = reinterpret_cast<std::byte*>(start);
    in.header = reinterpret_cast<ipc::SegmentHeader*>(in.base);
    if (in.header->magic != ipc::kSegmentMagic) continue;
    auto* controls = reinterpret_cast<ipc::WorkerControl*>(in.base + in.header->workers_offset);
    for (uint32_t w = 0; w < in.header->max_workers; ++w) {
      if (controls[w].pid.load() != getpid()) continue;
      in.slot_index = controls[w].current_slot.load() - 1;
      in.slot = reinterpret_cast<ipc::SlotHeader*>(in.base + in.header->slots_offset + std::size_t{in.slot_index} * in.header->slot_size);
      in.complete_control = reinterpret_cast<ipc::SpscRingControl*>(in.base + controls[w].complete_ring);
      in.complete = ipc::SpscRing::attach(in.complete_control);
      return in;
    }
  }
  std::abort();  // not inside a brine worker
}

// A result envelope whose value references `ref`, written inline into the slot.
void write_ref_result(const Inside& in, const fb::BufferRef& ref) {
  // The value (a std::vector<double> in its one-field table) is an empty vector that the
  // envelope's reference list says lives in the arena.
  flatbuffers::FlatBufferBuilder fbb;
  fbb.StartVector(0, sizeof(double));
  const flatbuffers::uoffset_t empty = fbb.EndVector(0);
  const auto start = fbb.StartTable();
  fbb.AddOffset(4, flatbuffers::Offset<void>(empty));
  const flatbuffers::uoffset_t value = fbb.EndTable(start);
  const fb::RefEntry entry(empty, ref);
  const auto refs = fbb.CreateVectorOfStructs(&entry, 1);
  fbb.Finish(fb::CreateResult(fbb, in.slot->task_id, flatbuffers::Offset<fb::AnyTable>(value), 0, 0, refs),
             fb::ResultIdentifier());
  std::memcpy(in.slot_data(), fbb.GetBufferPointer(), fbb.GetSize());
  in.slot->envelope_block = 0;
  in.slot->envelope_size = fbb.GetSize();
}

// Reports the slot done with whatever it now holds and vanishes, so the worker's own honest
// result never overwrites the garbage.
[[noreturn]] void deliver_and_vanish(const Inside& in) {
  in.slot->state.store(ipc::slot_word(ipc::word_ticket(in.slot->state.load()), ipc::SlotState::kDone), std::memory_order_release);
  while (!in.complete.try_push(ipc::make_message(ipc::Message::kDone, in.slot_index))) {
  }
  in.header->doorbell.notify();
  _exit(0);
}

std::vector<double> hostile(int mode, std::span<const double> xs) {
  Inside in = find_inside();
  const ipc::ArenaView view(in.base, in.header);
  const fb::BufferRef held = *view.locate(xs.data(), xs.size_bytes());  // xs lives in an arena block
  const uint64_t block_size = view.blocks()[held.block()].size;
  switch (mode) {
    case kStrayMessages: {
      const uint32_t count = in.header->slot_count;
      in.complete.try_push(ipc::make_message(ipc::Message::kDone, in.slot_index));  // before finishing it
      in.complete.try_push(ipc::make_message(ipc::Message::kDone, count + 5));
      in.complete.try_push(ipc::make_message(ipc::Message::kDone, (in.slot_index + 1) % count));
      in.complete.try_push(ipc::make_message(ipc::Message::kAllocRequest, 0xffffff));
      in.complete.try_push((uint64_t{0x7f} << 56) | in.slot_index);
      in.header->doorbell.notify();
      // Give the parent time to act on the premature "done" (it must not free the slot).
      for (int i = 0; i < 200 && ipc::word_state(in.slot->state.load()) == ipc::SlotState::kRunning; ++i) usleep(1000);
      return {1.0, 2.0};
    }
    case kSizePastSlot:
      in.slot->envelope_block = 0;
      in.slot->envelope_size = static_cast<uint32_t>(in.slot_bytes() + 4096);
      break;
    case kBlockPastTable:
      in.slot->envelope_block = in.header->max_blocks + 7;
      in.slot->envelope_size = 64;
      break;
    case kBlockNotHeld:
      in.slot->envelope_block = (held.block() + 1) % in.header->max_blocks + 1;
      in.slot->envelope_size = 64;
      break;
    case kTruncated:
      write_ref_result(in, held);
      in.slot->envelope_size /= 2;
      break;
    case kRefPastTable: write_ref_result(in, fb::BufferRef(in.header->max_blocks + 3, 1, 0, 8)); break;
    case kRefPastBlock: write_ref_result(in, fb::BufferRef(held.block(), held.generation(), block_size - 8, 64)); break;
    case kRefOverflow: write_ref_result(in, fb::BufferRef(held.block(), held.generation(), ~uint64_t{0} - 7, 16)); break;
    case kRefStale: write_ref_result(in, fb::BufferRef(held.block(), held.generation() + 1, 0, 8)); break;
    case kRingJump:
    case kRingHuge:
      // Stale cells become "messages"; then the worker dies without reporting its slot.
      in.complete_control->write.fetch_add(mode == kRingJump ? 3 * in.complete.capacity() : uint64_t{1} << 40);
      in.header->doorbell.notify();
      _exit(0);
    default: break;
  }
  deliver_and_vanish(in);
}
BRINE_REGISTER(hostile);

double total(std::span<const double> xs) { return std::accumulate(xs.begin(), xs.end(), 0.0); }
BRINE_REGISTER(total);

}  // namespace hostile_test

namespace {

using namespace hostile_test;

struct Case {
  Mode mode;
  const char* expect;  // a fragment of the error message
};

class HostileTest : public ::testing::TestWithParam<Case> {};

TEST_P(HostileTest, TheParentRejectsTheGarbageFailsOnlyThatTaskAndKeepsServing) {
  const Case c = GetParam();
  const std::vector<double> xs(1 << 14, 1.0);  // 128 KiB: referenced in the arena
  {
    brine::Pool pool({.workers = 2, .arena_bytes = std::size_t{64} << 20, .slot_count = 64});
    const auto at_start = pool.stats();
    std::vector<brine::Future<double>> bystanders;
    for (int i = 0; i < 8; ++i) bystanders.push_back(pool.submit(total, xs));
    auto victim = pool.submit(hostile, static_cast<int>(c.mode), xs);
    for (int i = 0; i < 8; ++i) bystanders.push_back(pool.submit(total, xs));

    ASSERT_TRUE(victim.wait_for(std::chrono::seconds(30))) << "the parent hung on a hostile result";
    if (c.mode == kStrayMessages) {
      EXPECT_EQ(victim.get(), (std::vector<double>{1.0, 2.0}));
    } else {
      try {
        victim.get();
        ADD_FAILURE() << "a hostile result was accepted";
      } catch (const brine::Error& e) {
        // A garbled ring loses the task's report: then it fails as its worker's crash.
        const bool ring = c.mode == kRingJump || c.mode == kRingHuge;
        EXPECT_TRUE(e.code() == brine::ErrorCode::kDecode || (ring && e.code() == brine::ErrorCode::kWorkerCrashed)) << e.what();
        EXPECT_NE(std::string(e.what()).find(c.expect), std::string::npos) << e.what();
      }
    }
    for (auto& f : bystanders) {
      ASSERT_TRUE(f.wait_for(std::chrono::seconds(30)));
      EXPECT_EQ(f.get(), double(1 << 14)) << "a bystander task was affected";
    }
    EXPECT_EQ(pool.submit(total, xs).get(), double(1 << 14));
    bystanders.clear();
    victim = {};
    EXPECT_EQ(pool.stats().arena_blocks, at_start.arena_blocks);
  }
  EXPECT_TRUE(brine::testing::brine_memfds().empty());
  EXPECT_TRUE(brine::testing::child_pids().empty());
}

INSTANTIATE_TEST_SUITE_P(Scribbles, HostileTest,
                         ::testing::Values(Case{kStrayMessages, ""}, Case{kSizePastSlot, "bytes in a slot of"},
                                           Case{kBlockPastTable, "arena block"}, Case{kBlockNotHeld, "arena block"},
                                           Case{kTruncated, "corrupt result envelope"},
                                           Case{kRefPastTable, "names arena block"},
                                           Case{kRefPastBlock, "outside its arena block"},
                                           Case{kRefOverflow, "outside its arena block"},
                                           Case{kRefStale, "stale generation"}, Case{kRingJump, "brine::"},
                                           Case{kRingHuge, "brine::"}),
                         [](const ::testing::TestParamInfo<Case>& p) { return "Mode" + std::to_string(p.param.mode); });

}  // namespace
