/*
 * ms_spooldump: prints what a pool file (include/memsweep/spool.h) holds, for the tests of
 * the shim's spool. It reads with pread only, never a mapping (a truncated pool would
 * fault), and checks everything it reads; a pool that breaks the format makes it print a
 * "bad" line and exit 1. Output, one line each, `key=value` words (exe and cmdline last):
 *
 *   pool version=.. chunk_bytes=.. flags=.. run_id=.. interval_ms=.. next_chunk=..
 *        lost_processes=.. lost_chunks=.. watcher_pid=.. host=..
 *   proc key=.. pid=.. ppid=.. start_ticks=.. pidns=.. flags=.. interval_ms=.. chunks=..
 *        end_state=.. end_t_ns=.. end_rss_kb=.. end_hwm_kb=.. end_heap_kb=.. heap_kb=..
 *        dropped_rate=.. dropped_queue=.. unstored=.. tracking=.. exe=.. cmdline=..
 *   sample key=.. seq=.. kind=start|tick|alloc|release t_ns=.. rss_kb=.. hwm_kb=..
 *        heap_kb=.. stack=<hex hash or 0>
 *   stack key=.. seq=.. hash=.. depth=.. first=<first frame>
 *   note key=.. seq=.. text=..
 *
 * Processes are listed in the order of their first chunk, each followed by its records in
 * the order written. Usage: ms_spooldump POOL
 */
#include "memsweep/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int bad;

static void complain(const char *what, uint64_t chunk)
{
    printf("bad chunk=%" PRIu64 " %s\n", chunk, what);
    bad = 1;
}

/* Reads len bytes at off; what lies past the end of the file reads as zeros. */
static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
    size_t done = 0;

    while (done < len) {
        const ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            memset((char *)buf + done, 0, len - done);
            return done > 0 ? 0 : -1;
        }
        done += (size_t)n;
    }
    return 0;
}

typedef struct {
    uint64_t index;
    ms_spool_chunk_t h;
} chunk_t;

static const char *kind_name(uint32_t k)
{
    switch (k) {
    case MS_SPOOL_KIND_START:
        return "start";
    case MS_SPOOL_KIND_TICK:
        return "tick";
    case MS_SPOOL_KIND_ALLOC:
        return "alloc";
    case MS_SPOOL_KIND_RELEASE:
        return "release";
    case MS_SPOOL_KIND_GROWTH:
        return "growth";
    case MS_SPOOL_KIND_EXEC:
        return "exec";
    default:
        return "unknown";
    }
}

/* Prints text with newlines and control bytes as '?', so each record stays one line. */
static void print_text(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        putchar(s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i]);
}

