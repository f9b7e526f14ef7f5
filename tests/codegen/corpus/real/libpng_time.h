// png.h (libpng-dev): png_time, as libpng declares it (`typedef struct png_time_struct {...}
// png_time;`), with BRINE_EXPOSE added. A FlatBuffers struct of 7 bytes.
#pragma once

#include <cstdint>

#include <brine/codegen/annotate.h>

namespace libpng {

typedef uint16_t png_uint_16;
typedef unsigned char png_byte;

typedef struct BRINE_EXPOSE png_time_struct
{
   png_uint_16 year; /* full year, as in, 1995 */
   png_byte month;   /* month of year, 1 - 12 */
   png_byte day;     /* day of month, 1 - 31 */
   png_byte hour;    /* hour of day, 0 - 23 */
   png_byte minute;  /* minute of hour, 0 - 59 */
   png_byte second;  /* second of minute, 0 - 60 (for leap seconds) */
} png_time;

BRINE_TASK png_time echo_png_time(const png_time& t);

}  // namespace libpng
