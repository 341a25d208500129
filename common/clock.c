/* Wall and monotonic clocks in nanoseconds. */
#include "clock.h"

#include <stdlib.h>
#include <time.h>

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;

    if (clock_gettime(id, &ts) != 0)
        abort(); /* Both clocks always exist on Linux. */
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t ms_now_ns(void)
{
    return clock_ns(CLOCK_REALTIME);
}

int64_t ms_mono_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}
