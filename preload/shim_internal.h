/* Private to the shim (preload/): the launcher, the analyzer and the tests never include it. */
/*
 * Modules of libmemsweep.so and what they share:
 *   shim_main.c     constructor, destructor and fork handlers; reads the environment
 *   shim_sampler.c  the sampler thread, its pending readings and its exit and fork paths
 *   shim_store.c    everything that talks to SQLite (only the sampler thread calls it)
 *   shim_vfs.c      the descriptors SQLite opens, kept apart from the program's
 *   shim_proc.c     /proc reads and clocks
 *   shim_fmt.c      fixed-buffer text and the shim's only output path
 * and, for the samples driven by the program's own allocations (see shim_alloc.c):
 *   shim_alloc_override.c  the exported malloc, free, mmap, ...: forwarders only
 *   shim_alloc.c    the hooks: real functions, bootstrap pool, per-thread counters
 *   shim_maptable.c the anonymous mappings the program made, for munmap and mremap
 *   shim_trigger.c  an allocation-driven sample, taken in the allocating thread
 *   shim_procfd.c   the /proc/self/status descriptor that such a sample reads
 *   shim_allocq.c   the bounded lock-free queue that hands samples to the sampler
 *   shim_unwind.c   the unwinder, called on new peaks
 *   shim_stacks.c   return addresses to "module+0xoffset symbol" text (sampler only)
 * Functions return 0 or a negative errno code unless they say otherwise.
 */
#ifndef MS_PRELOAD_SHIM_INTERNAL_H
#define MS_PRELOAD_SHIM_INTERNAL_H

#include "memsweep/defaults.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* Longest database path the shim accepts, including the terminating NUL. */
#define MS__PATH_MAX 4096

/* Bytes of /proc/self/cmdline kept on a process row; longer command lines are cut. */
#define MS__CMDLINE_MAX 4096

/*
 * Allocation-driven samples the queue between the program's threads and the sampler
 * holds (shim_allocq.c). At the default rate limit and interval a flush carries at most
 * about 150 of them (a burst of MEMSWEEP_ALLOC_MAX_PER_S and half a second's refill).
 */
#define MS__ALLOCQ_CAP 256

/*
 * Readings the sampler can hold before it writes them: its own (a flush normally carries
 * one to three; the rest is headroom for a database that stays busy for several
 * intervals) and the allocation-driven ones it has taken off the queue.
 */
#define MS__PENDING_OWN 16
#define MS__PENDING_MAX (MS__PENDING_OWN + MS__ALLOCQ_CAP)

/* Captured stacks the sampler can hold before it writes them. */
#define MS__PENDING_STACKS 32

/*
 * Longest the program ever waits for the shim: the constructor for the registration of a
 * run of our own, the destructor for the end sample, a fork for the sampler to leave the
 * database. Exit and fork must never hang on a slow or locked database.
 */
#define MS__WAIT_MS 2000

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

/*
 * For the sampler thread when its own descriptor table has no stderr: its lines are kept
 * and written by ms__diag_flush_relay, which the exit paths call in a program thread.
 */
void ms__diag_relay(int on);
void ms__diag_flush_relay(void);
void ms__diag_fork_child(void); /* the parent's kept lines are the parent's to write */

/* Starts a debug line "memsweep[<pid>]: " in f. */
void ms__diag_debug_start(ms_fmt_t *f, char *buf, size_t cap);

/* ---- shim_proc.c ------------------------------------------------------------------- */

/* One measurement of the process. Times are CLOCK_REALTIME nanoseconds since the epoch. */
typedef struct {
    int64_t t_ns;
    int64_t rss_kb;
    int64_t hwm_kb;   /* VmHWM; -1 when the kernel did not report it */
    int64_t heap_kb;  /* live heap (shim_alloc.c); -1 when allocations are not tracked */
    const char *kind; /* one of the MS_KIND_ strings of schema.h */
    int stack;        /* index of its stack in the writer's stack array; -1: none */
} ms_reading_t;

