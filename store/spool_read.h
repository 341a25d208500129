/*
 * Reading a pool file (include/memsweep/spool.h) from outside the processes that write it:
 * its header, its chunks grouped by process image, and the records of each chunk up to
 * what the writer committed. A pool is untrusted input: it is read with pread only (a
 * mapping of a file truncated meanwhile would fault), every field is checked against its
 * range, and what cannot be used is counted with the first reason rather than failing
 * the whole pool: a bad chunk costs that chunk, a bad record that record (or, when its
 * length cannot be trusted, the rest of its chunk).
 */
#ifndef MS_STORE_SPOOL_READ_H
#define MS_STORE_SPOOL_READ_H

#include <stddef.h>
#include <stdint.h>

#include "memsweep/spool.h"

/* ms_spool_chunk_info_t.state */
enum {
    MS_SPOOL_CHUNK_OK = 0,        /* header valid; records up to committed may be read */
    MS_SPOOL_CHUNK_UNWRITTEN = 1, /* claimed, header not (yet) in place or past the file */
    MS_SPOOL_CHUNK_BAD = 2,       /* unusable: nothing of it is read */
};

typedef struct ms_spool_chunk_info {
    uint64_t index;     /* position in the pool */
    uint64_t key;       /* the process image's key */
    uint32_t seq;
    uint32_t committed; /* bytes of records, checked against the chunk and the file */
    uint32_t readable;  /* of them, those inside the file (less when it was truncated) */
    int state;
} ms_spool_chunk_info_t;

/* One process image of the pool: its chunks in seq order and its header. */
typedef struct ms_spool_proc_info {
    uint64_t key;
    int have_proc;        /* its first chunk is OK and proc holds a valid header */
    ms_spool_proc_t proc; /* as read at the last scan */
    uint64_t first_chunk; /* index of its seq 0 chunk (when have_proc) */
    size_t *chunks;       /* indices into ms_spool_t.chunks, by seq */
    size_t n_chunks;
} ms_spool_proc_info_t;

/*
 * A reader that folds may tell the scan which images are settled: ended, everything of
 * them folded and committed, and long enough ago that nothing of them can change (see
 * ms_fold_settled). Their chunks are not read again: each scan would otherwise read every
 * chunk header and process header of the pool, which for a worker that runs thousands of
 * short commands grows with every command.
 */
typedef int (*ms_spool_settled_fn)(void *arg, uint64_t key);

typedef struct ms_spool {
    int fd;
    char *path;
    const char *name;       /* the file name part of path: the pool's name */
    ms_spool_pool_t hdr;    /* as read at the last scan, checked */
    uint64_t file_bytes;    /* size at the last scan */
    uint64_t claimed;       /* next_chunk, at most MS_SPOOL_CHUNKS_MAX */
    ms_spool_chunk_info_t *chunks; /* those of [0, claimed) that start inside the file */
    size_t n_chunks;
    uint64_t n_unwritten;   /* claimed chunks not readable yet (past the file included) */
    ms_spool_proc_info_t *procs;
    size_t n_procs;
    uint64_t rejected;      /* chunks and records that could not be used, all scans */
    char reason[160];       /* the first reason, "" when none */
    ms_spool_proc_t *heads; /* by chunk, the process header read at the last scan (seq 0) */
    int *head_states;       /* by chunk, what reading that header gave */
    ms_spool_settled_fn settled; /* NULL: every chunk is read at every scan */
    void *settled_arg;
    uint64_t settled_skipped; /* chunks not read again at the last scan */
} ms_spool_t;

/*
 * Checks a pool header: magic, version, sizes, run id, interval, host string. Returns 0,
 * or -EINVAL with the reason in why.
 */
int ms_spool_check_pool(const ms_spool_pool_t *h, char *why, size_t len);

/*
 * Checks a process header: pid, times, counters, end state and the end reading once
 * DONE. Returns 0, -EAGAIN for a header not yet written (all of pid, started_ns and
 * start_ticks zero), or -EINVAL with the reason in why.
 */
int ms_spool_check_proc(const ms_spool_proc_t *p, char *why, size_t len);

/*
 * Checks the end reading of a process header whose end_state is DONE: a time, and figures
 * that are either values or -1 for "not reported" (the shim could not read /proc at the
 * exit). Returns 0 or -EINVAL.
 */
int ms_spool_check_end(const ms_spool_proc_t *p);

