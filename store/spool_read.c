/* Reading pool files with pread, checking every field (see spool_read.h). */
#include "spool_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memsweep/defaults.h"
#include "errbuf.h"
#include "store.h"

/* A stack's depth counts its lines, which the shim cuts at MS_MAX_STACK_FRAMES. */
#define STACK_DEPTH_MAX 1024

static void why_set(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void why_set(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
}

int ms_spool_check_pool(const ms_spool_pool_t *h, char *why, size_t len)
{
    if (h->magic != MS_SPOOL_MAGIC) {
        why_set(why, len, "not a memsweep pool (bad magic)");
        return -EINVAL;
    }
    if (h->version < MS_SPOOL_VERSION_MIN || h->version > MS_SPOOL_VERSION) {
        why_set(why, len, "pool version %u, this memsweep reads %d to %d", h->version,
                MS_SPOOL_VERSION_MIN, MS_SPOOL_VERSION);
        return -EINVAL;
    }
    if (h->header_bytes != MS_SPOOL_HEADER_BYTES) {
        why_set(why, len, "header of %u bytes, not %d", h->header_bytes, MS_SPOOL_HEADER_BYTES);
        return -EINVAL;
    }
    if (h->chunk_bytes < MS_SPOOL_CHUNK_MIN || h->chunk_bytes > MS_SPOOL_CHUNK_MAX ||
        h->chunk_bytes % 4096 != 0) {
        why_set(why, len, "chunk size %u out of range", h->chunk_bytes);
        return -EINVAL;
    }
    if (h->run_id < 0) {
        why_set(why, len, "run id %lld out of range", (long long)h->run_id);
        return -EINVAL;
    }
    if (h->created_ns <= 0) {
        why_set(why, len, "creation time %lld out of range", (long long)h->created_ns);
        return -EINVAL;
    }
    if (h->watcher_pid < 0 || (h->watcher_pid == 0) != (h->pidns_ino == 0)) {
        why_set(why, len, "watcher pid %d and namespace do not agree", (int)h->watcher_pid);
        return -EINVAL;
    }
    if (h->interval_ms < MS_MIN_INTERVAL_MS || h->interval_ms > MS_MAX_INTERVAL_MS) {
        why_set(why, len, "interval %u ms out of range", h->interval_ms);
        return -EINVAL;
    }
    if (memchr(h->host, '\0', sizeof h->host) == NULL) {
        why_set(why, len, "host name not terminated");
        return -EINVAL;
    }
    return 0;
}

int ms_spool_check_proc(const ms_spool_proc_t *p, char *why, size_t len)
{
    if (p->pid == 0 && p->started_ns == 0 && p->start_ticks == 0)
        return -EAGAIN;
    if (p->pid <= 0 || p->ppid < 0) {
        why_set(why, len, "pid %d or ppid %d out of range", (int)p->pid, (int)p->ppid);
        return -EINVAL;
    }
    if (p->started_ns <= 0) {
        why_set(why, len, "process start time %lld out of range", (long long)p->started_ns);
        return -EINVAL;
    }
    if (p->heap_kb < -1 || p->alloc_dropped_rate < 0 || p->alloc_dropped_queue < 0 ||
        p->unstored < 0 || p->alloc_tracking > 1) {
        why_set(why, len, "process counters out of range");
        return -EINVAL;
    }
    if (p->end_state > MS_SPOOL_END_DONE) {
        why_set(why, len, "end state %u unknown", p->end_state);
        return -EINVAL;
    }
    if (p->end_state == MS_SPOOL_END_DONE && ms_spool_check_end(p) != 0) {
        why_set(why, len, "end reading out of range");
        return -EINVAL;
    }
    return 0;
}

int ms_spool_check_end(const ms_spool_proc_t *p)
{
    /*
     * -1 says "not reported": the shim could not read /proc at the exit (its descriptors
     * used up, /proc unmounted) and still ends the process, at end_t_ns.
     */
    if (p->end_t_ns <= 0 || p->end_rss_kb < -1 || p->end_hwm_kb < -1 || p->end_heap_kb < -1 ||
        p->end_anon_kb < -1 || p->end_file_kb < -1 || p->end_shmem_kb < -1)
        return -EINVAL;
    return 0;
}

void ms_spool_reject(ms_spool_t *sp, const char *fmt, ...)
{
    va_list ap;

    sp->rejected++;
    if (sp->reason[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(sp->reason, sizeof sp->reason, fmt, ap);
    va_end(ap);
}

/* Reads exactly len bytes at off; a short read is -ENODATA (the file is shorter). */
static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    size_t got = 0;

    while (got < len) {
        const ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -ENODATA;
        got += (size_t)n;
    }
    return 0;
}

int ms_spool_read_proc(int fd, uint64_t off, uint32_t version, ms_spool_proc_t *p, char *why,
                       size_t len)
{
    enum { END_AT = offsetof(ms_spool_proc_t, end_t_ns) };
    const size_t bytes = ms_spool_proc_bytes(version);
    int rc;

    /* A header of version 1 lacks the end's breakdown: not reported. */
    p->end_anon_kb = p->end_file_kb = p->end_shmem_kb = -1;
    rc = pread_all(fd, p, bytes, off);
    if (rc != 0)
        return -EAGAIN; /* past the end of the file: not written yet */
    if (p->end_state == MS_SPOOL_END_DONE) {
        /*
         * The writer stores the end reading and then end_state with a release store, but
         * one pread copies the bytes in no promised order: the DONE it saw may be newer
         * than the figures it copied. Reading the figures again, after DONE was seen,
         * gets those it published. A DONE whose figures still do not check is taken as
         * "not yet" and read again at the next scan, never as a bad chunk.
         */
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (pread_all(fd, (char *)p + END_AT, bytes - END_AT, off + END_AT) != 0 ||
            ms_spool_check_end(p) != 0)
            p->end_state = MS_SPOOL_END_WRITING;
    }
    return ms_spool_check_proc(p, why, len);
}

static void free_procs(ms_spool_t *sp)
{
    for (size_t i = 0; i < sp->n_procs; i++)
        free(sp->procs[i].chunks);
    free(sp->procs);
    sp->procs = NULL;
    sp->n_procs = 0;
}

void ms_spool_close(ms_spool_t *sp)
{
    if (sp == NULL)
        return;
    if (sp->fd >= 0)
        close(sp->fd);
    free_procs(sp);
    free(sp->chunks);
    free(sp->heads);
    free(sp->head_states);
    free(sp->path);
    free(sp);
}

void ms_spool_set_settled(ms_spool_t *sp, ms_spool_settled_fn fn, void *arg)
{
    sp->settled = fn;
    sp->settled_arg = arg;
}

/*
 * Chunk i as the last scan found it, when it belongs to an image the caller has settled:
 * nothing of it can change any more, so it is not read again.
 */
static int settled_chunk(const ms_spool_t *sp, size_t i)
{
    return sp->settled != NULL && i < sp->n_chunks &&
           sp->chunks[i].state == MS_SPOOL_CHUNK_OK && sp->heads != NULL &&
           sp->settled(sp->settled_arg, sp->chunks[i].key);
}

ms_spool_proc_info_t *ms_spool_find_proc(ms_spool_t *sp, uint64_t key)
{
    size_t lo = 0, hi = sp->n_procs;

    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (sp->procs[mid].key == key)
            return &sp->procs[mid];
        if (sp->procs[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Orders chunk infos (through their indices) by key, then seq, then position. */
static _Thread_local const ms_spool_chunk_info_t *sort_base;

static int cmp_chunk(const void *a, const void *b)
{
    const ms_spool_chunk_info_t *x = &sort_base[*(const size_t *)a];
    const ms_spool_chunk_info_t *y = &sort_base[*(const size_t *)b];

    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Reads one chunk's header and, when it is a first chunk, its process header. */
static void read_chunk(ms_spool_t *sp, ms_spool_chunk_info_t *c, ms_spool_proc_t *proc,
                       int *proc_state)
{
    const uint64_t off = ms_spool_chunk_offset(&sp->hdr, c->index);
    ms_spool_chunk_t ch;
    char why[120];
    uint32_t cap;
    uint64_t start;

    *proc_state = -EAGAIN;
    c->state = MS_SPOOL_CHUNK_UNWRITTEN;
    if (pread_all(sp->fd, &ch, sizeof ch, off) != 0)
        return;
    /*
     * The writer fills in the chunk's header and its first records before it stores the
     * magic, last, with a release store: a chunk with its key but no magic yet is being
     * written, not bad, and is looked at again at the next scan. One whose writer died
     * there stays unwritten, which the removal rule's staleness allows for.
     */
    if (ch.magic == 0)
        return;
    if (ch.magic != MS_SPOOL_CHUNK_MAGIC || ch.key == 0) {
        c->state = MS_SPOOL_CHUNK_BAD;
        ms_spool_reject(sp, "chunk %llu: bad chunk header", (unsigned long long)c->index);
        return;
    }
    cap = sp->hdr.chunk_bytes - ms_spool_records_at_v(sp->hdr.version, ch.seq);
    if (ch.committed > cap || ch.committed % 8 != 0) {
        c->state = MS_SPOOL_CHUNK_BAD;
        ms_spool_reject(sp, "chunk %llu: committed %u bytes beyond the chunk (%u)",
                        (unsigned long long)c->index, ch.committed, cap);
        return;
    }
    c->key = ch.key;
    c->seq = ch.seq;
    c->committed = ch.committed;
    start = off + ms_spool_records_at_v(sp->hdr.version, ch.seq);
    if (ch.seq == 0) {
        *proc_state = ms_spool_read_proc(sp->fd, off + sizeof ch, sp->hdr.version, proc, why,
                                         sizeof why);
        if (*proc_state == -EAGAIN)
            return; /* a header still being written, or past the end of the file */
        if (*proc_state != 0) {
            c->state = MS_SPOOL_CHUNK_BAD;
            ms_spool_reject(sp, "chunk %llu: %s", (unsigned long long)c->index, why);
            return;
        }
    }
    /*
     * The size was taken before this chunk's header was read: a writer may have extended
     * the file since (it does so before it commits what lies past the old end; a first
     * chunk is written with pwrite and mapped, its blocks allocated, only later). So the
     * size is taken again before records are found to lie past it.
     */
    if (start + c->committed > sp->file_bytes) {
        struct stat st;
        if (fstat(sp->fd, &st) == 0 && (uint64_t)st.st_size > sp->file_bytes)
            sp->file_bytes = (uint64_t)st.st_size;
    }
    c->readable = start >= sp->file_bytes ? 0
                  : sp->file_bytes - start < c->committed ? (uint32_t)(sp->file_bytes - start)
                                                          : c->committed;
    c->state = MS_SPOOL_CHUNK_OK;
}

int ms_spool_scan(ms_spool_t *sp, char *err, size_t errlen)
{
    ms_spool_proc_t *heads = NULL;
    int *head_state = NULL;
    size_t *order = NULL;
    ms_spool_chunk_info_t *chunks = NULL;
    struct stat st;
    char why[120];
    uint64_t in_file;
    size_t n = 0;
    int rc;

    rc = pread_all(sp->fd, &sp->hdr, sizeof sp->hdr, 0);
    if (rc != 0) {
        ms_set_err(err, errlen, "%s: %s", sp->path,
                      rc == -ENODATA ? "not a memsweep pool (shorter than its header)"
                                     : strerror(-rc));
        return rc == -ENODATA ? -EINVAL : rc;
    }
    if (ms_spool_check_pool(&sp->hdr, why, sizeof why) != 0) {
        ms_set_err(err, errlen, "%s: %s", sp->path, why);
        return -EINVAL;
    }
    if (fstat(sp->fd, &st) != 0) {
        rc = -errno;
        ms_set_err(err, errlen, "%s: %s", sp->path, strerror(-rc));
        return rc;
    }
    sp->file_bytes = (uint64_t)st.st_size;
    sp->claimed = sp->hdr.next_chunk < MS_SPOOL_CHUNKS_MAX ? sp->hdr.next_chunk
                                                          : MS_SPOOL_CHUNKS_MAX;
    /* Chunks that start inside the file; a claimed one past its end is unwritten. */
    in_file = sp->file_bytes > sp->hdr.header_bytes
                  ? (sp->file_bytes - sp->hdr.header_bytes + sp->hdr.chunk_bytes - 1) /
                        sp->hdr.chunk_bytes
                  : 0;
    n = (size_t)(sp->claimed < in_file ? sp->claimed : in_file);
    if (n > 0) {
        chunks = calloc(n, sizeof *chunks);
        heads = calloc(n, sizeof *heads);
        head_state = calloc(n, sizeof *head_state);
        order = calloc(n, sizeof *order);
        if (chunks == NULL || heads == NULL || head_state == NULL || order == NULL) {
            rc = -ENOMEM;
            ms_set_err(err, errlen, "%s: %s", sp->path, strerror(ENOMEM));
            goto out;
        }
    }
    sp->settled_skipped = 0;
    for (size_t i = 0; i < n; i++) {
        if (settled_chunk(sp, i)) {
            chunks[i] = sp->chunks[i];
            heads[i] = sp->heads[i];
            head_state[i] = sp->head_states[i];
            sp->settled_skipped++;
            continue;
        }
        chunks[i].index = i;
        read_chunk(sp, &chunks[i], &heads[i], &head_state[i]);
        if (chunks[i].state == MS_SPOOL_CHUNK_OK && chunks[i].readable < chunks[i].committed)
            ms_spool_reject(sp, "chunk %llu: the file ends inside its records",
                            (unsigned long long)i);
    }
    free_procs(sp);

    /* Group the usable chunks by key and seq. */
    {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (chunks[i].state == MS_SPOOL_CHUNK_OK)
                order[k++] = i;
        sort_base = chunks;
        if (k > 1)
            qsort(order, k, sizeof *order, cmp_chunk);
        for (size_t i = 0; i < k;) {
            size_t j = i;
            ms_spool_proc_info_t *p;
            while (j < k && chunks[order[j]].key == chunks[order[i]].key)
                j++;
            if (sp->n_procs % 16 == 0) {
                ms_spool_proc_info_t *np =
                    realloc(sp->procs, (sp->n_procs + 16) * sizeof *np);
                if (np == NULL) {
                    rc = -ENOMEM;
                    ms_set_err(err, errlen, "%s: %s", sp->path, strerror(ENOMEM));
                    goto out;
                }
                sp->procs = np;
            }
            p = &sp->procs[sp->n_procs];
            memset(p, 0, sizeof *p);
            p->key = chunks[order[i]].key;
            p->chunks = malloc((j - i) * sizeof *p->chunks);
            if (p->chunks == NULL) {
                rc = -ENOMEM;
                ms_set_err(err, errlen, "%s: %s", sp->path, strerror(ENOMEM));
                goto out;
            }
            sp->n_procs++;
            for (size_t m = i; m < j; m++) {
                ms_spool_chunk_info_t *c = &chunks[order[m]];
                if (p->n_chunks > 0 && chunks[p->chunks[p->n_chunks - 1]].seq == c->seq) {
                    c->state = MS_SPOOL_CHUNK_BAD;
                    ms_spool_reject(sp, "chunk %llu: a second chunk %u of one process",
                                    (unsigned long long)c->index, c->seq);
                    continue;
                }
                if (c->seq == 0) {
                    p->have_proc = 1;
                    p->proc = heads[order[m]];
                    p->first_chunk = c->index;
                }
                p->chunks[p->n_chunks++] = order[m];
            }
            i = j;
        }
    }
    /*
     * A chunk is rejected once, at the scan that first found it unusable, not again at
     * every later scan.
     */
    for (size_t i = 0; i < n && i < sp->n_chunks; i++) {
        const int was_bad = sp->chunks[i].state == MS_SPOOL_CHUNK_BAD ||
                            (sp->chunks[i].state == MS_SPOOL_CHUNK_OK &&
                             sp->chunks[i].readable < sp->chunks[i].committed);
        const int is_bad = chunks[i].state == MS_SPOOL_CHUNK_BAD ||
                           (chunks[i].state == MS_SPOOL_CHUNK_OK &&
                            chunks[i].readable < chunks[i].committed);
        if (was_bad && is_bad && sp->rejected > 0)
            sp->rejected--;
    }
    free(sp->chunks);
    sp->chunks = chunks;
    sp->n_chunks = n;
    chunks = NULL;
    free(sp->heads);
    free(sp->head_states);
    sp->heads = heads;
    sp->head_states = head_state;
    heads = NULL;
    head_state = NULL;
    sp->n_unwritten = sp->claimed - n;
    for (size_t i = 0; i < n; i++)
        if (sp->chunks[i].state == MS_SPOOL_CHUNK_UNWRITTEN)
            sp->n_unwritten++;
    rc = 0;
out:
    if (rc != 0)
        free_procs(sp);
    free(chunks);
    free(heads);
    free(head_state);
    free(order);
    return rc;
}

int ms_spool_open_fd(int fd, const char *path, ms_spool_t **out, char *err, size_t errlen)
{
    ms_spool_t *sp = calloc(1, sizeof *sp);
    const char *slash;
    int rc;

    *out = NULL;
    if (sp == NULL || (sp->path = strdup(path)) == NULL) {
        free(sp);
        close(fd);
        ms_set_err(err, errlen, "%s: %s", path, strerror(ENOMEM));
        return -ENOMEM;
    }
    sp->fd = fd;
    slash = strrchr(sp->path, '/');
    sp->name = slash != NULL ? slash + 1 : sp->path;
    rc = ms_spool_scan(sp, err, errlen);
    if (rc != 0) {
        ms_spool_close(sp);
        return rc;
    }
    *out = sp;
    return 0;
}

int ms_spool_open(const char *path, ms_spool_t **out, char *err, size_t errlen)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    int rc;

    *out = NULL;
    if (fd < 0) {
        rc = -errno;
        ms_set_err(err, errlen, "%s: %s", path,
                      rc == -ELOOP ? "a symbolic link, not a pool" : strerror(-rc));
        return rc == -ELOOP ? -EINVAL : rc;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        ms_set_err(err, errlen, "%s: not a regular file of this user, not a pool", path);
        close(fd);
        return -EINVAL;
    }
    return ms_spool_open_fd(fd, path, out, err, errlen);
}

/* Checks the text of a record: inside it, and no NUL (a TEXT column ends there). */
static int text_ok(const unsigned char *t, size_t len)
{
    return memchr(t, '\0', len) == NULL;
}

static void parse_reject(ms_spool_parse_result_t *res, uint32_t at, const char *what)
{
    res->rejected++;
    if (res->reason[0] == '\0')
        snprintf(res->reason, sizeof res->reason, "record at %u: %s", at, what);
}

int ms_spool_parse(const unsigned char *buf, size_t len, uint32_t base, ms_spool_record_fn fn,
                   void *arg, ms_spool_parse_result_t *res)
{
    size_t off = 0;

    memset(res, 0, sizeof *res);
    while (off < len) {
        ms_spool_rec_t h;
        ms_spool_record_t r;
        const unsigned char *body = buf + off;
        const char *bad = NULL;
        int rc;

        if (len - off < sizeof h) {
            bad = "header cut short";
        } else {
            memcpy(&h, body, sizeof h);
            if (h.bytes < sizeof h || h.bytes % 8 != 0)
                bad = "length not a multiple of 8";
            else if (h.bytes > len - off)
                bad = "length beyond what was committed";
        }
        if (bad != NULL) {
            res->stopped = 1;
            res->consumed = off;
            if (res->reason[0] == '\0')
                snprintf(res->reason, sizeof res->reason, "record at %u: %s",
                         (unsigned)(base + off), bad);
            return 0;
        }
        memset(&r, 0, sizeof r);
        r.type = h.type;
        r.offset = (uint32_t)(base + off);
        r.bytes = h.bytes;
        switch (h.type) {
        case MS_SPOOL_REC_IDENT: {
            ms_spool_ident_t id;
            if (h.bytes < sizeof id) {
                bad = "identity record too short";
                break;
            }
            memcpy(&id, body, sizeof id);
            if ((size_t)id.exe_len + id.cmdline_len > h.bytes - sizeof id ||
                id.exe_len > MS_SPOOL_TEXT_MAX || id.cmdline_len > MS_SPOOL_TEXT_MAX) {
                bad = "identity text longer than its record";
                break;
            }
            r.u.ident.exe = (const char *)body + sizeof id;
            r.u.ident.exe_len = id.exe_len;
            r.u.ident.cmdline = r.u.ident.exe + id.exe_len;
            r.u.ident.cmdline_len = id.cmdline_len;
            if (!text_ok((const unsigned char *)r.u.ident.exe, id.exe_len))
                bad = "NUL in the executable's path";
            break;
        }
        case MS_SPOOL_REC_SAMPLE:
            if (h.bytes < MS_SPOOL_SAMPLE_BYTES_V1) {
                bad = "sample record too short";
                break;
            }
            /* A sample of version 1 lacks the breakdown and PSS: not reported. */
            r.u.sample.anon_kb = r.u.sample.file_kb = r.u.sample.shmem_kb = -1;
            r.u.sample.pss_kb = r.u.sample.pss_anon_kb = r.u.sample.pss_shmem_kb = -1;
            memcpy(&r.u.sample, body,
                   h.bytes < sizeof r.u.sample ? MS_SPOOL_SAMPLE_BYTES_V1 : sizeof r.u.sample);
            if (r.u.sample.kind < MS_SPOOL_KIND_START || r.u.sample.kind > MS_SPOOL_KIND_EXEC)
                bad = "unknown sample kind";
            else if (r.u.sample.t_ns <= 0 || r.u.sample.rss_kb < 0 || r.u.sample.hwm_kb < -1 ||
                     r.u.sample.heap_kb < -1 || r.u.sample.anon_kb < -1 ||
                     r.u.sample.file_kb < -1 || r.u.sample.shmem_kb < -1 ||
                     r.u.sample.pss_kb < -1 || r.u.sample.pss_anon_kb < -1 ||
                     r.u.sample.pss_shmem_kb < -1)
                bad = "sample values out of range";
            break;
        case MS_SPOOL_REC_STACK: {
            ms_spool_stack_t s;
            if (h.bytes < sizeof s) {
                bad = "stack record too short";
                break;
            }
            memcpy(&s, body, sizeof s);
            if (s.text_len > h.bytes - sizeof s || s.text_len > MS_SPOOL_STACK_TEXT_MAX)
                bad = "stack text longer than its record";
            else if (s.hash == 0 || s.depth > STACK_DEPTH_MAX)
                bad = "stack hash or depth out of range";
            else if (!text_ok(body + sizeof s, s.text_len))
                bad = "NUL in a stack's text";
            r.u.stack.hash = s.hash;
            r.u.stack.depth = s.depth;
            r.u.stack.len = s.text_len;
            r.u.stack.text = (const char *)body + sizeof s;
            break;
        }
        case MS_SPOOL_REC_NOTE: {
            ms_spool_note_t n;
            if (h.bytes < sizeof n) {
                bad = "note record too short";
                break;
            }
            memcpy(&n, body, sizeof n);
            if (n.len > h.bytes - sizeof n || n.len > MS_SPOOL_NOTE_MAX)
                bad = "note text longer than its record";
            else if (!text_ok(body + sizeof n, n.len))
                bad = "NUL in a note";
            r.u.note.text = (const char *)body + sizeof n;
            r.u.note.len = n.len;
            break;
        }
        case MS_SPOOL_REC_BLOCKS: {
            ms_spool_blocks_t b;
            if (h.bytes < sizeof b) {
                bad = "blocks record too short";
                break;
            }
            memcpy(&b, body, sizeof b);
            if (b.count > MS_BLOCKS_MAX ||
                sizeof b + (size_t)b.count * sizeof(ms_spool_block_t) > h.bytes) {
                bad = "blocks longer than their record";
                break;
            }
            if (b.t_ns <= 0 || b.rss_kb < 0) {
                bad = "blocks reading out of range";
                break;
            }
            for (uint32_t k = 0; k < b.count && bad == NULL; k++) {
                ms_spool_block_t one;
                memcpy(&one, body + sizeof b + (size_t)k * sizeof one, sizeof one);
                if (one.addr == 0 || one.bytes == 0 || one.bytes > (uint64_t)INT64_MAX ||
                    one.addr > (uint64_t)INT64_MAX || one.resident_kb < -1 || one.t_ns < 0)
                    bad = "block values out of range";
            }
            r.u.blocks.t_ns = b.t_ns;
            r.u.blocks.rss_kb = b.rss_kb;
            r.u.blocks.count = b.count;
            r.u.blocks.untracked = b.untracked;
            r.u.blocks.list = body + sizeof b;
            break;
        }
        default:
            /* A later version's record: skipped by its length, which was checked. */
            off += h.bytes;
            continue;
        }
        if (bad != NULL) {
            parse_reject(res, (uint32_t)(base + off), bad);
        } else {
            rc = fn(arg, &r);
            if (rc != 0) {
                res->consumed = off;
                return rc;
            }
        }
        off += h.bytes;
    }
    res->consumed = off;
    return 0;
}

int ms_spool_read_chunk(ms_spool_t *sp, const ms_spool_chunk_info_t *c, uint32_t from,
                        unsigned char *buf, ms_spool_record_fn fn, void *arg,
                        ms_spool_parse_result_t *res)
{
    const uint64_t start = ms_spool_chunk_offset(&sp->hdr, c->index) +
                           ms_spool_records_at_v(sp->hdr.version, c->seq);
    int rc;

    memset(res, 0, sizeof *res);
    if (c->state != MS_SPOOL_CHUNK_OK || from >= c->readable) {
        res->consumed = 0;
        return 0;
    }
    rc = pread_all(sp->fd, buf, c->readable - from, start + from);
    if (rc == -ENODATA) {
        /* Truncated since the scan: what is left is read at the next one. */
        return 0;
    }
    if (rc != 0)
        return rc;
    return ms_spool_parse(buf, c->readable - from, from, fn, arg, res);
}
