/*
 * The spool: how the shim hands its records to memsweep (docs/spool.md). The shim never
 * opens the database; each process appends what it measures to a spool file mapped into
 * its memory, and memsweep (the collector of `memsweep run`, or `memsweep collect`) folds
 * the spools into the database, which it alone writes. Readers (`advise`, `peaks`) read
 * the spools still pending in place.
 *
 * One spool file ("pool") serves one run: every process image of the run claims chunks of
 * it. The launcher creates a run's pool before it starts the worker, so a worker's start
 * creates no file; a program measured without the launcher creates the pool of a run of
 * its own in its first process and passes its path to its children in MEMSWEEP_SPOOL.
 *
 * Layout of a pool file, all integers little-endian as the machine writes them:
 *
 *   [ms_spool_pool_t, MS_SPOOL_HEADER_BYTES]
 *   [chunk 0, chunk_bytes] [chunk 1, chunk_bytes] ...
 *
 * A chunk belongs to one process image, which claims it by an atomic fetch-and-add on
 * next_chunk in the pool header, allocates its blocks (fallocate) before it maps it, and
 * only then writes its ms_spool_chunk_t. An image's first chunk is written with pwrite
 * instead (records and process header first, the chunk header with its magic last) and
 * mapped only once there is more to write; until then the file may end inside it, and
 * what lies past the end of the file reads as zeros. A process's first chunk (seq 0) holds an
 * ms_spool_proc_t after the chunk header; every chunk then holds records up to `committed`
 * bytes, which the writer publishes with a release store after the record's bytes are in
 * place. A record lies wholly inside one chunk.
 *
 * Everything in a pool is untrusted: a process can scribble over its own mapping, a file
 * can be truncated or half-written. Readers use pread, never a mapping (a truncated file
 * would fault), and validate every field (store/spool_read.c).
 */
#ifndef MS_MEMSWEEP_SPOOL_H
#define MS_MEMSWEEP_SPOOL_H

#include <stdint.h>

/* "MSWSPOOL" */
#define MS_SPOOL_MAGIC 0x4C4F4F5053575345ULL
/*
 * Version 2 added the breakdown of RSS and PSS to samples, the end's breakdown to the
 * process header, and the `growth` and `exec` sample kinds. Readers take versions 1 and 2.
 */
#define MS_SPOOL_VERSION 2
#define MS_SPOOL_VERSION_MIN 1

/* Bytes of the pool header; chunk 0 starts here. */
#define MS_SPOOL_HEADER_BYTES 4096

/* Bytes of every chunk of pools this version creates (readers take chunk_bytes). */
#define MS_SPOOL_CHUNK_BYTES (32 * 1024)
#define MS_SPOOL_CHUNK_MIN 4096
#define MS_SPOOL_CHUNK_MAX (1024 * 1024)

/* Most chunks a reader accepts in one pool (32 GiB at the default chunk size). */
#define MS_SPOOL_CHUNKS_MAX (1u << 20)

/* ms_spool_chunk_t.magic of a chunk whose header is in place. */
#define MS_SPOOL_CHUNK_MAGIC 0x4B4E4843u /* "CHNK" */

/* Suffix of pool file names; the rest of the name is random. */
#define MS_SPOOL_SUFFIX ".msp"

/* The spool directory of a database: "<database>.spool" unless MEMSWEEP_SPOOL_DIR says. */
#define MS_SPOOL_DIR_SUFFIX ".spool"

/* ms_spool_pool_t.flags */
/*
 * A collector of `memsweep run` reads the status of this pool's processes from outside
 * every interval (`tick` samples), so a process whose pid namespace is the watcher's
 * needs no sampler thread of its own.
 */
#define MS_SPOOL_WATCHED 0x1u

