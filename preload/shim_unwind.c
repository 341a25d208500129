/*
 * libunwind, for the stacks of allocation-driven peaks. It cannot be linked into the shim
 * the way SQLite is: the distribution's static libunwind.a is not position-independent
 * code. Linking its shared library instead would put its exported `backtrace` and
 * `_Unwind_*` functions into every program's global scope, in front of glibc's and
 * libgcc's, and would load it (and liblzma) at every process start. So the sampler thread
 * loads it with dlopen(RTLD_LOCAL) after its first tick: its symbols stay private, the
 * program's start and exit never wait for it (a process that ends within one interval
 * never loads it), and a program that uses the same library itself simply shares the one
 * copy. Until it is loaded, or where it is not installed, peaks are recorded without a
 * stack.
 *
 * The program's threads only call unw_backtrace through an atomic pointer, and only on
 * the rate-limited peak path of shim_trigger.c, with the re-entrancy guard set, so that
 * the memory libunwind maps for its caches is not counted as the program's.
 */
#include "shim_internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>

#ifndef MS_LIBUNWIND_SONAME
#define MS_LIBUNWIND_SONAME "libunwind.so.8"
#endif

typedef int (*backtrace_fn)(void **, int);

static _Atomic(backtrace_fn) unw_backtrace_ptr;
static _Atomic(const void *) unwind_module;
static int tried;

int ms__unwind_load(void)
{
    void *warm[MS_MAX_STACK_FRAMES];
    struct link_map *lm = NULL;
    void *handle;
    backtrace_fn fn;

    if (tried)
        return atomic_load(&unw_backtrace_ptr) != NULL ? 0 : -ENOENT;
    tried = 1;
    /* RTLD_NOW: no lazy binding left to do later inside a program's thread. */
    handle = dlopen(MS_LIBUNWIND_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL)
        return -ENOENT;
    fn = (backtrace_fn)dlsym(handle, "unw_backtrace");
    if (fn == NULL)
        return -ENOENT;
    if (dlinfo(handle, RTLD_DI_LINKMAP, &lm) == 0)
        atomic_store(&unwind_module, (const void *)lm);
    /* The first call sets up libunwind's global state: here, not in the program. */
    fn(warm, MS_MAX_STACK_FRAMES);
    atomic_store(&unw_backtrace_ptr, fn);
    return 0;
}

int ms__unwind_capture(void **ips, int max)
{
    const backtrace_fn fn = atomic_load_explicit(&unw_backtrace_ptr, memory_order_acquire);
    int n;

    if (fn == NULL)
        return 0;
    n = fn(ips, max);
    return n > 0 ? n : 0;
}

const void *ms__unwind_module(void)
{
    return atomic_load(&unwind_module);
}
