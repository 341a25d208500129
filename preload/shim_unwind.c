/*
 * Stacks of allocation-driven peaks, through the C library's backtrace(), which walks the
 * stack with libgcc's unwinder. It is called in the program's own threads, inside their
 * malloc, free or mmap, so what it may do there is what matters:
 *
 *  - It opens no descriptor and allocates nothing once it has been used in the process.
 *    libunwind's unw_backtrace, the obvious alternative, validates addresses through a
 *    pipe it opens at the lowest free descriptor numbers and reads, writes and reopens
 *    from whichever thread unwinds: the very numbers a program closes and reuses, so it
 *    could consume a byte of the program's input or write one into its output. It is also
 *    loaded with dlopen, and the first use of its thread-local data in each thread calls
 *    malloc, which deadlocks an allocator that maps memory under its own lock.
 *  - Its first call loads libgcc_s and sets up the unwinder (dlopen, malloc): the sampler
 *    thread makes that call, after its first tick, so that a program thread never does.
 *    A process that ends within one interval never pays for it.
 *  - glibc 2.35 and later let libgcc find unwind tables with _dl_find_object, without
 *    taking the loader's lock, so an unwind inside an allocation made by dlopen itself
 *    cannot deadlock either.
 *
 * Until the first call has been made, peaks are recorded without a stack.
 */
#include "shim_internal.h"

#include <errno.h>
#include <execinfo.h>

static atomic_int ready;
static int tried;

int ms__unwind_load(void)
{
    void *warm[8];

    if (tried)
        return atomic_load(&ready) ? 0 : -ENOENT;
    tried = 1;
    if (backtrace(warm, (int)(sizeof warm / sizeof warm[0])) <= 0)
        return -ENOENT;
    atomic_store_explicit(&ready, 1, memory_order_release);
    return 0;
}

int ms__unwind_capture(void **ips, int max)
{
    int n;

    if (!atomic_load_explicit(&ready, memory_order_acquire))
        return 0;
    n = backtrace(ips, max);
    return n > 0 ? n : 0;
}

const void *ms__unwind_module(void)
{
    /* backtrace() leaves out its own frames: there is no unwinder module to skip. */
    return NULL;
}