typedef struct {
    uint64_t magic;        /* MS_SPOOL_MAGIC */
    uint32_t version;      /* MS_SPOOL_VERSION */
    uint32_t header_bytes; /* MS_SPOOL_HEADER_BYTES */
    uint32_t chunk_bytes;  /* MS_SPOOL_CHUNK_MIN..MS_SPOOL_CHUNK_MAX, a multiple of 4096 */
    uint32_t flags;        /* MS_SPOOL_WATCHED */
    int64_t run_id;        /* the launcher's runs.run_id; 0: a run of the pool's own */
    int64_t created_ns;    /* CLOCK_REALTIME */
    uint64_t pidns_ino;    /* st_ino of the watcher's /proc/self/ns/pid; 0 when unwatched */
    int32_t watcher_pid;   /* the collector's pid in that namespace; 0 when unwatched */
    uint32_t interval_ms;  /* the sweep's sampling interval */
    uint64_t boot_id_hi;   /* /proc/sys/kernel/random/boot_id of the machine the pids */
    uint64_t boot_id_lo;   /* are on: pid and start time decide liveness only there */
    char host[64];         /* hostname, NUL-terminated, for messages */
    /* Shared, updated with atomic operations by the processes of the run. */
    uint64_t next_chunk;     /* chunks claimed so far (fetch-and-add) */
    uint64_t lost_processes; /* images that could not claim their first chunk */
    uint64_t lost_chunks;    /* later chunks that could not be claimed or allocated */
} ms_spool_pool_t;

typedef struct {
    uint32_t magic;     /* MS_SPOOL_CHUNK_MAGIC once the header is written */
    uint32_t seq;       /* 0 for the first chunk of the process image, then 1, 2, ... */
    uint64_t key;       /* random, identifies the process image (not 0) */
    uint32_t committed; /* bytes of records published after the headers (release store) */
    uint32_t pad;
} ms_spool_chunk_t;

/* ms_spool_proc_t.flags */
#define MS_SPOOL_SELF_SAMPLED 0x1u /* the process runs a sampler thread of its own */

/* ms_spool_proc_t.end_state */
#define MS_SPOOL_END_NONE 0
#define MS_SPOOL_END_WRITING 1 /* claimed by the exiting thread; not yet valid */
#define MS_SPOOL_END_DONE 2    /* end_* valid (release store) */

/*
 * The process image, after the header of its first chunk. The counters are updated in
 * place by the shim (relaxed stores, the end with a release store); a reader takes them as
 * they are when it reads.
 */
typedef struct {
    int32_t pid;          /* in the process's own pid namespace */
    int32_t ppid;
    uint64_t start_ticks; /* field 22 of /proc/self/stat: with pid, the process on its host */
    int64_t started_ns;   /* CLOCK_REALTIME when the image started (or the fork) */
    uint64_t pidns_ino;   /* st_ino of its /proc/self/ns/pid */
    uint32_t interval_ms;
    uint32_t flags;       /* MS_SPOOL_SELF_SAMPLED */
    /* live counters */
    int64_t heap_kb;             /* live heap by the hooks; -1 untracked */
    int64_t alloc_dropped_rate;  /* allocation samples not taken: rate limit */
    int64_t alloc_dropped_queue; /* allocation samples not taken: writer busy */
    int64_t unstored;            /* readings taken but not written: no spool space */
    uint32_t alloc_tracking;     /* processes.alloc_tracking */
    uint32_t end_state;          /* MS_SPOOL_END_ */
    /* the end reading, valid once end_state is MS_SPOOL_END_DONE */
    int64_t end_t_ns;   /* > 0 */
    int64_t end_rss_kb; /* -1 when /proc/self/status could not be read at the exit */
    int64_t end_hwm_kb; /* -1 when the kernel did not report it, or it could not be read */
    int64_t end_heap_kb;
    /* version 2: RssAnon, RssFile and RssShmem of the end reading; -1 when not reported */
    int64_t end_anon_kb;
    int64_t end_file_kb;
    int64_t end_shmem_kb;
} ms_spool_proc_t;

/* Bytes of the process header of version 1, which lacks the end's breakdown. */
#define MS_SPOOL_PROC_BYTES_V1 112u