/* Return addresses of one thread, innermost first, as backtrace() found them. */
typedef struct {
    int depth;
    void *ips[MS_MAX_STACK_FRAMES];
} ms_stack_t;

/* The identity of this process image as stored on its processes row. */
typedef struct {
    pid_t pid;
    pid_t ppid;
    int64_t started_ns;
    char exe[MS__PATH_MAX];        /* empty when /proc/self/exe is unreadable */
    char cmdline[MS__CMDLINE_MAX]; /* arguments joined by spaces; empty when unreadable */
} ms_ident_t;

int64_t ms__clock_ns(clockid_t clock);

/* Reads a whole small file with open, pread and close; *len excludes the NUL added. */
int ms__proc_read(const char *path, char *buf, size_t cap, size_t *len);

/* Takes a reading of RSS and VmHWM now (sampler thread). */
int ms__proc_reading(ms_reading_t *r, const char *kind);

/* Fills id->exe and id->cmdline; pid, ppid and started_ns are the caller's. */
void ms__proc_ident(ms_ident_t *id);

/* MemTotal of /proc/meminfo in kB. */
int ms__proc_mem_total_kb(int64_t *kb);

/* ---- shim_vfs.c -------------------------------------------------------------------- */

/*
 * Wraps the system calls SQLite's unix VFS makes on descriptors (see shim_vfs.c). Called
 * once, before the first connection is opened.
 */
int ms__vfs_install(void);

/*
 * Opens the database, its WAL and its shared-memory file, those that exist, as spares
 * above the low descriptor numbers, replacing spares the program has closed. Only where no
 * code of the program can run at the same time: the constructor, a fork child's handler,
 * or with ms__vfs_low_ok set.
 */
void ms__vfs_reserve(const char *db_path);

/*
 * Whether SQLite may open a file that has no spare, taking the lowest free descriptor
 * number for a moment: set only while the program's code cannot be opening or closing
 * descriptors (before main, at exit).
 */
void ms__vfs_low_ok(int ok);

/*
 * Sampler thread, first thing: gives the thread a descriptor table of its own holding
 * none of the program's descriptors (its copy of stderr is kept when that is harmless,
 * or when keep_stderr). Returns 1 when stderr was kept, 0 when not, or a negative errno
 * when the thread still shares the program's table (then the spares serve).
 */
int ms__vfs_go_private(int keep_stderr);

/*
 * Constructor, before ms__vfs_reserve: when want is set and the kernel has close_range,
 * the sampler will have a table of its own, and ms__vfs_reserve only records the paths
 * (if the table is refused after all, a program thread opens the spares later).
 */
void ms__vfs_expect_private(int want);
int ms__vfs_private(void);
int ms__vfs_may_open_low(void);

/*
 * The spares are the sampler's from ms__vfs_claim (before it opens its connection) to
 * ms__vfs_release (after it closed it, or failed to open it). Claiming fails with -EBUSY
 * while they are to be renewed, unless at_exit (ms__vfs_low_ok set) lets the sampler
 * open files itself. Releasing with want_renew, or ms__vfs_want_renew (a reading found
 * the status descriptor closed), asks a program thread to renew them.
 */
int ms__vfs_claim(int at_exit);

/* Why the sampler could not open the database while the program ran. */
#define MS__WHY_NO_SPARE                                                                \
    "could not reopen the database while the program ran (the program closed the "     \
    "shim's descriptors, or the file was missing when it started)"
void ms__vfs_release(int want_renew);
void ms__vfs_want_renew(void);

/*
 * Called by the hooks in a program thread, inside one of the program's own calls (when a
 * thread's count is folded, every 256 KiB): renews the status descriptor and the spares
 * when the sampler asked for it or when, looking at most every 100 ms, it finds them
 * closed; with the thread's signals blocked. An open there takes a low number no more
 * visibly than the files glibc itself opens inside its calls, and in a single-threaded
 * program nothing else can be acting on descriptors meanwhile.
 */
