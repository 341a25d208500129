/* Private to the shim (preload/): the launcher, the analyzer and the tests never include it. */
/*
 * Modules of libmemsweep.so and what they share:
 *   shim_main.c     constructor, destructor, fork handler and exit; reads the environment
 *   shim_exit_override.c, shim_exec_override.c  the exported _exit, _Exit, daemon and
 *                   the exec family: forwarders that first take the end or the exec reading
 *   shim_image.c    the life of one process image: start, dormant fork child, wake, exec, end
 *   shim_pool.c     the pool file of the run: open or create it, claim and map chunks
 *   shim_spool.c    the image's records in its chunks: one writer at a time, live counters
 *   shim_sampler.c  the sampler thread of a process no collector watches: ticks, PSS,
 *                   following growth
 *   shim_proc.c     /proc reads, clocks and random numbers
 *   shim_fmt.c      fixed-buffer text and the shim's only output path
 * and, for the samples driven by the program's own allocations (see shim_alloc.c):
 *   shim_alloc_override.c  the exported malloc, free, mmap, ...: forwarders only
 *   shim_alloc.c    the hooks: real functions, bootstrap pool, per-thread counters
 *   shim_maptable.c the anonymous mappings the program made, for munmap and mremap
 *   shim_trigger.c  an allocation-driven sample, taken and written in the allocating thread,
 *                   and the request to follow the growth after it
 *   shim_blocks.c   the large blocks live in the image, listed at its highest readings
 *   shim_unwind.c   the unwinder, called on new peaks and large blocks
 *   shim_stacks.c   return addresses to "module+0xoffset symbol" text
 * Calls between them go one way only (main -> image -> sampler -> trigger -> spool -> pool
 * -> proc -> fmt, trigger -> blocks -> spool, alloc -> image, trigger and blocks, the overrides -> main or image): no two files
 * call each other in a circle.
 * Functions return 0 or a negative errno code unless they say otherwise.
 */
#ifndef MS_PRELOAD_SHIM_INTERNAL_H
#define MS_PRELOAD_SHIM_INTERNAL_H

#include "memsweep/defaults.h"
#include "memsweep/spool.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/*
 * Places a large zero-initialised buffer after every other variable of the shim (the
 * library is linked with -fdata-sections and --sort-section=name, and "~" sorts after
 * every name): the small variables that every process writes at start then share one or
 * two pages, and each page a process first writes costs it a page fault.
 */
#define MS__COLD __attribute__((section(".bss.~cold")))

/* Longest path the shim accepts (database, spool directory, pool), including the NUL. */
#define MS__PATH_MAX 4096

/* ---- shim_fmt.c -------------------------------------------------------------------- */

/* Text built in a caller-supplied buffer; always NUL-terminated, cut when full. */
typedef struct {
    char *buf;
    size_t cap; /* bytes in buf, including room for the NUL */
    size_t len;
    int truncated;
} ms_fmt_t;

void ms__fmt_init(ms_fmt_t *f, char *buf, size_t cap);
void ms__fmt_mem(ms_fmt_t *f, const char *s, size_t n);
void ms__fmt_str(ms_fmt_t *f, const char *s);
void ms__fmt_i64(ms_fmt_t *f, int64_t v);
void ms__fmt_hex(ms_fmt_t *f, uint64_t v); /* "0x" and lower-case digits */

/*
 * Remembers which file descriptor 2 is at load time, and whether MEMSWEEP_DEBUG asked for
 * explanations. Called once per process image, before any other ms__diag_ function.
 */
void ms__diag_init(int debug);

/* Nonzero when MEMSWEEP_DEBUG=1. */
int ms__diag_debug(void);

/*
 * Writes f as one line to descriptor 2 with a single write(2), but only while descriptor
 * 2 is still the file it was at load time: a program that closed its stderr and reused the
 * number for its own data must never receive our text.
 */
void ms__diag_line(ms_fmt_t *f);

/* Starts a debug line "memsweep[<pid>]: " in f. */
void ms__diag_debug_start(ms_fmt_t *f, char *buf, size_t cap);

/* A debug line: what, then n unless it is negative. Nothing without MEMSWEEP_DEBUG=1. */
void ms__diag_debug_line(const char *what, int64_t n);