/*
 * Following growth in a watched process (docs/spool.md). A process the collector watches
 * has no thread of its own: after an `alloc` sample it writes one ms_spool_follow_t into
 * the collector's FIFO, MS_SPOOL_FOLLOW_PREFIX followed by the watcher's pid in decimal,
 * in the pool's directory, and the collector reads the process's status from outside
 * while its RSS rises, storing `growth` readings. A message is smaller than PIPE_BUF, so
 * it is written whole or not at all.
 */
#define MS_SPOOL_FOLLOW_PREFIX "follow-"
#define MS_SPOOL_FOLLOW_MAGIC 0x574F4C46u /* "FLOW" */

typedef struct {
    uint32_t magic;       /* MS_SPOOL_FOLLOW_MAGIC */
    int32_t pid;          /* in the watcher's pid namespace */
    uint64_t key;         /* the image's ms_spool_chunk_t.key */
    uint64_t start_ticks; /* its ms_spool_proc_t.start_ticks: the process, against pid reuse */
    int64_t rss_kb;       /* the `alloc` sample's RSS */
} ms_spool_follow_t;

_Static_assert(sizeof(ms_spool_follow_t) == 32, "follow request layout");

/* Record header; `bytes` counts the whole record, a multiple of 8, at least 8. */
typedef struct {
    uint16_t type;
    uint16_t bytes;
    uint32_t pad;
} ms_spool_rec_t;

/* Record types. Readers skip a type they do not know, by its `bytes`. */
#define MS_SPOOL_REC_IDENT 1  /* ms_spool_ident_t, then exe_len + cmdline_len bytes */
#define MS_SPOOL_REC_SAMPLE 2 /* ms_spool_sample_t */
#define MS_SPOOL_REC_STACK 3  /* ms_spool_stack_t, then text_len bytes */
#define MS_SPOOL_REC_NOTE 4   /* ms_spool_note_t, then len bytes: why measuring stopped */
/* The large blocks live at a reading: ms_spool_blocks_t, then count ms_spool_block_t. */
#define MS_SPOOL_REC_BLOCKS 5

/* The longest exe and cmdline kept, and the longest stack text (frames cut to fit). */
#define MS_SPOOL_TEXT_MAX 4096
#define MS_SPOOL_STACK_TEXT_MAX 16384
#define MS_SPOOL_NOTE_MAX 160

typedef struct {
    ms_spool_rec_t h;
    uint16_t exe_len; /* bytes of exe (no NUL), then cmdline, follow this struct */
    uint16_t cmdline_len;
    uint32_t pad;
} ms_spool_ident_t;

/* ms_spool_sample_t.kind; the end reading lives in ms_spool_proc_t, not in a record. */
#define MS_SPOOL_KIND_START 1
#define MS_SPOOL_KIND_TICK 2
#define MS_SPOOL_KIND_ALLOC 3
#define MS_SPOOL_KIND_RELEASE 4
/* Version 2: a reading taken while RSS keeps rising after an `alloc` sample. */
#define MS_SPOOL_KIND_GROWTH 5
/* Version 2: the reading taken just before the image calls exec. */
#define MS_SPOOL_KIND_EXEC 6

typedef struct {
    ms_spool_rec_t h;
    int64_t t_ns;
    int64_t rss_kb;
    int64_t hwm_kb;  /* -1 when not reported */
    int64_t heap_kb; /* -1 when untracked */
    uint64_t stack_hash; /* 0: none; else the hash of a STACK record of this process */
    uint32_t kind;       /* MS_SPOOL_KIND_ */
    uint32_t pad;
    /*
     * Version 2 (a record of MS_SPOOL_SAMPLE_BYTES_V1 lacks them): RssAnon, RssFile and
     * RssShmem of the same read of the status file, -1 when not reported; PSS from
     * smaps_rollup, with its anonymous and shared-memory parts, -1 when not read (it is read
     * only at a bounded rate, see docs/spool.md).
     */
    int64_t anon_kb;
    int64_t file_kb;
    int64_t shmem_kb;
    int64_t pss_kb;
    int64_t pss_anon_kb;  /* Pss_Anon and Pss_Shmem of the same read; -1 when not read */
    int64_t pss_shmem_kb;
} ms_spool_sample_t;

