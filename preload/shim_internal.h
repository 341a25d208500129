/* Private to the shim (preload/): the launcher, the analyzer and the tests never include it. */
/*
 * Modules of libmemsweep.so and what they share:
 *   shim_main.c     constructor, destructor and fork handlers; reads the environment
 *   shim_sampler.c  the sampler thread, its pending readings and its exit and fork paths
 *   shim_store.c    everything that talks to SQLite (only the sampler thread calls it)
 *   shim_vfs.c      the descriptors SQLite opens, kept apart from the program's
 *   shim_proc.c     /proc reads and clocks
 *   shim_fmt.c      fixed-buffer text and the shim's only output path
 * Functions return 0 or a negative errno code unless they say otherwise.
 */
#ifndef MS_PRELOAD_SHIM_INTERNAL_H
#define MS_PRELOAD_SHIM_INTERNAL_H

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
 * Readings the sampler can hold before it writes them. A flush normally carries one to
 * three; the rest is headroom for a database that stays busy for several intervals.
 */
#define MS__PENDING_MAX 16

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

/* ---- shim_proc.c ------------------------------------------------------------------- */

/* One measurement of the process. Times are CLOCK_REALTIME nanoseconds since the epoch. */
typedef struct {
    int64_t t_ns;
    int64_t rss_kb;
    int64_t hwm_kb;   /* VmHWM; -1 when the kernel did not report it */
    const char *kind; /* one of the MS_KIND_ strings of schema.h */
} ms_reading_t;

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

/* Takes a reading of RSS and VmHWM now. */
int ms__proc_reading(ms_reading_t *r, const char *kind);

/* Fills id->exe and id->cmdline; pid, ppid and started_ns are the caller's. */
void ms__proc_ident(ms_ident_t *id);

/* MemTotal of /proc/meminfo in kB. */
int ms__proc_mem_total_kb(int64_t *kb);

/* ---- shim_vfs.c -------------------------------------------------------------------- */

/*
 * Wraps the open and close of SQLite's unix VFS (see shim_vfs.c). Called once, before
 * the first connection is opened.
 */
int ms__vfs_install(void);

/* Nonzero while every descriptor SQLite holds is still the file it opened. */
int ms__vfs_fds_intact(void);

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
    const atomic_int *abandon; /* nonzero: give up any wait for a lock at once */
    int64_t busy_since_ns;
    int wal_frames; /* frames in the WAL after the last commit */
} ms_store_t;

/* Where this process's rows go. Written by ms__store_write once its transaction commits. */
typedef struct {
    int64_t run_id;  /* 0: no run yet; the first write creates one of our own */
    int64_t proc_id; /* 0: no processes row yet; the first write inserts it */
    int created_run; /* this process inserted the runs row and so finishes it */
    unsigned interval_ms;
} ms_dest_t;

/*
 * Opens path, refusing a database that is not memsweep's or is newer than this shim, and
 * creates the schema in a new empty file. Returns -EAGAIN when a lock could not be had
 * (busy for MS_BUSY_TIMEOUT_MS, or *abandon became nonzero): try again later. Any other
 * error is permanent and `why` says what is wrong in a few words.
 */
int ms__store_open(ms_store_t *st, const char *path, const atomic_int *abandon,
                   ms_fmt_t *why);

/*
 * Writes n readings in one transaction, first registering the process (and a run of its
 * own when dest->run_id is 0). `end`, when not NULL, is the final reading, which also
 * completes the processes row and, if this process created its run, the runs row.
 * Errors as for ms__store_open, and -EBADF when the program has closed or replaced one of
 * SQLite's descriptors; on error nothing was written.
 */
int ms__store_write(ms_store_t *st, ms_dest_t *dest, const ms_ident_t *id,
                    const ms_reading_t *r, size_t n, const ms_reading_t *end,
                    ms_fmt_t *why);

/*
 * Closes the connection, rolling back an open transaction; never checkpoints. When the
 * program has closed or replaced one of SQLite's descriptors, the connection is abandoned
 * instead, since closing it would act on the program's files, and -EBADF says that SQLite
 * can no longer be used safely in this process.
 */
int ms__store_close(ms_store_t *st);

/* ---- shim_sampler.c ---------------------------------------------------------------- */

typedef struct {
    char db_path[MS__PATH_MAX]; /* absolute, so a chdir of the program does not move it */
    int64_t run_id;             /* MEMSWEEP_RUN_ID; 0 when unset */
    unsigned interval_ms;
    int64_t started_ns;
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

/* pthread_atfork handlers. */
void ms__sampler_fork_prepare(void);
void ms__sampler_fork_parent(void);
void ms__sampler_fork_child(void);

#endif