/* ---- shim_proc.c ------------------------------------------------------------------- */

/* Return addresses of one thread, innermost first, as the unwinder found them. */
typedef struct {
    int depth;
    void *ips[MS_MAX_STACK_FRAMES];
} ms_stack_t;

int64_t ms__clock_ns(clockid_t clock);

/*
 * The same by the system call, for the start and the end of an image: the vDSO's clock
 * reads its data pages and libc's clock code another page, and a process that ends within
 * its first interval would pay a page fault for each (about 10 µs apiece on a virtual
 * machine) where the system call costs about 1 µs.
 */
int64_t ms__clock_sys_ns(clockid_t clock);

/*
 * mmap and munmap of the shim's own mappings (the pool), as system calls: the names mmap
 * and munmap would bind to the shim's exported hooks, which exist for the program's
 * mappings. Both are async-signal-safe (a fork child's handler unmaps). ms__sys_mmap
 * returns MAP_FAILED with errno set, as mmap does.
 */
void *ms__sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int ms__sys_munmap(void *addr, size_t len);

/*
 * fstat (shim_fmt.c) and geteuid (shim_proc.c) by the system call on x86-64: libc's fstat
 * passes the kernel an empty path from libc's read-only data and each wrapper lies on a
 * page of libc's code, either of which a process that ends at once would pay a page fault
 * for.
 */
struct stat;
int ms__sys_fstat(int fd, struct stat *st);
uid_t ms__sys_geteuid(void);

/* This process's id from the kernel (glibc caches nothing, but says so here). */
pid_t ms__pid(void);

/*
 * Reads at most cap bytes of a small file with open, pread and close into buf (no NUL is
 * added); *len is what was read.
 */
int ms__proc_read(const char *path, char *buf, size_t cap, size_t *len);

/* One read of the status file, in kB; -1 for a figure the kernel did not report. */
typedef struct {
    int64_t rss_kb;   /* VmRSS */
    int64_t hwm_kb;   /* VmHWM */
    int64_t anon_kb;  /* RssAnon */
    int64_t file_kb;  /* RssFile */
    int64_t shmem_kb; /* RssShmem */
} ms_status_t;

/*
 * The figures of this process, by open, pread and close of /proc/self/status (or, when
 * the main thread has exited and taken the figures of /proc/self with it,
 * /proc/thread-self/status). -EPROTO without VmRSS. The open takes the lowest free
 * descriptor number for a moment: callers make sure that is harmless (shim_trigger.c).
 */
int ms__proc_status(ms_status_t *st);

/* The same from a descriptor of /proc/self/status the caller keeps (the sampler). */
int ms__proc_status_fd(int fd, ms_status_t *st);


/* Pss, Pss_Anon and Pss_Shmem of smaps_rollup in kB; -1 for one not reported. */
typedef struct {
    int64_t total;
    int64_t anon;
    int64_t shmem;
} ms_pss_t;

/* The figures of /proc/self/smaps_rollup from a descriptor the caller keeps. */
int ms__proc_pss_fd(int fd, ms_pss_t *pss);

/* Field 22 of /proc/self/stat: the process's start time in clock ticks after boot. */
int ms__proc_start_ticks(uint64_t *ticks);

/* st_ino of /proc/self/ns/pid, the process's pid namespace; 0 when unknown. */
uint64_t ms__proc_pidns_ino(void);

/*
 * The path of the program (/proc/self/exe), read once per process image and kept: stacks
 * name the main program by it. "" when unreadable.
 */
const char *ms__proc_exe(void);

/* Forgets the kept path: a new image (exec) has its own. Constructor only. */
void ms__proc_exe_reset(void);

/*
 * The program's path into buf (at most cap bytes, no NUL added), read straight into buf
 * unless it is kept already; returns the bytes used, 0 when unreadable.
 */
size_t ms__proc_exe_into(char *buf, size_t cap);

/*
 * Where the image's arguments are, from the constructor's argc and argv, so that its
 * command line is copied from memory instead of read from /proc. Constructor only.
 */
void ms__proc_args_init(int argc, char **argv);

