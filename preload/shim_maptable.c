/*
 * The anonymous mappings the program made through mmap, so that munmap and mremap can
 * tell how many counted bytes they give back. A lock-free open-addressing table keyed by
 * address: a slot is claimed with a compare-and-swap of its key, forgotten by swapping the
 * key for a tombstone, and a lookup stops at the first never-used slot or after
 * MAX_PROBES. Mappings are looked up by their start; the kernel never hands out an
 * address that is still mapped, and munmap forgets a mapping before the real call, so a
 * key is never in the table twice.
 *
 * What it does not see is a bounded error, never a wrong answer about memory it saw:
 * munmap of a range that starts inside a mapping, or that spans several, and a mapping
 * that found no free slot (counted in `overflows`, and then neither its map nor its unmap
 * counts).
 */
#include "shim_internal.h"

#include <errno.h>

/* A power of two. 16 bytes a slot; untouched slots cost no memory. */
#define SLOTS 8192
#define MAX_PROBES 32

#define KEY_EMPTY ((uintptr_t)0)
#define KEY_TOMB ((uintptr_t)1) /* mappings start on a page, never at 1 */

typedef struct {
    _Atomic uintptr_t key;
    atomic_size_t len;
} ms_map_slot_t;

static MS__COLD ms_map_slot_t table[SLOTS];
static atomic_llong overflows;

static size_t home_of(uintptr_t key)
{
    /* Fibonacci hashing of the page number spreads neighbouring mappings apart. */
    return (size_t)(((uint64_t)(key >> 12) * UINT64_C(0x9E3779B97F4A7C15)) >> 51) &
           (SLOTS - 1);
}

int ms__maptable_insert(void *addr, size_t len)
{
    const uintptr_t key = (uintptr_t)addr;
    const size_t home = home_of(key);

    if (key == KEY_EMPTY || key == KEY_TOMB)
        return -EINVAL;
    for (size_t i = 0; i < MAX_PROBES; i++) {
        ms_map_slot_t *const s = &table[(home + i) & (SLOTS - 1)];
        uintptr_t k = atomic_load_explicit(&s->key, memory_order_relaxed);
        while (k == KEY_EMPTY || k == KEY_TOMB) {
            if (atomic_compare_exchange_weak(&s->key, &k, key)) {
                atomic_store_explicit(&s->len, len, memory_order_release);
                return 0;
            }
        }
    }
    atomic_fetch_add_explicit(&overflows, 1, memory_order_relaxed);
    return -ENOSPC;
}

long ms__maptable_find(const void *addr, size_t len)
{
    const uintptr_t key = (uintptr_t)addr;
    const size_t home = home_of(key);

    for (size_t i = 0; i < MAX_PROBES; i++) {
        const size_t idx = (home + i) & (SLOTS - 1);
        const uintptr_t k = atomic_load_explicit(&table[idx].key, memory_order_acquire);
        if (k == KEY_EMPTY)
            break;
        if (k == key)
            return atomic_load_explicit(&table[idx].len, memory_order_acquire) == len
                       ? (long)idx
                       : -1;
    }
    return -1;
}

size_t ms__maptable_take(long slot, const void *addr)
{
    ms_map_slot_t *const s = &table[slot];
    uintptr_t k = (uintptr_t)addr;

    if (!atomic_compare_exchange_strong(&s->key, &k, KEY_TOMB))
        return 0;
    return atomic_load_explicit(&s->len, memory_order_acquire);
}

size_t ms__maptable_unmap(void *addr, size_t len)
{
    const uintptr_t key = (uintptr_t)addr;
    const size_t home = home_of(key);

    for (size_t i = 0; i < MAX_PROBES; i++) {
        ms_map_slot_t *const s = &table[(home + i) & (SLOTS - 1)];
        uintptr_t k = atomic_load_explicit(&s->key, memory_order_acquire);
        size_t had;
        if (k == KEY_EMPTY)
            break;
        if (k != key)
            continue;
        had = atomic_load_explicit(&s->len, memory_order_acquire);
        if (!atomic_compare_exchange_strong(&s->key, &k, KEY_TOMB))
            return 0;
        if (len >= had)
            return had;
        /* Only the start goes: the rest stays recorded under its new start. */
        if (ms__maptable_insert((char *)addr + len, had - len) != 0)
            return had;
        return len;
    }
    return 0;
}

int64_t ms__maptable_overflows(void)
{
    return atomic_load_explicit(&overflows, memory_order_relaxed);
}