void ms__vfs_renew_in_program(void);

/* Fork child handler: renews the spares, which the child may then use. */
void ms__vfs_fork_child(const char *db_path);

/* Nonzero while every descriptor SQLite holds, and every spare, is still its file. */
int ms__vfs_fds_intact(void);

/* Nonzero when a file SQLite holds open has been deleted (its link count is 0). */
int ms__vfs_db_deleted(void);

/* ---- shim_store.c ------------------------------------------------------------------ */

struct sqlite3;
struct sqlite3_stmt;

/*
 * The sampler's connection and its prepared statements. It is closed whenever a fork is
 * about to happen, so that a child never inherits SQLite's record of an open file (see
 * shim_sampler.c), and reopened at the next write.
 */
typedef struct {
    struct sqlite3 *db;
    struct sqlite3_stmt *insert_process;
    struct sqlite3_stmt *insert_sample;
    struct sqlite3_stmt *end_process;
    struct sqlite3_stmt *update_alloc;
    struct sqlite3_stmt *insert_stack;
    struct sqlite3_stmt *find_stack;
    const atomic_int *abandon; /* nonzero: give up any wait for a lock at once */
    int64_t busy_since_ns;
    int wal_frames; /* frames in the WAL after the last commit */
} ms_store_t;

/* The counters of a processes row (docs/schema.md) that change while it runs. */
typedef struct {
    int tracking;          /* alloc_tracking */
    int64_t dropped_rate;  /* alloc_dropped_rate */
    int64_t dropped_queue; /* alloc_dropped_queue; alloc_dropped is the sum */
    int64_t unstored;      /* readings taken but never stored */
    char note[160];        /* why measuring was interrupted; "" for none */
} ms_alloc_stats_t;

/* Where this process's rows go. Written by ms__store_write once its transaction commits. */
typedef struct {
    int64_t run_id;  /* 0: no run yet; the first write creates one of our own */
    int64_t proc_id; /* 0: no processes row yet; the first write inserts it */
    int created_run; /* this process inserted the runs row and so finishes it */
    unsigned interval_ms;
    ms_alloc_stats_t stats; /* what the processes row holds */
} ms_dest_t;

/*
 * Configures SQLite, wraps its system calls and seeds its random numbers (which opens
 * /dev/urandom). Called by the constructor, before main.
 */
void ms__store_init(void);

/*
 * Opens path, refusing a database that is not memsweep's or is newer than this shim, and,
 * when `create` is set, creates the file and the schema if there is none. Returns -EAGAIN
 * when a lock could not be had (busy for MS_BUSY_TIMEOUT_MS, or *abandon became nonzero):
 * try again later; -EPROTO or -EPROTONOSUPPORT for a database that is not ours or too new,
 * which no retry changes; other errors (full, read-only, missing, no spare descriptor) may
 * pass. `why` says what is wrong in a few words.
 */
int ms__store_open(ms_store_t *st, const char *path, int create, const atomic_int *abandon,
                   ms_fmt_t *why);

/*
 * Writes n readings in one transaction, first registering the process (and a run of its
 * own when dest->run_id is 0). A reading whose `stack` is not -1 gets stacks[stack],
 * symbolized and deduplicated in the stacks table. `stats` goes to the processes row
 * when it differs from what the row holds. `end`, when not NULL, is the final reading,
 * which also completes the processes row and, if this process created its run, the runs
 * row. Errors as for ms__store_open, and -EBADF when the program has closed or replaced
 * one of SQLite's descriptors; on error nothing was written.
 */
int ms__store_write(ms_store_t *st, ms_dest_t *dest, const ms_ident_t *id,
                    const ms_reading_t *r, size_t n, const ms_stack_t *stacks,
                    const ms_alloc_stats_t *stats, const ms_reading_t *end, ms_fmt_t *why);