/* The records of one chunk. exe and cmdline of an IDENT are copied to the caller. */
static void records(const unsigned char *buf, uint32_t from, uint32_t to, const chunk_t *c,
                    int print, char *ident, size_t ident_cap)
{
    uint32_t off = from;

    while (off < to) {
        ms_spool_rec_t r;
        if (to - off < sizeof(r)) {
            complain("record header cut", c->index);
            return;
        }
        memcpy(&r, buf + off, sizeof(r));
        if (r.bytes < 8 || r.bytes % 8 != 0 || r.bytes > to - off) {
            complain("record size out of range (torn record)", c->index);
            return;
        }
        if (r.type == MS_SPOOL_REC_SAMPLE && print) {
            ms_spool_sample_t s;
            if (r.bytes < sizeof(s)) {
                complain("short sample", c->index);
                return;
            }
            memcpy(&s, buf + off, sizeof(s));
            /* The breakdown and PSS, -1 when not reported or not read, after the rest. */
            printf("sample key=%016" PRIx64 " seq=%u kind=%s t_ns=%" PRId64 " rss_kb=%" PRId64
                   " hwm_kb=%" PRId64 " heap_kb=%" PRId64 " stack=%" PRIx64 " anon_kb=%" PRId64
                   " file_kb=%" PRId64 " shmem_kb=%" PRId64 " pss_kb=%" PRId64 "\n",
                   c->h.key, c->h.seq, kind_name(s.kind), s.t_ns, s.rss_kb, s.hwm_kb,
                   s.heap_kb, s.stack_hash, s.anon_kb, s.file_kb, s.shmem_kb, s.pss_kb);
        } else if (r.type == MS_SPOOL_REC_STACK && print) {
            ms_spool_stack_t s;
            size_t first = 0;
            if (r.bytes < sizeof(s)) {
                complain("short stack", c->index);
                return;
            }
            memcpy(&s, buf + off, sizeof(s));
            if (s.text_len > r.bytes - sizeof(s)) {
                complain("stack text beyond its record", c->index);
                return;
            }
            while (first < s.text_len && buf[off + sizeof(s) + first] != '\n')
                first++;
            printf("stack key=%016" PRIx64 " seq=%u hash=%" PRIx64 " depth=%u first=",
                   c->h.key, c->h.seq, s.hash, s.depth);
            print_text(buf + off + sizeof(s), first);
            putchar('\n');
        } else if (r.type == MS_SPOOL_REC_NOTE && print) {
            ms_spool_note_t n;
            memcpy(&n, buf + off, sizeof(n));
            if (n.len > r.bytes - sizeof(n)) {
                complain("note text beyond its record", c->index);
                return;
            }
            printf("note key=%016" PRIx64 " seq=%u text=", c->h.key, c->h.seq);
            print_text(buf + off + sizeof(n), n.len);
            putchar('\n');
        } else if (r.type == MS_SPOOL_REC_IDENT && ident != NULL) {
            ms_spool_ident_t id;
            memcpy(&id, buf + off, sizeof(id));
            if ((size_t)id.exe_len + id.cmdline_len > r.bytes - sizeof(id)) {
                complain("ident texts beyond their record", c->index);
                return;
            }
            snprintf(ident, ident_cap, "exe=%.*s cmdline=%.*s", (int)id.exe_len,
                     (const char *)buf + off + sizeof(id), (int)id.cmdline_len,
                     (const char *)buf + off + sizeof(id) + id.exe_len);
            for (char *p = ident; *p != '\0'; p++) {
                if ((unsigned char)*p < 0x20)
                    *p = '?';
            }
        }
        off += r.bytes;
    }
}