/*
 * The command line as /proc/self/cmdline has it, into buf (at most cap bytes, no NUL
 * added), the arguments joined by spaces; returns the bytes used. Copied from the
 * arguments' memory when the constructor found them as the kernel laid them out and their
 * last byte is still a NUL (the bytes /proc would give); read from /proc otherwise, as
 * for a program that wrote a longer title over them. *cut says whether there was more
 * than cap bytes (as far as a read of /proc can tell: it filled buf).
 */
size_t ms__proc_cmdline(char *buf, size_t cap, int *cut);

/* 64 unpredictable bits when the kernel has them at hand; never 0. */
uint64_t ms__random64(void);

/* ---- shim_pool.c ------------------------------------------------------------------- */

/* What a process needs to know of its run's pool. */
typedef struct {
    uint32_t flags;       /* MS_SPOOL_WATCHED */
    uint32_t interval_ms; /* 0 when the header's is out of range */
    uint32_t chunk_bytes;
    uint64_t pidns_ino; /* the watcher's */
    int32_t watcher_pid;
} ms_pool_info_t;

/*
 * Opens the pool MEMSWEEP_SPOOL names: a regular file of this user's with no group or
 * other permission bits and a header this shim can write to. `why` says what is wrong.
 */
int ms__pool_open(const char *path, ms_fmt_t *why);

/*
 * Creates the pool of a run of this program's own in the spool directory of the database
 * db (absolute; include/memsweep/spooldir.h), with the header of an unwatched run. On
 * success ms__pool_path() is the new file; on failure `why` starts with the directory or
 * file it concerns.
 */
int ms__pool_create(const char *db, unsigned interval_ms, ms_fmt_t *why);

const char *ms__pool_path(void);
const ms_pool_info_t *ms__pool_info(void);

/* A chunk mapped into this process: the mapping, and where in it the chunk starts. */
typedef struct {
    void *map;
    size_t map_len;
    unsigned char *chunk;
    uint64_t index;
} ms_chunk_map_t;

/*
 * Claims the next chunk of the pool, makes sure its blocks exist and maps it shared. The
 * first chunk of an image is claimed with first set; a failure is counted in the pool's
 * lost_processes or lost_chunks. Returns 0, -ENOSPC (no room on the filesystem, or the
 * pool has its MS_SPOOL_CHUNKS_MAX chunks) or another negative errno; the shim keeps no
 * descriptor of the pool afterwards. Blocks the calling thread's signals while it works.
 */
int ms__pool_claim(ms_chunk_map_t *out, int first);

/*
 * A descriptor of the pool: the constructor's, once, or the file opened again by its path
 * and checked to be the same file. Returns it (the caller closes it) or a negative errno.
 * The caller keeps its thread's signals blocked while it holds the descriptor.
 */
int ms__pool_fd(void);

/*
 * Claims the index of the next chunk for an image's first chunk, which the image writes
 * with pwrite (shim_spool.c) and maps only once it has more to write. A pool full of
 * chunks is counted in lost_processes. Returns 0 or a negative errno.
 */
int ms__pool_claim_index(int fd, uint64_t *idx);

/* Counts a first chunk (first set) or a later one that could not be had after all. */
void ms__pool_lost(int fd, int first);

/*
 * Makes sure the blocks of chunk idx, claimed earlier, exist and maps it shared; on
 * failure counts it lost. Its first keep bytes are written already (they are never
 * overwritten, also where blocks are allocated by writing zeros). Opens and closes the
 * pool with the calling thread's signals blocked. Returns 0 or a negative errno.
 */
int ms__pool_map(uint64_t idx, size_t keep, ms_chunk_map_t *out);

/* Offset of chunk idx in the pool file. */
uint64_t ms__pool_offset(uint64_t idx);

/*
 * Writes msg into the watcher's FIFO beside the pool (include/memsweep/spool.h), when the
 * pool is watched and the FIFO is there: opened, checked to be a FIFO of this user's,
 * written without waiting, closed. The caller blocks its thread's signals. 0 or a
 * negative errno (-ENXIO: no collector reads it).
 */
int ms__pool_follow_request(const ms_spool_follow_t *msg);

/* ---- shim_spool.c ------------------------------------------------------------------ */