#define MS_SPOOL_SAMPLE_BYTES_V1 56u

/* A stack is written before the first sample that names its hash. */
typedef struct {
    ms_spool_rec_t h;
    uint64_t hash; /* stacks.hash: the same frames give the same hash in every process */
    uint32_t depth;
    uint32_t text_len; /* "module+0xoffset symbol" lines, as stacks.frames holds them */
} ms_spool_stack_t;

typedef struct {
    ms_spool_rec_t h;
    uint32_t len;
    uint32_t pad;
} ms_spool_note_t;

/*
 * The blocks of at least MEMSWEEP_BLOCK_MB that were live when the image took the reading
 * of time t_ns and RSS rss_kb (a SAMPLE record of the same time precedes it): written
 * when a reading the shim takes is the image's highest so far and large blocks are live,
 * or were at an earlier such reading. `untracked` counts the large blocks allocated in
 * the image that its table had no room for (MS_BLOCKS_MAX), live or not.
 */
typedef struct {
    ms_spool_rec_t h;
    int64_t t_ns;
    int64_t rss_kb;
    uint32_t count;
    uint32_t untracked;
} ms_spool_blocks_t;

typedef struct {
    uint64_t addr;        /* what the allocation returned */
    uint64_t bytes;       /* as allocated: glibc's chunk (header included), another
                           * allocator's usable size, or the mapping's length */
    int64_t resident_kb;  /* of its pages, resident at the reading (mincore); -1 unknown */
    uint64_t stack_hash;  /* 0: none; else the hash of a STACK record of this process */
    int64_t t_ns;         /* when it was allocated */
} ms_spool_block_t;

/* The most blocks an image tracks, and so the most a BLOCKS record lists. */
#define MS_BLOCKS_MAX 128

_Static_assert(sizeof(ms_spool_pool_t) <= MS_SPOOL_HEADER_BYTES, "pool header fits");
_Static_assert(sizeof(ms_spool_chunk_t) == 24, "chunk header layout");
_Static_assert(sizeof(ms_spool_proc_t) % 8 == 0, "process header keeps records aligned");
_Static_assert(sizeof(ms_spool_sample_t) == 104, "sample layout");
_Static_assert(sizeof(ms_spool_proc_t) == MS_SPOOL_PROC_BYTES_V1 + 24, "process header layout");
_Static_assert(sizeof(ms_spool_rec_t) == 8, "record header layout");
_Static_assert(sizeof(ms_spool_blocks_t) == 32, "blocks record layout");
_Static_assert(sizeof(ms_spool_block_t) == 40, "block layout");
_Static_assert(sizeof(ms_spool_blocks_t) + MS_BLOCKS_MAX * sizeof(ms_spool_block_t) <= 0xffff,
               "a whole BLOCKS record fits its 16-bit length");

/* Bytes of the process header in a pool of `version`. */
static inline uint32_t ms_spool_proc_bytes(uint32_t version)
{
    return version == 1 ? MS_SPOOL_PROC_BYTES_V1 : (uint32_t)sizeof(ms_spool_proc_t);
}

/* Where the records of a chunk start: after its header, and the process's in chunk 0. */
static inline uint32_t ms_spool_records_at_v(uint32_t version, uint32_t seq)
{
    return (uint32_t)sizeof(ms_spool_chunk_t) + (seq == 0 ? ms_spool_proc_bytes(version) : 0u);
}

/* The same in a pool of this version. */
static inline uint32_t ms_spool_records_at(uint32_t seq)
{
    return ms_spool_records_at_v(MS_SPOOL_VERSION, seq);
}

/* Offset of chunk i in a pool file. */
static inline uint64_t ms_spool_chunk_offset(const ms_spool_pool_t *p, uint64_t i)
{
    return (uint64_t)p->header_bytes + i * (uint64_t)p->chunk_bytes;
}

#endif
