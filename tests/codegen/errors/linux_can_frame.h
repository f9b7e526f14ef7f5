// linux/can.h (linux-libc-dev) as the kernel declares struct can_frame: the anonymous union
// { len; can_dlc; } was once dropped silently (issue 12, item 1); now it is refused.
#pragma once
#include <cstdint>

#include <brine/codegen/annotate.h>

typedef uint32_t canid_t;
typedef uint8_t __u8;

struct BRINE_EXPOSE can_frame {
	canid_t can_id;  /* 32 bit CAN_ID + EFF/RTR/ERR flags */
	union {
		__u8 len;
		__u8 can_dlc; /* deprecated */
	} __attribute__((packed)); /* disable padding added in some ABIs */
	__u8 __pad; /* padding */
	__u8 __res0; /* reserved / padding */
	__u8 len8_dlc; /* optional DLC for 8 byte payload length (9 .. 15) */
	__u8 data[8] __attribute__((aligned(8)));
};

// Expected by check_tool.cmake (the tool must exit non-zero and write nothing):
// expect: errors/linux_can_frame.h:13:2: error: 'can_frame' has an anonymous union (members 'len', 'can_dlc'): brine-codegen would have to drop it, as nothing records which member is live; hold the one member you use as a plain field instead of the union
// expect: errors/linux_can_frame.h:20:7: error: field 'data' of 'can_frame' has type '__u8[8]' (aka 'unsigned char[8]'): C arrays are not supported; use std::array<T, N> (or std::vector<T>)
