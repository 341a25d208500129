/*
 * The queue that carries allocation-driven samples from the program's threads to the
 * sampler thread: Dmitry Vyukov's bounded multi-producer queue. Each cell has a sequence
 * number that says whose turn it is: a producer claims the cell at the enqueue position
 * with one compare-and-swap of that position, fills it, and hands it over by advancing
 * the cell's sequence; the consumer takes cells in order and hands each back a lap later.
 * No lock, no system call: a producer that finds the queue full gives up at once (the
 * caller counts the drop), and one that is slow to fill its cell only holds back the
 * sampler until its next wake-up.
 *
 * All storage is static. Sequence numbers are stored relative to the cell's index, so
 * that the zeroed storage is already the empty queue and its cells cost no memory until
 * they are used; they live apart from the entries for the same reason.
 */
#include "shim_internal.h"

#include <string.h>

#define CAP MS__ALLOCQ_CAP
_Static_assert((CAP & (CAP - 1)) == 0, "the queue's capacity must be a power of two");

static atomic_size_t seq_rel[CAP]; /* sequence - index */
static ms_alloc_sample_t cells[CAP];
static atomic_size_t enqueue_pos;
/* Written by the sampler only; atomic so that an exiting thread may count what waits. */
static atomic_size_t dequeue_pos;

static size_t seq_of(size_t i)
{
    return atomic_load_explicit(&seq_rel[i], memory_order_acquire) + i;
}

static void set_seq(size_t i, size_t seq)
{
    atomic_store_explicit(&seq_rel[i], seq - i, memory_order_release);
}

ms_alloc_sample_t *ms__allocq_claim(size_t *ticket)
{
    size_t pos = atomic_load_explicit(&enqueue_pos, memory_order_relaxed);

    for (;;) {
        const size_t i = pos & (CAP - 1);
        const intptr_t diff = (intptr_t)(seq_of(i) - pos);
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&enqueue_pos, &pos, pos + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed)) {
                *ticket = pos;
                return &cells[i];
            }
        } else if (diff < 0) {
            return NULL; /* the consumer has not taken this cell of the last lap */
        } else {
            pos = atomic_load_explicit(&enqueue_pos, memory_order_relaxed);
        }
    }
}

void ms__allocq_publish(size_t ticket)
{
    set_seq(ticket & (CAP - 1), ticket + 1);
}

int ms__allocq_pop(ms_alloc_sample_t *out)
{
    const size_t pos = atomic_load_explicit(&dequeue_pos, memory_order_relaxed);
    const size_t i = pos & (CAP - 1);

    if (seq_of(i) != pos + 1)
        return 0;
    /* Only the part of the stack that was filled is copied. */
    memcpy(out, &cells[i], offsetof(ms_alloc_sample_t, stack.ips));
    if (out->stack.depth < 0 || out->stack.depth > MS_MAX_STACK_FRAMES)
        out->stack.depth = 0;
    memcpy(out->stack.ips, cells[i].stack.ips, (size_t)out->stack.depth * sizeof(void *));
    set_seq(i, pos + CAP);
    atomic_store_explicit(&dequeue_pos, pos + 1, memory_order_relaxed);
    return 1;
}

size_t ms__allocq_waiting(void)
{
    const size_t out = atomic_load_explicit(&dequeue_pos, memory_order_relaxed);
    const size_t in = atomic_load_explicit(&enqueue_pos, memory_order_relaxed);

    return in - out <= CAP ? in - out : 0;
}

void ms__allocq_reset(void)
{
    /* Only the forking thread runs in the child: no producer can be halfway. */
    for (size_t i = 0; i < CAP; i++)
        atomic_store_explicit(&seq_rel[i], 0, memory_order_relaxed);
    atomic_store(&enqueue_pos, 0);
    atomic_store(&dequeue_pos, 0);
}