/* What the first chunk of an image records about it (ms_spool_proc_t, IDENT, START). */
typedef struct {
    pid_t pid;
    pid_t ppid;
    uint64_t start_ticks;
    int64_t started_ns;
    uint64_t pidns_ino;
    uint32_t interval_ms;
    uint32_t flags;   /* MS_SPOOL_SELF_SAMPLED */
    int64_t t_ns;     /* the START reading */
    ms_status_t st;   /* st.rss_kb -1: none could be taken (no START sample is written) */
    int64_t heap_kb;
} ms_image_t;

/* A reading on its way into the spool; kind is an MS_SPOOL_KIND_. */
typedef struct {
    uint32_t kind;
    int64_t t_ns;
    ms_status_t st;
    int64_t heap_kb;
    ms_pss_t pss; /* total -1: not read */
} ms_reading_t;

/* A symbolized stack (shim_stacks.c's text) for the reading written with it. */
typedef struct {
    uint64_t hash;
    uint32_t depth;
    uint32_t len;
    const char *text;
} ms_stack_text_t;

/* Where the writer of this process image is. */
enum {
    MS__SPOOL_OFF = 0, /* nothing is measured in this image */
    MS__SPOOL_LIVE,    /* chunks mapped, records being written */
    MS__SPOOL_DORMANT, /* a fork child that has not written anything yet */
    MS__SPOOL_WAKING,  /* a thread of the fork child is writing its first chunk */
    MS__SPOOL_STOPPED  /* no more records: out of space, or the end is written */
};

int ms__spool_state(void);

/* The process that owns the writer (a vfork child shares it and is not that process). */
pid_t ms__spool_owner(void);

/*
 * Starts the records of this image: claims its first chunk, writes ms_spool_proc_t, the
 * IDENT record (read from /proc straight into the chunk) and the START sample.
 */
int ms__spool_begin(const ms_image_t *img);

/*
 * Appends a reading, and stack first when it is not NULL and this image has not written
 * it yet. wait: the sampler waits for the writer (1); a program thread does not (0), or,
 * for the one reading an exec leaves, only briefly (MS__WRITE_BRIEFLY: the holder is
 * another thread, every holder blocking its signals); a reading it finds the writer busy
 * for is counted in alloc_dropped_queue (-EBUSY). -ENOSPC: out of room, counted in
 * unstored. -ESRCH: the image writes nothing (now).
 */
#define MS__WRITE_BRIEFLY 2
int ms__spool_write(const ms_reading_t *r, const ms_stack_text_t *stack, int wait);

/*
 * A STACK record alone, unless this image wrote the same stack lately: for the stack of a
 * large block, which its BLOCKS records name later. The caller blocks its signals.
 */
int ms__spool_write_stack(const ms_stack_text_t *stack, int wait);

/* A BLOCKS record of the reading (t_ns, rss_kb). The caller blocks its signals. */
int ms__spool_write_blocks(int64_t t_ns, int64_t rss_kb, const ms_spool_block_t *b, uint32_t n,
                           uint32_t untracked, int wait);

/* A NOTE record saying why measuring stopped; only the first of an image is written. */
void ms__spool_note(const char *why);

/*
 * Asks the collector that watches this image to follow its growth from rss_kb on
 * (ms__pool_follow_request). The caller blocks its thread's signals.
 */
void ms__spool_follow_request(int64_t rss_kb);

/* Live counters of ms_spool_proc_t, kept per image (relaxed stores). */
enum { MS__COUNT_DROPPED_RATE, MS__COUNT_DROPPED_QUEUE, MS__COUNT_UNSTORED };
void ms__spool_count(int which, int64_t n);
void ms__spool_set_heap(int64_t heap_kb);
int64_t ms__spool_heap_kb(void); /* as last set; -1 untracked */
void ms__spool_set_tracking(int on);

/*
 * Claims the writing of this image's end and stops its records: 1 for the one thread
 * that is to write the end (ms__spool_end); 0 when the image is not recording or another
 * thread writes its end, which is then waited for, at most about 100 ms.
 */
int ms__spool_stop(void);

/*
 * The end reading, once per image, by the thread ms__spool_stop chose (end_state NONE ->
 * WRITING -> DONE); the image writes no record after it. end->t_ns must be > 0 (no end
 * is written otherwise); rss_kb and hwm_kb are -1 when they could not be read, heap_kb -1
 * when untracked. It waits for no other thread.
 */
void ms__spool_end(const ms_reading_t *end);

