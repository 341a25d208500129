/*
 * The C library's allocation and mapping functions, defined under their own names so
 * that the dynamic loader binds the program's calls (and the C library's own, and
 * libstdc++'s operator new and delete) to the shim, which is preloaded ahead of them.
 * Each only forwards to its implementation in shim_alloc.c, as mimalloc's
 * alloc-override.c does; these are the only symbols libmemsweep.so exports. This file is
 * compiled without builtins, so that the compiler makes no assumption about functions
 * that carry these names.
 */
#include "shim_internal.h"

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define MS_EXPORT __attribute__((visibility("default")))

MS_EXPORT void *malloc(size_t size)
{
    return atomic_load_explicit(&ms__malloc_entry, memory_order_relaxed)(size);
}

MS_EXPORT void *calloc(size_t n, size_t size)
{
    return ms__calloc(n, size);
}

MS_EXPORT void *realloc(void *p, size_t size)
{
    return ms__realloc(p, size);
}

/*
 * reallocarray and pvalloc go through the process's first realloc and memalign, called
 * through the PLT as the C library's own do: when an allocator preloaded ahead of the
 * shim (jemalloc defines neither of these two) owns the block, the shim's next realloc
 * would be glibc's, on a pointer glibc never gave out. With the shim first, these calls
 * come back to its own realloc and memalign, which count them.
 */
MS_EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
    size_t total;

    if (__builtin_mul_overflow(n, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, total);
}

MS_EXPORT void free(void *p)
{
    atomic_load_explicit(&ms__free_entry, memory_order_relaxed)(p);
}

MS_EXPORT int posix_memalign(void **out, size_t alignment, size_t size)
{
    return ms__posix_memalign(out, alignment, size);
}

MS_EXPORT void *aligned_alloc(size_t alignment, size_t size)
{
    return ms__aligned_alloc(alignment, size);
}

MS_EXPORT void *memalign(size_t alignment, size_t size)
{
    return ms__memalign(alignment, size);
}

MS_EXPORT void *valloc(size_t size)
{
    return ms__valloc(size);
}

MS_EXPORT void *pvalloc(size_t size)
{
    const size_t page = (size_t)getpagesize();
    size_t rounded;

    if (__builtin_add_overflow(size, page - 1, &rounded)) {
        errno = ENOMEM;
        return NULL;
    }
    rounded &= ~(page - 1);
    return memalign(page, rounded != 0 ? rounded : page);
}

MS_EXPORT size_t malloc_usable_size(void *p)
{
    return ms__malloc_usable_size(p);
}

MS_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return ms__mmap(addr, len, prot, flags, fd, off);
}

/* With 64-bit off_t, mmap64 is mmap under another name, as in glibc. */
_Static_assert(sizeof(off_t) == sizeof(off64_t), "mmap64 forwards to mmap");
MS_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
    return ms__mmap(addr, len, prot, flags, fd, (off_t)off);
}

MS_EXPORT int munmap(void *addr, size_t len)
{
    return ms__munmap(addr, len);
}

/* The fifth argument exists only with MREMAP_FIXED, as glibc's own wrapper reads it. */
MS_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
    void *new_addr = NULL;

    if (flags & MREMAP_FIXED) {
        va_list ap;
        va_start(ap, flags);
        new_addr = va_arg(ap, void *);
        va_end(ap);
    }
    return ms__mremap(old, old_len, new_len, flags, new_addr);
}
