/* The two clocks memsweep reads: wall time for records, monotonic time for durations. */
#ifndef MS_COMMON_CLOCK_H
#define MS_COMMON_CLOCK_H

#include <stdint.h>

/* Nanoseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t ms_now_ns(void);

/* Nanoseconds on CLOCK_MONOTONIC, for measuring durations. */
int64_t ms_mono_ns(void);

#endif