/*
 * Fork prepare and parent handlers: the writer lock is held across fork, so that the
 * child never sees a chunk switch half done (the old chunk unmapped, w.cur still naming
 * it). Every holder of the lock has all signals blocked, so the forking thread never
 * holds it itself; the wait is for another thread's record, a chunk claim at worst.
 */
void ms__spool_fork_prepare(void);
void ms__spool_fork_parent(void);

/*
 * Fork child handler: forgets (unmaps) the parent's chunks, which the child must never
 * write to, and makes the image dormant when the parent's was measured. Returns the
 * parent's pid when the child is to be measured, else 0. The child's signals stay
 * blocked until ms__spool_fork_child_mask, the last step of the shim's child handler: a
 * signal delivered before every part of the shim has forgotten the parent would act as
 * the parent (write its end, into its record).
 */
pid_t ms__spool_fork_child(void);
void ms__spool_fork_child_mask(void);

/* Dormant -> waking, for the one thread that wakes the image; 1 when this one does. */
int ms__spool_claim_wake(void);

/* ---- shim_sampler.c ---------------------------------------------------------------- */

/*
 * Starts the sampler thread of this image (every signal blocked), once, for a process that
 * no collector watches: a TICK every interval_ms, due from start_mono_ns
 * (CLOCK_MONOTONIC), and following growth after each `alloc` sample. parent is the pid of
 * the image this one was forked from (0 for none): while it lives, the two share pages
 * and ticks read PSS. Returns 0 or a negative errno.
 */
int ms__sampler_start(unsigned interval_ms, int64_t start_mono_ns, pid_t parent);

/* Fork child handler: the child has no sampler thread. */
void ms__sampler_fork_child(void);

/* ---- shim_image.c ------------------------------------------------------------------ */

/*
 * Starts measuring this process image: its first chunk, identity and START reading, and
 * a sampler thread when no collector watches it. ppid is its parent's pid.
 */
int ms__image_start(pid_t ppid, int64_t started_ns, int64_t start_mono_ns, int64_t heap_kb,
                    unsigned interval_ms);

/*
 * Fork child handler: the child of a measured image is dormant until ms__image_wake.
 * Returns 1 when the child is to be measured.
 */
int ms__image_fork_child(void);

/* Fork prepare and parent handlers (ms__spool_fork_prepare). */
void ms__image_fork_prepare(void);
void ms__image_fork_parent(void);

/* The last step of the fork child handler: the child's signal mask (ms__spool_fork_child_mask). */
void ms__image_fork_child_done(void);

/*
 * A dormant fork child's first hook call (or its exit): it now records itself. Called by
 * a program thread inside one of its own calls, with the hooks' re-entrancy guard set.
 */
void ms__image_wake(int64_t heap_kb);

/*
 * Just before the image calls exec: an `exec` reading (VmHWM restarts in the new image).
 * Nothing in a vfork child, an image that is not recording, or on an alternate signal
 * stack; the writer is only tried. Keeps errno.
 */
void ms__image_exec(void);

/*
 * The exit: wakes a dormant image (with no sampler thread: the exit may run in a signal
 * handler, where creating a thread is not safe), then writes the end reading. Keeps errno.
 */
void ms__image_end(int64_t heap_kb);

/* ---- shim_main.c ------------------------------------------------------------------- */

/*
 * Called by the exported _exit and _Exit: the end sample, as the destructor takes it, in
 * the process that owns the image; nothing otherwise. Keeps errno.
 */
void ms__before_exit(void);

/* Resolves the next _exit once, at load, while the loader's state is safe to query. */
void ms__resolve_exit(void);

/* ---- shim_exec_override.c ---------------------------------------------------------- */

/* Resolves the C library's execvpe and fexecve, at load (the constructor). Keeps errno. */
void ms__exec_resolve(void);

/* Ends the process through the next _exit, or the exit_group system call without one. */
__attribute__((noreturn)) void ms__real_exit(int status);

/* ---- shim_alloc.c ------------------------------------------------------------------ */