/*
 * Sets a function the busy handler calls between its sleeps (sampler thread only); when it
 * returns nonzero the wait is given up and the write fails with -EAGAIN.
 */
void ms__store_on_wait(int (*fn)(void));

/*
 * Sets the gate around every COMMIT (sampler thread only): `before` is called with the
 * database's write lock held and everything but the commit done; when it returns 0 the
 * transaction is rolled back and the write fails with -ECANCELED. `after` is called as soon
 * as the COMMIT has returned, with 1 when it committed, before any checkpoint.
 */
void ms__store_on_commit(int (*before)(void), void (*after)(int committed));

/*
 * Closes the connection, rolling back an open transaction; never checkpoints. Returns
 * -EBADF when the program had closed or replaced one of its descriptors: the calls SQLite
 * makes on those fail instead of touching the program's files (shim_vfs.c).
 */
int ms__store_close(ms_store_t *st);

/* ---- shim_sampler.c ---------------------------------------------------------------- */

typedef struct {
    char db_path[MS__PATH_MAX]; /* absolute, so a chdir of the program does not move it */
    int64_t run_id;             /* MEMSWEEP_RUN_ID; 0 when unset */
    unsigned interval_ms;
    int64_t started_ns;
    int private_fds; /* MEMSWEEP_PRIVATE_FDS: the sampler keeps a descriptor table of its own */
} ms_config_t;

/*
 * Starts the sampler thread for this process with every signal blocked. Called by the
 * constructor; the configuration is copied.
 */
int ms__sampler_start(const ms_config_t *cfg);

/*
 * Waits at most timeout_ms until the sampler has registered this process, and returns its
 * run id in *run_id. -ETIMEDOUT, or -ECANCELED when the sampler gave up.
 */
int ms__sampler_wait_registered(int64_t *run_id, unsigned timeout_ms);

/*
 * Asks the sampler of this process for its end sample and waits for it at most
 * timeout_ms. Does nothing in a process that does not own a running sampler.
 */
void ms__sampler_stop(unsigned timeout_ms);

/*
 * Called by the exported _exit and _Exit: the end sample, as the destructor takes it, in
 * a process that owns a sampler; nothing otherwise. Keeps errno.
 */
void ms__before_exit(void);

/* Resolves the next _exit once, at load, while the loader's state is safe to query. */
void ms__resolve_exit(void);

/* Ends the process through the next _exit, or the exit_group system call without one. */
__attribute__((noreturn)) void ms__real_exit(int status);

/* pthread_atfork handlers. */
void ms__sampler_fork_prepare(void);
void ms__sampler_fork_parent(void);
void ms__sampler_fork_child(void);

/* ---- shim_alloc.c ------------------------------------------------------------------ */

/* Settings of the allocation-driven samples, read from the environment by shim_main.c. */
typedef struct {
    int enabled;            /* MEMSWEEP_ALLOC */
    int stacks;             /* MEMSWEEP_STACKS */
    uint64_t step_bytes;    /* MEMSWEEP_ALLOC_STEP_MB */
    uint64_t release_bytes; /* MEMSWEEP_RELEASE_MB */
    unsigned max_per_s;     /* MEMSWEEP_ALLOC_MAX_PER_S */
} ms_alloc_config_t;

/*
 * Until the constructor calls one of these two, the hooks count but never sample.
 * ms__alloc_configure starts allocation-driven sampling (or, with cfg->enabled 0, turns
 * the hooks into plain forwarders) for a process whose sampler is about to start;
 * ms__alloc_off turns them into plain forwarders, for a shim that measures nothing.
 */
void ms__alloc_configure(const ms_alloc_config_t *cfg);
void ms__alloc_off(void);