int main(int argc, char **argv)
{
    ms_spool_pool_t p;
    struct stat st;
    chunk_t *chunks;
    unsigned char *buf;
    uint64_t n, nvalid = 0;
    int fd;

    if (argc != 2) {
        fprintf(stderr, "Usage: ms_spooldump POOL\n");
        return 2;
    }
    fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "ms_spooldump: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    if (read_at(fd, &p, sizeof(p), 0) != 0 || p.magic != MS_SPOOL_MAGIC ||
        p.version != MS_SPOOL_VERSION || p.header_bytes != MS_SPOOL_HEADER_BYTES ||
        p.chunk_bytes < MS_SPOOL_CHUNK_MIN || p.chunk_bytes > MS_SPOOL_CHUNK_MAX ||
        p.chunk_bytes % 4096 != 0) {
        printf("bad header\n");
        return 1;
    }
    p.host[sizeof(p.host) - 1] = '\0';
    printf("pool version=%u chunk_bytes=%u flags=%u run_id=%" PRId64 " interval_ms=%u"
           " next_chunk=%" PRIu64 " lost_processes=%" PRIu64 " lost_chunks=%" PRIu64
           " watcher_pid=%d host=%s\n",
           p.version, p.chunk_bytes, p.flags, p.run_id, p.interval_ms, p.next_chunk,
           p.lost_processes, p.lost_chunks, p.watcher_pid, p.host);
    /*
     * Chunks claimed but never allocated (a full disk) lie beyond the end of the file; the
     * last chunk of the file may end past it (a first chunk written with pwrite and not
     * mapped, whose unwritten rest reads as zeros).
     */
    n = p.next_chunk;
    if (n > MS_SPOOL_CHUNKS_MAX)
        n = MS_SPOOL_CHUNKS_MAX;
    if ((uint64_t)st.st_size <= p.header_bytes)
        n = 0;
    else if (n > ((uint64_t)st.st_size - p.header_bytes + p.chunk_bytes - 1) / p.chunk_bytes)
        n = ((uint64_t)st.st_size - p.header_bytes + p.chunk_bytes - 1) / p.chunk_bytes;
    chunks = calloc(n + 1, sizeof(*chunks));
    buf = malloc(p.chunk_bytes);
    if (chunks == NULL || buf == NULL)
        return 1;
    for (uint64_t i = 0; i < n; i++) {
        chunk_t c = {i, {0}};
        if (read_at(fd, &c.h, sizeof(c.h), ms_spool_chunk_offset(&p, i)) != 0) {
            complain("unreadable", i);
            continue;
        }
        if (c.h.magic != MS_SPOOL_CHUNK_MAGIC)
            continue; /* claimed, not (yet) started, or lost */
        if (c.h.key == 0 || c.h.committed > p.chunk_bytes - ms_spool_records_at(c.h.seq)) {
            complain("header out of range", i);
            continue;
        }
        chunks[nvalid++] = c;
    }
    /* Each process: its chunk 0, then its chunks by seq. */
    for (uint64_t i = 0; i < nvalid; i++) {
        ms_spool_proc_t pr;
        char ident[2 * MS_SPOOL_TEXT_MAX + 32] = "exe= cmdline=";
        uint32_t nchunks = 0;

        if (chunks[i].h.seq != 0)
            continue;
        for (uint32_t seq = 0;; seq++) {
            uint64_t j = nvalid;
            for (uint64_t k = 0; k < nvalid; k++) {
                if (chunks[k].h.key == chunks[i].h.key && chunks[k].h.seq == seq) {
                    if (j != nvalid)
                        complain("two chunks with one key and seq", chunks[k].index);
                    j = k;
                }
            }
            if (j == nvalid)
                break;
            nchunks++;
        }
        if (read_at(fd, buf, p.chunk_bytes, ms_spool_chunk_offset(&p, chunks[i].index)) != 0) {
            complain("unreadable", chunks[i].index);
            continue;
        }
        memcpy(&pr, buf + sizeof(ms_spool_chunk_t), sizeof(pr));
        records(buf, ms_spool_records_at(0), ms_spool_records_at(0) + chunks[i].h.committed,
                &chunks[i], 0, ident, sizeof(ident));
        printf("proc key=%016" PRIx64 " pid=%d ppid=%d start_ticks=%" PRIu64
               " pidns=%" PRIu64 " flags=%u interval_ms=%u chunks=%u end_state=%u"
               " end_t_ns=%" PRId64 " end_rss_kb=%" PRId64 " end_hwm_kb=%" PRId64
               " end_heap_kb=%" PRId64 " heap_kb=%" PRId64 " dropped_rate=%" PRId64
               " dropped_queue=%" PRId64 " unstored=%" PRId64 " tracking=%u"
               " started_ns=%" PRId64 " %s\n",
               chunks[i].h.key, pr.pid, pr.ppid, pr.start_ticks, pr.pidns_ino, pr.flags,
               pr.interval_ms, nchunks, pr.end_state, pr.end_t_ns, pr.end_rss_kb,
               pr.end_hwm_kb, pr.end_heap_kb, pr.heap_kb, pr.alloc_dropped_rate,
               pr.alloc_dropped_queue, pr.unstored, pr.alloc_tracking, pr.started_ns, ident);
        for (uint32_t seq = 0; seq < nchunks; seq++) {
            for (uint64_t k = 0; k < nvalid; k++) {
                if (chunks[k].h.key != chunks[i].h.key || chunks[k].h.seq != seq)
                    continue;
                if (read_at(fd, buf, p.chunk_bytes,
                            ms_spool_chunk_offset(&p, chunks[k].index)) != 0) {
                    complain("unreadable", chunks[k].index);
                    break;
                }
                records(buf, ms_spool_records_at(seq),
                        ms_spool_records_at(seq) + chunks[k].h.committed, &chunks[k], 1, NULL,
                        0);
                break;
            }
        }
    }
    for (uint64_t k = 0; k < nvalid; k++) {
        int has_first = 0;
        for (uint64_t i = 0; i < nvalid; i++)
            has_first |= chunks[i].h.key == chunks[k].h.key && chunks[i].h.seq == 0;
        if (!has_first)
            complain("a chunk of a process without its first chunk", chunks[k].index);
    }
    free(buf);
    free(chunks);
    close(fd);
    return bad;
}