/* Settings of the allocation-driven samples, read from the environment by shim_main.c. */
typedef struct {
    int enabled;            /* MEMSWEEP_ALLOC */
    int stacks;             /* MEMSWEEP_STACKS */
    uint64_t step_bytes;    /* MEMSWEEP_ALLOC_STEP_MB */
    uint64_t release_bytes; /* MEMSWEEP_RELEASE_MB */
    uint64_t block_bytes;   /* MEMSWEEP_BLOCK_MB; 0: no block is recorded */
    unsigned max_per_s;     /* MEMSWEEP_ALLOC_MAX_PER_S */
} ms_alloc_config_t;

/*
 * Until the constructor calls one of these two, the hooks count but never sample.
 * ms__alloc_configure starts allocation-driven sampling (or, with cfg->enabled 0, turns
 * the hooks into plain forwarders) for a process about to be measured; ms__alloc_off
 * turns them into plain forwarders, for a shim that measures nothing.
 */
void ms__alloc_configure(const ms_alloc_config_t *cfg);
void ms__alloc_off(void);

/*
 * Ends allocation-driven sampling at exit. The counts go on, so that the end reading
 * still has its heap figure, and the calling thread's unfolded remainder is added to them.
 */
void ms__alloc_stop(void);

/* 1 while the hooks track allocations and the program's threads have called them. */
int ms__alloc_tracking(void);

/* Live heap in KiB (allocated minus freed, mapped minus unmapped); -1 when untracked. */
int64_t ms__alloc_heap_kb(void);

/*
 * Fork child handler: measured is 0 when the child will not be measured. A measured
 * child's first count takes the slow path, which wakes the dormant image
 * (ms__image_wake).
 */
void ms__alloc_fork_child(int measured);

/* The implementations behind the exported functions of shim_alloc_override.c. */
void *ms__malloc(size_t size);
void *ms__malloc_glibc(size_t size); /* only while the hooks count with glibc's allocator */
void ms__free_glibc(void *p);

/* Where the exported malloc and free go: one of the two above, chosen by the state. */
typedef void *(*ms_malloc_entry_t)(size_t);
typedef void (*ms_free_entry_t)(void *);
/* Hidden here too, so that the exported functions reach them in one instruction. */
extern _Atomic(ms_malloc_entry_t) ms__malloc_entry __attribute__((visibility("hidden")));
extern _Atomic(ms_free_entry_t) ms__free_entry __attribute__((visibility("hidden")));
void *ms__calloc(size_t n, size_t size);
void *ms__realloc(void *p, size_t size);
void ms__free(void *p);
int ms__posix_memalign(void **out, size_t alignment, size_t size);
void *ms__aligned_alloc(size_t alignment, size_t size);
void *ms__memalign(size_t alignment, size_t size);
void *ms__valloc(size_t size);
size_t ms__malloc_usable_size(void *p);
void *ms__mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int ms__munmap(void *addr, size_t len);
void *ms__mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr);

/* ---- shim_maptable.c --------------------------------------------------------------- */

/*
 * Records an anonymous mapping of len bytes at addr. -ENOSPC when the table (or the
 * stretch of it the address hashes to) is full: the mapping is then not counted.
 */
int ms__maptable_insert(void *addr, size_t len);

/* The slot of the mapping recorded at addr with exactly len bytes, or -1. */
long ms__maptable_find(const void *addr, size_t len);

/*
 * Forgets the mapping in slot, if it still is the one at addr, and returns its length
 * (0 when another thread forgot it first).
 */
size_t ms__maptable_take(long slot, const void *addr);

/*
 * For munmap(addr, len): forgets what the mapping recorded at addr loses and returns
 * those bytes. Unmapping its start keeps the rest recorded; an unmap that starts inside
 * a recorded mapping is not seen (a bounded error, see shim_maptable.c).
 */
size_t ms__maptable_unmap(void *addr, size_t len);

/* Mappings that could not be recorded because the table was full. */
int64_t ms__maptable_overflows(void);

/* ---- shim_trigger.c ---------------------------------------------------------------- */

/* Kinds of allocation-driven samples. */
enum { MS__SAMPLE_ALLOC = MS_SPOOL_KIND_ALLOC, MS__SAMPLE_RELEASE = MS_SPOOL_KIND_RELEASE };

/* Called by ms__alloc_configure and in a measured fork child. */
void ms__trigger_configure(unsigned max_per_s, int stacks);
void ms__trigger_fork_child(void);