/*
 * Ends allocation-driven sampling at exit or when the sampler gave up. The counts go on,
 * so that the end reading still has its heap figure, and the calling thread's unfolded
 * remainder is added to them.
 */
void ms__alloc_stop(void);

/* Called first by the sampler thread: its allocations (SQLite's) are not the program's. */
void ms__alloc_exclude_thread(void);

/* 1 while the hooks track allocations and the program's threads have called them. */
int ms__alloc_tracking(void);

/* Live heap in KiB (allocated minus freed, mapped minus unmapped); -1 when untracked. */
int64_t ms__alloc_heap_kb(void);

/* A sample was taken: the next `alloc` sample is due a step above the current heap. */
void ms__alloc_rebase(void);

/* Fork child handler: measured is 0 when the child will not be measured. */
void ms__alloc_fork_child(int measured);

/* The implementations behind the exported functions of shim_alloc_override.c. */
void *ms__malloc(size_t size);
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

/* Kinds of allocation-driven samples in the queue; 0 marks an entry to skip. */
enum { MS__SAMPLE_NONE = 0, MS__SAMPLE_ALLOC, MS__SAMPLE_RELEASE };

/* Called by ms__alloc_configure and in a measured fork child. */
void ms__trigger_configure(unsigned max_per_s, int stacks);
void ms__trigger_fork_child(void);

/*
 * Takes an allocation-driven sample of `kind` in the calling thread, with heap_bytes as
 * its live heap: rate-limited, read through shim_procfd.c, with a stack when it is a new
 * peak, and queued for the sampler. Called inside a hook (re-entrancy guard set).
 */
void ms__trigger_sample(int kind, int64_t heap_bytes);

/* The sampler's own readings take part in deciding what is a new peak. */
void ms__trigger_note_rss(int64_t rss_kb);

/* Samples dropped so far by the rate limit and by a full queue. */
void ms__trigger_drops(int64_t *rate, int64_t *queue);

/* ---- shim_procfd.c ----------------------------------------------------------------- */

/*
 * RSS and VmHWM (-1 when absent) of this process in kB, by pread. A descriptor the program
 * closed is reopened by a program thread inside one of its own calls (`in_program`), or
 * while ms__vfs_low_ok is set; the sampler thread otherwise gets -EBADF, except for the
 * fallback to /proc/thread-self once the main thread has exited (shim_procfd.c).
 */
int ms__procfd_reading(int64_t *rss_kb, int64_t *hwm_kb, int in_program);

/* The sampler thread, after ms__vfs_go_private: opens its own status descriptor. */
void ms__procfd_sampler_start(void);

/* Opens the status descriptor: constructor and fork child handler only. */
void ms__procfd_open(void);

/* Fork child handler: the inherited descriptor describes the parent; opens the child's. */
void ms__procfd_fork_child(void);

/* ---- shim_allocq.c ----------------------------------------------------------------- */

/* An allocation-driven sample on its way to the sampler. */
typedef struct {
    int64_t t_ns;
    int64_t rss_kb;
    int64_t hwm_kb;
    int64_t heap_kb;
    int kind; /* MS__SAMPLE_ */
    ms_stack_t stack;
} ms_alloc_sample_t;

/*
 * Reserves the next entry for the calling thread, or returns NULL when the queue is full.
 * The caller fills it and hands it over with ms__allocq_publish(ticket).
 */
ms_alloc_sample_t *ms__allocq_claim(size_t *ticket);
void ms__allocq_publish(size_t ticket);

/* Sampler only: moves the oldest published entry to *out. 1 when there was one. */
int ms__allocq_pop(ms_alloc_sample_t *out);

/*
 * Entries claimed and not yet taken by the sampler, from any thread; a claim still being
 * filled counts. A snapshot: the sampler may take one at the same moment.
 */
size_t ms__allocq_waiting(void);

/* Fork child handler: entries and half-written claims of the parent are dropped. */
void ms__allocq_reset(void);

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