/*
 * Reads the process header at off of fd, in a pool of `version` (a header of version 1
 * comes back with the end's breakdown at -1), and checks it (ms_spool_check_proc). The end
 * reading is read a second time once DONE has been seen, so that it is the one published
 * with it; a DONE whose reading still does not check is in the middle of being
 * published and comes back as WRITING (not ended yet), never as a bad header. Returns
 * 0, -EAGAIN for a header not written yet (or past the end of the file), or -EINVAL with
 * the reason in why.
 */
int ms_spool_read_proc(int fd, uint64_t off, uint32_t version, ms_spool_proc_t *p, char *why,
                       size_t len);

/*
 * Opens the pool at path (O_NOFOLLOW: a symbolic link is refused), which must be a
 * regular file of the calling user, reads and checks its header and scans it
 * (ms_spool_scan). -ENOENT when the file is gone (a collector removed it), -EINVAL with
 * the reason in err for a file that is not a usable pool.
 */
int ms_spool_open(const char *path, ms_spool_t **out, char *err, size_t errlen);

/* As ms_spool_open, on a descriptor it takes over (closed on failure too). */
int ms_spool_open_fd(int fd, const char *path, ms_spool_t **out, char *err, size_t errlen);

/*
 * Reads the header, every claimed chunk's header and every process header again, as
 * they are now: new chunks and processes appear, committed and the counters grow.
 * Returns 0, -EINVAL when the header no longer checks (err says why), or -errno of a read.
 */
int ms_spool_scan(ms_spool_t *sp, char *err, size_t errlen);

/* Sets the predicate of settled images (NULL: none), for the scans from now on. */
void ms_spool_set_settled(ms_spool_t *sp, ms_spool_settled_fn fn, void *arg);

/* Counts one rejection, keeping the first reason. */
void ms_spool_reject(ms_spool_t *sp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void ms_spool_close(ms_spool_t *sp);

/* A record, decoded and checked. Text points into the buffer given to ms_spool_parse. */
typedef struct ms_spool_record {
    uint16_t type;      /* MS_SPOOL_REC_ */
    uint32_t offset;    /* in the chunk's records */
    uint32_t bytes;
    union {
        struct {
            const char *exe;
            const char *cmdline;
            uint16_t exe_len;
            uint16_t cmdline_len;
        } ident;
        ms_spool_sample_t sample;
        struct {
            uint64_t hash;
            uint32_t depth;
            uint32_t len;
            const char *text;
        } stack;
        struct {
            const char *text;
            uint32_t len;
        } note;
        struct {
            int64_t t_ns;
            int64_t rss_kb;
            uint32_t count;
            uint32_t untracked;
            const unsigned char *list; /* count ms_spool_block_t, unaligned: memcpy each */
        } blocks;
    } u;
} ms_spool_record_t;

/* Called for every usable record; a nonzero return stops the parse with that code. */
typedef int (*ms_spool_record_fn)(void *arg, const ms_spool_record_t *r);

/* What ms_spool_parse could not use. */
typedef struct ms_spool_parse_result {
    size_t consumed; /* bytes of whole records parsed; a stop leaves it at the bad record */
    int stopped;     /* a record's length could not be trusted: the rest is unreadable */
    size_t rejected; /* records skipped because a field was out of range */
    char reason[120]; /* the first reason of a rejection or the stop */
} ms_spool_parse_result_t;

/*
 * Parses the records in buf[0, len), which start at offset base of their chunk's records
 * (for the offsets handed to fn). Records of an unknown type are skipped by their length.
 * Pure: touches nothing but buf and its arguments, so that unit tests and the fuzzer call
 * it on crafted bytes. Returns 0, or what fn returned.
 */
int ms_spool_parse(const unsigned char *buf, size_t len, uint32_t base, ms_spool_record_fn fn,
                   void *arg, ms_spool_parse_result_t *res);

/*
 * Reads the records of chunk c from byte `from` of its records up to c->readable (as the
 * last scan saw them) and parses them. buf must hold sp->hdr.chunk_bytes. Returns 0, what
 * fn returned, or -errno of the read.
 */
int ms_spool_read_chunk(ms_spool_t *sp, const ms_spool_chunk_info_t *c, uint32_t from,
                        unsigned char *buf, ms_spool_record_fn fn, void *arg,
                        ms_spool_parse_result_t *res);

/* The proc info of key, or NULL. */
ms_spool_proc_info_t *ms_spool_find_proc(ms_spool_t *sp, uint64_t key);

#endif
