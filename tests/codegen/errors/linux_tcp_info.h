// linux/tcp.h (linux-libc-dev): the start of struct tcp_info, with its bit-fields.
#pragma once
#include <cstdint>

#include <brine/codegen/annotate.h>

typedef uint8_t __u8;
typedef uint32_t __u32;

struct BRINE_EXPOSE tcp_info {
	__u8	tcpi_state;
	__u8	tcpi_ca_state;
	__u8	tcpi_retransmits;
	__u8	tcpi_probes;
	__u8	tcpi_backoff;
	__u8	tcpi_options;
	__u8	tcpi_snd_wscale : 4, tcpi_rcv_wscale : 4;
	__u8	tcpi_delivery_rate_app_limited:1, tcpi_fastopen_client_fail:2;

	__u32	tcpi_rto;
};

// Expected by check_tool.cmake (the tool must exit non-zero and write nothing):
// expect: errors/linux_tcp_info.h:17:7: error: field 'tcpi_snd_wscale' of 'tcp_info' is a bit-field; use a plain integer field
// expect: errors/linux_tcp_info.h:17:28: error: field 'tcpi_rcv_wscale' of 'tcp_info' is a bit-field; use a plain integer field
// expect: errors/linux_tcp_info.h:18:7: error: field 'tcpi_delivery_rate_app_limited' of 'tcp_info' is a bit-field; use a plain integer field
// expect: errors/linux_tcp_info.h:18:41: error: field 'tcpi_fastopen_client_fail' of 'tcp_info' is a bit-field; use a plain integer field
