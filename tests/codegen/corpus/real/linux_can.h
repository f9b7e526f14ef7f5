// linux/can.h (linux-libc-dev): struct can_frame and struct canfd_frame, adapted for
// brine-codegen. The original's anonymous union { __u8 len; __u8 can_dlc; } is refused
// (errors/linux_can_frame.h); here `len` is held as a plain field, and the C arrays are
// std::array. A FlatBuffers struct each: sizes and offsets are the kernel's.
#pragma once

#include <array>
#include <cstdint>

#include <brine/codegen/annotate.h>

namespace linux_can {

typedef uint32_t canid_t;

struct BRINE_EXPOSE can_frame {
  canid_t can_id;  // 32 bit CAN_ID + EFF/RTR/ERR flags
  uint8_t len;     // frame payload length in byte (0 .. CAN_MAX_DLEN); was can_dlc
  uint8_t __pad;
  uint8_t __res0;
  uint8_t len8_dlc;  // optional DLC for 8 byte payload length (9 .. 15)
  std::array<uint8_t, 8> data;
};

struct BRINE_EXPOSE canfd_frame {
  canid_t can_id;
  uint8_t len;
  uint8_t flags;  // additional flags for CAN FD
  uint8_t __res0;
  uint8_t __res1;
  std::array<uint8_t, 64> data;
};

BRINE_TASK can_frame echo_can(const can_frame& f);
BRINE_TASK canfd_frame echo_canfd(const canfd_frame& f);

}  // namespace linux_can