/*
 * Takes an allocation-driven sample of `kind` in the calling thread, with heap_bytes as
 * its live heap: rate-limited, with a stack when it is a new peak, written into the spool
 * by this thread; an `alloc` sample then asks the sampler thread, where the image has
 * one, to follow the growth. Called inside a hook (re-entrancy guard set). Returns 1 when
 * a reading was taken, so that the caller moves the level of the next one.
 */
int ms__trigger_sample(int kind, int64_t heap_bytes);

/* A token of the per-second limit of allocation-driven readings; 0 when refused. */
int ms__trigger_token(void);

/* The follow request: a futex word bumped by each `alloc` sample, and its RSS. */
atomic_uint *ms__trigger_follow_word(void);
int64_t ms__trigger_follow_rss(void);

/*
 * The sampler thread of this image follows growth (set when it starts). Without one, an
 * `alloc` sample asks the collector instead (ms__spool_follow_request).
 */
void ms__trigger_set_follower(void);

/* The sampler's own readings take part in deciding what is a new peak. */
int ms__trigger_note_rss(int64_t rss_kb);

/*
 * A block of at least MEMSWEEP_BLOCK_MB was allocated at p: its stack is captured,
 * symbolized and written (or found among the stacks this image has written), and the
 * block enters the table of shim_blocks.c. In the allocating thread, after the real call.
 */
void ms__trigger_block(const void *p, uint64_t bytes, uint64_t span);

/* ---- shim_blocks.c ----------------------------------------------------------------- */

/* Blocks of at least block_bytes are tracked; 0 tracks none. */
void ms__blocks_configure(uint64_t block_bytes);

/* The size from which a block is tracked; UINT64_MAX when none is. */
uint64_t ms__blocks_threshold(void);

/*
 * A block at p of bytes as allocated, of which span bytes from p are its own (its pages'
 * residency is read over them): with glibc's malloc, the chunk less its header. The
 * caller owns the spool (not a vfork child) and has blocked its thread's signals.
 */
void ms__blocks_add(const void *p, uint64_t bytes, uint64_t span, uint64_t stack_hash,
                    int64_t t_ns);

/*
 * Forgets the tracked blocks that start in [addr, addr + len), and trims one that starts
 * before it and reaches into it.
 */
void ms__blocks_remove(const void *addr, uint64_t len);

/* A tracked block, taken out of the table and put back whole (realloc, mremap). */
typedef struct {
    uintptr_t addr;
    uint64_t bytes, span, stack_hash;
    int64_t t_ns;
} ms_block_entry_t;

/* Takes the block at p out of the table into *out: 1, or 0 when it was not tracked. */
int ms__blocks_take(const void *p, ms_block_entry_t *out);

/* Puts a block taken with ms__blocks_take back (its address and sizes as they are now). */
void ms__blocks_put(const ms_block_entry_t *in);

/* Tracked blocks live now (a relaxed read). */
int ms__blocks_live(void);

/*
 * The reading (t_ns, rss_kb) is the image's highest so far: writes a BLOCKS record of the
 * live blocks with their resident part, unless no block was ever listed, or (force 0) the
 * blocks are those of the last list and RSS rose less than 1/32 since it. force: a
 * release, exec or end reading. Blocks the calling thread's signals itself; wait as for
 * ms__spool_write.
 */
void ms__blocks_snapshot(int64_t t_ns, int64_t rss_kb, int force, int wait);

void ms__blocks_fork_child(void);

/* ---- shim_unwind.c ----------------------------------------------------------------- */

/* Return addresses of the calling thread, innermost first, into ips; their number. */
int ms__unwind_capture(void **ips, int max);

/* ---- shim_stacks.c ----------------------------------------------------------------- */

/*
 * Writes s as text, one frame per line, "module+0xoffset symbol" ("?" for an unknown
 * symbol or module), leaving out the frames of the shim (the unwinder is part of it) that
 * head it.
 * `exe` names the main program, which the dynamic loader leaves unnamed. Offsets are
 * from the module's load address to the byte before the return address, as addr2line
 * -e module expects them. Returns the number of lines; lines that did not fit are cut.
 */
int ms__stack_format(const ms_stack_t *s, const char *exe, ms_fmt_t *out);

/* 64-bit FNV-1a of text, as stacks.hash stores it. */
int64_t ms__stack_hash(const char *text, size_t len);

#endif
