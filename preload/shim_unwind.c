/*
 * Stacks of allocation-driven peaks, walked with libgcc's unwinder linked statically into
 * the shim (hidden). It is called in the program's own threads, inside their
 * malloc, free or mmap, so what it may do there is what matters:
 *
 *  - It opens no descriptor, loads nothing and allocates nothing. glibc's backtrace()
 *    would load libgcc_s with dlopen at its first call, opening files at the lowest free
 *    descriptor numbers; libunwind's unw_backtrace validates addresses through a pipe it
 *    opens at those numbers and reads and writes from whichever thread unwinds, and its
 *    thread-local data calls malloc. A program closing and reusing low numbers could lose
 *    bytes of its own files to either.
 *  - It finds unwind tables with glibc's _dl_find_object (glibc 2.35 and later), without
 *    taking the loader's lock, so an unwind inside an allocation made by dlopen itself
 *    cannot deadlock.
 *
 * So a stack can be taken from the first sample on.
 */
#include "shim_internal.h"

#include <unwind.h>

typedef struct {
    void **ips;
    int n;
    int max;
} ms_walk_t;

static _Unwind_Reason_Code step(struct _Unwind_Context *ctx, void *arg)
{
    ms_walk_t *const w = arg;
    const _Unwind_Ptr ip = _Unwind_GetIP(ctx);

    if (w->n >= w->max || ip == 0)
        return _URC_END_OF_STACK;
    w->ips[w->n++] = (void *)ip;
    return _URC_NO_REASON;
}

int ms__unwind_capture(void **ips, int max)
{
    ms_walk_t w = {ips, 0, max};

    _Unwind_Backtrace(step, &w);
    return w.n;
}
