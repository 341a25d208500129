/*
 * The spool reader on crafted pools, the fold's idempotency on a real SQLite file, and the
 * removal rule with real processes.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "memsweep/spool.h"
#include "spool_fold.h"
#include "spool_gc.h"
#include "spool_read.h"
#include "store.h"

#define CHUNK 4096
#define FILE_BYTES (MS_SPOOL_HEADER_BYTES + 4 * CHUNK)

/* A pool being built in memory: header, then chunks of CHUNK bytes. */
typedef struct pool {
    unsigned char b[FILE_BYTES];
    uint32_t used[4];
    char path[64];
} pool_t;

static ms_spool_pool_t *hdr(pool_t *p)
{
    return (ms_spool_pool_t *)p->b;
}

static unsigned char *chunk(pool_t *p, unsigned i)
{
    return p->b + MS_SPOOL_HEADER_BYTES + (size_t)i * CHUNK;
}

static ms_spool_chunk_t *chdr(pool_t *p, unsigned i)
{
    return (ms_spool_chunk_t *)chunk(p, i);
}

static void pool_init(pool_t *p, int64_t run_id)
{
    ms_spool_host_t h;

    memset(p, 0, sizeof *p);
    hdr(p)->magic = MS_SPOOL_MAGIC;
    hdr(p)->version = MS_SPOOL_VERSION;
    hdr(p)->header_bytes = MS_SPOOL_HEADER_BYTES;
    hdr(p)->chunk_bytes = CHUNK;
    hdr(p)->run_id = run_id;
    hdr(p)->created_ns = 1000;
    hdr(p)->interval_ms = 100;
    if (ms_spool_host_self(&h) == 0) {
        hdr(p)->boot_id_hi = h.boot_hi;
        hdr(p)->boot_id_lo = h.boot_lo;
    }
    strcpy(hdr(p)->host, "testhost");
}

/* Claims chunk i for key with seq; seq 0 gets a process header for pid. */
static void claim(pool_t *p, unsigned i, uint64_t key, uint32_t seq, int32_t pid)
{
    ms_spool_chunk_t *c = chdr(p, i);

    c->magic = MS_SPOOL_CHUNK_MAGIC;
    c->seq = seq;
    c->key = key;
    if (seq == 0) {
        ms_spool_proc_t *pr = (ms_spool_proc_t *)(chunk(p, i) + sizeof *c);
        struct stat st;
        pr->pid = pid;
        pr->ppid = 1;
        pr->start_ticks = 12345;
        pr->started_ns = 2000 + i;
        pr->interval_ms = 100;
        pr->heap_kb = -1;
        pr->pidns_ino = stat("/proc/self/ns/pid", &st) == 0 ? (uint64_t)st.st_ino : 0;
    }
    if (hdr(p)->next_chunk < i + 1)
        hdr(p)->next_chunk = i + 1;
}

static ms_spool_proc_t *proc_of(pool_t *p, unsigned i)
{
    return (ms_spool_proc_t *)(chunk(p, i) + sizeof(ms_spool_chunk_t));
}

static void put(pool_t *p, unsigned i, const void *rec, size_t len)
{
    ms_spool_chunk_t *c = chdr(p, i);
    unsigned char *at = chunk(p, i) + ms_spool_records_at(c->seq) + p->used[i];

    assert_true(ms_spool_records_at(c->seq) + p->used[i] + len <= CHUNK);
    memcpy(at, rec, len);
    p->used[i] += (uint32_t)len;
    c->committed = p->used[i];
}

static void put_sample(pool_t *p, unsigned i, uint32_t kind, int64_t t, int64_t rss,
                       uint64_t stack)
{
    ms_spool_sample_t s;

    memset(&s, 0, sizeof s);
    s.h.type = MS_SPOOL_REC_SAMPLE;
    s.h.bytes = sizeof s;
    s.t_ns = t;
    s.rss_kb = rss;
    s.hwm_kb = rss;
    s.heap_kb = -1;
    s.stack_hash = stack;
    s.kind = kind;
    put(p, i, &s, sizeof s);
}

static void put_text(pool_t *p, unsigned i, void *fixed, size_t flen, const char *t, size_t tlen)
{
    unsigned char buf[512];
    const size_t len = (flen + tlen + 7) / 8 * 8;

    memset(buf, 0, sizeof buf);
    memcpy(buf, fixed, flen);
    memcpy(buf + flen, t, tlen);
    ((ms_spool_rec_t *)buf)->bytes = (uint16_t)len;
    put(p, i, buf, len);
}

static void put_stack(pool_t *p, unsigned i, uint64_t hash, const char *text, uint32_t lie)
{
    ms_spool_stack_t s;

    memset(&s, 0, sizeof s);
    s.h.type = MS_SPOOL_REC_STACK;
    s.hash = hash;
    s.depth = 1;
    s.text_len = lie != 0 ? lie : (uint32_t)strlen(text);
    put_text(p, i, &s, sizeof s, text, strlen(text));
}

static void put_ident(pool_t *p, unsigned i, const char *exe, const char *cmd, size_t cmd_len)
{
    ms_spool_ident_t id;
    char buf[256];

    memset(&id, 0, sizeof id);
    id.h.type = MS_SPOOL_REC_IDENT;
    id.exe_len = (uint16_t)strlen(exe);
    id.cmdline_len = (uint16_t)cmd_len;
    memcpy(buf, exe, id.exe_len);
    memcpy(buf + id.exe_len, cmd, cmd_len);
    put_text(p, i, &id, sizeof id, buf, id.exe_len + cmd_len);
}

static void put_unknown(pool_t *p, unsigned i)
{
    unsigned char rec[24] = {0};

    ((ms_spool_rec_t *)rec)->type = 999;
    ((ms_spool_rec_t *)rec)->bytes = sizeof rec;
    put(p, i, rec, sizeof rec);
}

/* Writes the pool's first len bytes to a new temporary file. */
static void save(pool_t *p, size_t len)
{
    int fd;

    if (p->path[0] == '\0') {
        strcpy(p->path, "/tmp/ms-test-spool-XXXXXX");
        fd = mkstemp(p->path);
    } else {
        fd = open(p->path, O_WRONLY | O_TRUNC);
    }
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p->b, len), (ssize_t)len);
    close(fd);
}

/* Counts the records parse hands out. */
typedef struct counts {
    int ident, sample, stack, note;
} counts_t;

static int count_rec(void *arg, const ms_spool_record_t *r)
{
    counts_t *c = arg;

    if (r->type == MS_SPOOL_REC_IDENT)
        c->ident++;
    else if (r->type == MS_SPOOL_REC_SAMPLE)
        c->sample++;
    else if (r->type == MS_SPOOL_REC_STACK)
        c->stack++;
    else if (r->type == MS_SPOOL_REC_NOTE)
        c->note++;
    return 0;
}

static void read_all(ms_spool_t *sp, counts_t *c, ms_spool_parse_result_t *last)
{
    static unsigned char buf[MS_SPOOL_CHUNK_MAX];

    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < sp->n_chunks; i++) {
        ms_spool_parse_result_t res;
        assert_int_equal(ms_spool_read_chunk(sp, &sp->chunks[i], 0, buf, count_rec, c, &res), 0);
        if (res.rejected > 0 || res.stopped)
            *last = res;
    }
}

/* A pool of one process with every record type, an unknown one among them. */
static void build_valid(pool_t *p)
{
    ms_spool_note_t n;

    pool_init(p, 0);
    claim(p, 0, 0xabc, 0, 4242);
    put_ident(p, 0, "/bin/prog", "prog\0-x\0", 8);
    put_sample(p, 0, MS_SPOOL_KIND_START, 5000, 100, 0);
    put_stack(p, 0, 77, "/bin/prog+0x10 main", 0);
    put_unknown(p, 0);
    put_sample(p, 0, MS_SPOOL_KIND_ALLOC, 6000, 300, 77);
    memset(&n, 0, sizeof n);
    n.h.type = MS_SPOOL_REC_NOTE;
    n.len = 4;
    put_text(p, 0, &n, sizeof n, "why?", 4);
    claim(p, 1, 0xabc, 1, 0);
    put_sample(p, 1, MS_SPOOL_KIND_TICK, 7000, 200, 0);
}

static void test_valid_pool(void **state)
{
    pool_t p;
    ms_spool_t *sp = NULL;
    ms_spool_parse_result_t last = {0};
    counts_t c;
    char err[256];

    (void)state;
    build_valid(&p);
    save(&p, FILE_BYTES);
    assert_int_equal(ms_spool_open(p.path, &sp, err, sizeof err), 0);
    assert_int_equal(sp->n_chunks, 2);
    assert_int_equal(sp->n_procs, 1);
    assert_true(sp->procs[0].have_proc);
    assert_int_equal(sp->procs[0].proc.pid, 4242);
    assert_int_equal(sp->procs[0].n_chunks, 2);
    assert_int_equal(sp->n_unwritten, 0);
    read_all(sp, &c, &last);
    assert_int_equal(c.ident, 1);
    assert_int_equal(c.sample, 3);
    assert_int_equal(c.stack, 1);
    assert_int_equal(c.note, 1);
    assert_int_equal(last.rejected, 0); /* the unknown record is skipped, not rejected */
    assert_int_equal(sp->rejected, 0);
    ms_spool_close(sp);
    unlink(p.path);
}

static void test_truncated_mid_record(void **state)
{
    pool_t p;
    ms_spool_t *sp = NULL;
    ms_spool_parse_result_t last = {0};
    counts_t c;
    char err[256];

    (void)state;
    build_valid(&p);
    /* Cut inside the first sample record, after the identity record. */
    save(&p, MS_SPOOL_HEADER_BYTES + ms_spool_records_at(0) + 48 + 20);
    assert_int_equal(ms_spool_open(p.path, &sp, err, sizeof err), 0);
    assert_int_equal(sp->n_chunks, 1);
    assert_int_equal(sp->n_unwritten, 1); /* chunk 1 lies past the end */
    assert_true(sp->chunks[0].readable < sp->chunks[0].committed);
    assert_int_equal(sp->rejected, 1);
    read_all(sp, &c, &last);
    assert_int_equal(c.ident, 1);
    assert_int_equal(c.sample, 0);
    assert_true(last.stopped);
    ms_spool_close(sp);
    unlink(p.path);
}

static void test_committed_beyond_chunk(void **state)
{
    pool_t p;
    ms_spool_t *sp = NULL;
    char err[256];

    (void)state;
    build_valid(&p);
    chdr(&p, 1)->committed = CHUNK;
    save(&p, FILE_BYTES);
    assert_int_equal(ms_spool_open(p.path, &sp, err, sizeof err), 0);
    assert_int_equal(sp->chunks[1].state, MS_SPOOL_CHUNK_BAD);
    assert_int_equal(sp->chunks[0].state, MS_SPOOL_CHUNK_OK);
    assert_int_equal(sp->rejected, 1);
    assert_non_null(strstr(sp->reason, "beyond the chunk"));
    /* Scanning again counts it once. */
    assert_int_equal(ms_spool_scan(sp, err, sizeof err), 0);
    assert_int_equal(sp->rejected, 1);
    ms_spool_close(sp);
    unlink(p.path);
}

static void test_bad_header(void **state)
{
    pool_t p;
    ms_spool_t *sp = NULL;
    char err[256];

    (void)state;
    build_valid(&p);
    hdr(&p)->magic ^= 1;
    save(&p, FILE_BYTES);
    assert_int_equal(ms_spool_open(p.path, &sp, err, sizeof err), -EINVAL);
    assert_null(sp);
    assert_non_null(strstr(err, "bad magic"));
    build_valid(&p);
    hdr(&p)->chunk_bytes = 5000;
    save(&p, FILE_BYTES);
    assert_int_equal(ms_spool_open(p.path, &sp, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "chunk size"));
    build_valid(&p);
    memset(hdr(&p)->host, 'x', sizeof hdr(&p)->host);
    save(&p, FILE_BYTES);
    assert_int_equal(ms_spool_open(p.path, &sp, err, sizeof err), -EINVAL);
    save(&p, 100);
    assert_int_equal(ms_spool_open(p.path, &sp, err, sizeof err), -EINVAL);
    unlink(p.path);
    assert_int_equal(ms_spool_open(p.path, &sp, err, sizeof err), -ENOENT);
}

static void test_unwritten_and_huge_claims(void **state)
{
    pool_t p;
    ms_spool_t *sp = NULL;
    char err[256];

    (void)state;
    build_valid(&p);
    hdr(&p)->next_chunk = 3; /* chunk 2 claimed, its header never written */
    save(&p, FILE_BYTES);
    assert_int_equal(ms_spool_open(p.path, &sp, err, sizeof err), 0);
    assert_int_equal(sp->n_chunks, 3);
    assert_int_equal(sp->chunks[2].state, MS_SPOOL_CHUNK_UNWRITTEN);
    assert_int_equal(sp->n_unwritten, 1);
    assert_int_equal(sp->rejected, 0);
    ms_spool_close(sp);
    /*
     * A chunk whose writer has stored its key and records but not yet its magic, which
     * comes last, is being written: unwritten, not bad, and usable once the magic is there.
     */
    chdr(&p, 1)->magic = 0;
    save(&p, FILE_BYTES);
    assert_int_equal(ms_spool_open(p.path, &sp, err, sizeof err), 0);
    assert_int_equal(sp->chunks[1].state, MS_SPOOL_CHUNK_UNWRITTEN);
    assert_int_equal(sp->rejected, 0);
    chdr(&p, 1)->magic = MS_SPOOL_CHUNK_MAGIC;
    save(&p, FILE_BYTES);
    assert_int_equal(ms_spool_scan(sp, err, sizeof err), 0);
    assert_int_equal(sp->chunks[1].state, MS_SPOOL_CHUNK_OK);
    assert_int_equal(sp->rejected, 0);
    ms_spool_close(sp);
    hdr(&p)->next_chunk = UINT64_MAX;
    save(&p, FILE_BYTES);
    assert_int_equal(ms_spool_open(p.path, &sp, err, sizeof err), 0);
    assert_int_equal(sp->n_chunks, 4); /* bounded by the file */
    assert_int_equal(sp->claimed, MS_SPOOL_CHUNKS_MAX);
    assert_int_equal(sp->n_unwritten, MS_SPOOL_CHUNKS_MAX - 2);
    ms_spool_close(sp);
    unlink(p.path);
}

static void test_stack_length_lies(void **state)
{
    pool_t p;
    ms_spool_t *sp = NULL;
    ms_spool_parse_result_t last = {0};
    counts_t c;
    char err[256];

    (void)state;
    pool_init(&p, 0);
    claim(&p, 0, 0xdef, 0, 4243);
    put_stack(&p, 0, 5, "a+0x1 f", 4000); /* says 4000 bytes of text, holds 7 */
    put_sample(&p, 0, MS_SPOOL_KIND_TICK, 100, 10, 0);
    put_sample(&p, 0, 99, 100, 10, 0); /* an unknown sample kind */
    save(&p, FILE_BYTES);
    assert_int_equal(ms_spool_open(p.path, &sp, err, sizeof err), 0);
    read_all(sp, &c, &last);
    assert_int_equal(c.stack, 0);
    assert_int_equal(c.sample, 1); /* the record after the lie is still read */
    assert_int_equal(last.rejected, 2);
    assert_false(last.stopped);
    assert_non_null(strstr(last.reason, "stack text"));
    ms_spool_close(sp);
    unlink(p.path);
}

static void test_parse_lengths(void **state)
{
    unsigned char buf[64] = {0};
    ms_spool_parse_result_t res;
    counts_t c = {0};

    (void)state;
    ((ms_spool_rec_t *)buf)->type = 999;
    ((ms_spool_rec_t *)buf)->bytes = 12; /* not a multiple of 8 */
    assert_int_equal(ms_spool_parse(buf, sizeof buf, 0, count_rec, &c, &res), 0);
    assert_true(res.stopped);
    assert_int_equal(res.consumed, 0);
    ((ms_spool_rec_t *)buf)->bytes = 72; /* beyond the buffer */
    assert_int_equal(ms_spool_parse(buf, sizeof buf, 0, count_rec, &c, &res), 0);
    assert_true(res.stopped);
    ((ms_spool_rec_t *)buf)->bytes = 0;
    assert_int_equal(ms_spool_parse(buf, sizeof buf, 0, count_rec, &c, &res), 0);
    assert_true(res.stopped);
    ((ms_spool_rec_t *)buf)->bytes = 64;
    assert_int_equal(ms_spool_parse(buf, sizeof buf, 0, count_rec, &c, &res), 0);
    assert_false(res.stopped);
    assert_int_equal(res.consumed, 64);
}

/* Keeps the last BLOCKS record a parse hands out, and its first block. */
typedef struct blocks_seen {
    int n;
    uint32_t count, untracked;
    int64_t t_ns, rss_kb;
    ms_spool_block_t first;
} blocks_seen_t;

static int keep_blocks(void *arg, const ms_spool_record_t *r)
{
    blocks_seen_t *b = arg;

    if (r->type != MS_SPOOL_REC_BLOCKS)
        return 0;
    b->n++;
    b->count = r->u.blocks.count;
    b->untracked = r->u.blocks.untracked;
    b->t_ns = r->u.blocks.t_ns;
    b->rss_kb = r->u.blocks.rss_kb;
    if (r->u.blocks.count > 0)
        memcpy(&b->first, r->u.blocks.list, sizeof b->first);
    return 0;
}

/* A BLOCKS record of count blocks (each of 32 MiB, 20 MiB resident) in buf; its length. */
static size_t make_blocks(unsigned char *buf, uint32_t count, uint32_t claimed)
{
    ms_spool_blocks_t h;
    ms_spool_block_t b;
    const size_t len = sizeof h + (size_t)count * sizeof b;

    memset(&h, 0, sizeof h);
    h.h.type = MS_SPOOL_REC_BLOCKS;
    h.h.bytes = (uint16_t)len;
    h.t_ns = 123456789;
    h.rss_kb = 40960;
    h.count = claimed;
    h.untracked = 3;
    memcpy(buf, &h, sizeof h);
    for (uint32_t i = 0; i < count; i++) {
        b.addr = 0x7f0000000000ULL + ((uint64_t)i << 26);
        b.bytes = 32u << 20;
        b.resident_kb = 20480;
        b.stack_hash = 77;
        b.t_ns = 123;
        memcpy(buf + sizeof h + i * sizeof b, &b, sizeof b);
    }
    return len;
}

/* BLOCKS records: read whole when they check, refused (and skipped) when they do not. */
static void test_parse_blocks(void **state)
{
    static unsigned char buf[sizeof(ms_spool_blocks_t) + (MS_BLOCKS_MAX + 1) * sizeof(ms_spool_block_t)];
    ms_spool_parse_result_t res;
    blocks_seen_t b;
    size_t len;

    (void)state;
    memset(&b, 0, sizeof b);
    len = make_blocks(buf, 2, 2);
    assert_int_equal(ms_spool_parse(buf, len, 0, keep_blocks, &b, &res), 0);
    assert_int_equal(b.n, 1);
    assert_int_equal(res.rejected, 0);
    assert_int_equal(b.count, 2);
    assert_int_equal(b.untracked, 3);
    assert_int_equal(b.rss_kb, 40960);
    assert_int_equal(b.first.bytes, 32u << 20);
    assert_int_equal(b.first.resident_kb, 20480);
    assert_int_equal(b.first.stack_hash, 77);
    /* A count beyond the record's length, or beyond the most a shim lists. */
    memset(&b, 0, sizeof b);
    len = make_blocks(buf, 2, 3);
    assert_int_equal(ms_spool_parse(buf, len, 0, keep_blocks, &b, &res), 0);
    assert_int_equal(b.n, 0);
    assert_int_equal(res.rejected, 1);
    assert_false(res.stopped);
    assert_int_equal(res.consumed, len);
    len = make_blocks(buf, MS_BLOCKS_MAX + 1, MS_BLOCKS_MAX + 1);
    assert_int_equal(ms_spool_parse(buf, len, 0, keep_blocks, &b, &res), 0);
    assert_int_equal(b.n, 0);
    assert_int_equal(res.rejected, 1);
    /* A block without an address, or a resident size below -1. */
    len = make_blocks(buf, 2, 2);
    memset(buf + sizeof(ms_spool_blocks_t) + sizeof(ms_spool_block_t), 0, 8);
    assert_int_equal(ms_spool_parse(buf, len, 0, keep_blocks, &b, &res), 0);
    assert_int_equal(b.n, 0);
    assert_int_equal(res.rejected, 1);
    len = make_blocks(buf, 1, 1);
    {
        const int64_t bad = -2;
        memcpy(buf + sizeof(ms_spool_blocks_t) + offsetof(ms_spool_block_t, resident_kb), &bad,
               sizeof bad);
    }
    assert_int_equal(ms_spool_parse(buf, len, 0, keep_blocks, &b, &res), 0);
    assert_int_equal(b.n, 0);
    assert_int_equal(res.rejected, 1);
    /* An empty list is a list: the process's blocks were all freed. */
    len = make_blocks(buf, 0, 0);
    assert_int_equal(ms_spool_parse(buf, len, 0, keep_blocks, &b, &res), 0);
    assert_int_equal(b.n, 1);
    assert_int_equal(b.count, 0);
}

/* Keeps the samples a parse hands out. */
typedef struct {
    ms_spool_sample_t s[4];
    int n;
} samples_t;

static int keep_sample(void *arg, const ms_spool_record_t *r)
{
    samples_t *k = arg;

    if (r->type == MS_SPOOL_REC_SAMPLE && k->n < 4)
        k->s[k->n++] = r->u.sample;
    return 0;
}

/*
 * A sample of version 1 (56 bytes) reads with its breakdown and PSS not reported (-1);
 * one of version 2 keeps them; the kinds of version 2 are taken, an unknown one and a
 * record shorter than version 1's are rejected.
 */
static void test_sample_versions(void **state)
{
    unsigned char buf[512];
    ms_spool_sample_t s;
    ms_spool_parse_result_t res;
    samples_t k = {0};
    size_t len = 0;

    (void)state;
    memset(buf, 0, sizeof buf);
    memset(&s, 0, sizeof s);
    s.h.type = MS_SPOOL_REC_SAMPLE;
    s.h.bytes = MS_SPOOL_SAMPLE_BYTES_V1;
    s.t_ns = 1;
    s.rss_kb = 100;
    s.hwm_kb = 120;
    s.heap_kb = -1;
    s.kind = MS_SPOOL_KIND_TICK;
    s.anon_kb = 7; /* past the record's 56 bytes: not read */
    memcpy(buf + len, &s, MS_SPOOL_SAMPLE_BYTES_V1);
    len += MS_SPOOL_SAMPLE_BYTES_V1;
    s.h.bytes = sizeof s;
    s.kind = MS_SPOOL_KIND_GROWTH;
    s.anon_kb = 60;
    s.file_kb = 30;
    s.shmem_kb = 10;
    s.pss_kb = 80;
    s.pss_anon_kb = 45;
    s.pss_shmem_kb = 5;
    memcpy(buf + len, &s, sizeof s);
    len += sizeof s;
    s.kind = MS_SPOOL_KIND_EXEC;
    s.pss_kb = s.pss_anon_kb = s.pss_shmem_kb = -1;
    memcpy(buf + len, &s, sizeof s);
    len += sizeof s;
    assert_int_equal(ms_spool_parse(buf, len, 0, keep_sample, &k, &res), 0);
    assert_int_equal(res.rejected, 0);
    assert_int_equal(k.n, 3);
    assert_int_equal(k.s[0].rss_kb, 100);
    assert_int_equal(k.s[0].anon_kb, -1);
    assert_int_equal(k.s[0].file_kb, -1);
    assert_int_equal(k.s[0].shmem_kb, -1);
    assert_int_equal(k.s[0].pss_kb, -1);
    assert_int_equal(k.s[0].pss_anon_kb, -1);
    assert_int_equal(k.s[1].kind, MS_SPOOL_KIND_GROWTH);
    assert_int_equal(k.s[1].anon_kb, 60);
    assert_int_equal(k.s[1].file_kb, 30);
    assert_int_equal(k.s[1].shmem_kb, 10);
    assert_int_equal(k.s[1].pss_kb, 80);
    assert_int_equal(k.s[1].pss_anon_kb, 45);
    assert_int_equal(k.s[1].pss_shmem_kb, 5);
    assert_int_equal(k.s[2].kind, MS_SPOOL_KIND_EXEC);
    assert_int_equal(k.s[2].pss_kb, -1);

    /* A kind no version has, and a record shorter than version 1's. */
    k.n = 0;
    s.kind = MS_SPOOL_KIND_EXEC + 1;
    memcpy(buf, &s, sizeof s);
    assert_int_equal(ms_spool_parse(buf, sizeof s, 0, keep_sample, &k, &res), 0);
    assert_int_equal(res.rejected, 1);
    assert_int_equal(k.n, 0);
    s.kind = MS_SPOOL_KIND_TICK;
    s.h.bytes = MS_SPOOL_SAMPLE_BYTES_V1 - 8;
    memcpy(buf, &s, sizeof s);
    assert_int_equal(ms_spool_parse(buf, s.h.bytes, 0, keep_sample, &k, &res), 0);
    assert_int_equal(res.rejected, 1);
    assert_int_equal(k.n, 0);
    /* A breakdown below -1 is out of range. */
    s.h.bytes = sizeof s;
    s.pss_anon_kb = -2;
    memcpy(buf, &s, sizeof s);
    assert_int_equal(ms_spool_parse(buf, sizeof s, 0, keep_sample, &k, &res), 0);
    assert_int_equal(res.rejected, 1);
    assert_int_equal(k.n, 0);
}

static void test_parsers(void **state)
{
    static const char stat1[] = "123 (a) b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 777 19";
    unsigned long long ticks = 0;
    uint64_t hi = 0, lo = 0;

    (void)state;
    assert_int_equal(ms_spool_parse_start_ticks(stat1, sizeof stat1 - 1, &ticks), 0);
    assert_int_equal(ticks, 777);
    assert_int_equal(ms_spool_parse_start_ticks("12 (x) S 1", 10, &ticks), -EINVAL);
    assert_int_equal(ms_spool_parse_boot_id("0123456789abcdef-0011223344556677\n", 34, &hi, &lo), 0);
    assert_true(hi == 0x0123456789abcdefULL);
    assert_true(lo == 0x0011223344556677ULL);
    assert_int_equal(ms_spool_parse_boot_id("0123", 4, &hi, &lo), -EINVAL);
    assert_int_equal(ms_spool_parse_boot_id("zz23456789abcdef0011223344556677", 32, &hi, &lo), -EINVAL);
}

/* A database file for the fold tests. */
static sqlite3 *new_db(char *path)
{
    sqlite3 *db = NULL;
    char err[256];
    int fd;

    strcpy(path, "/tmp/ms-test-fold-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(ms_store_open_write(path, MS_STORE_CREATE, &db, err, sizeof err), 0);
    return db;
}

static long long one(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    long long v = -1;

    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Every row the fold writes, as one comparable string. */
static void fingerprint(sqlite3 *db, char *out, size_t len)
{
    snprintf(out, len, "%lld %lld %lld %lld %lld %lld %lld %lld",
             one(db, "SELECT count(*) FROM samples"), one(db, "SELECT sum(rss_kb) FROM samples"),
             one(db, "SELECT count(*) FROM processes"), one(db, "SELECT count(*) FROM runs"),
             one(db, "SELECT count(*) FROM stacks"), one(db, "SELECT count(stack_id) FROM samples"),
             one(db, "SELECT count(*) FROM samples WHERE kind = 'end'"),
             one(db, "SELECT count(*) FROM sweeps"));
}

static int fold_file(sqlite3 *db, const char *path, uint64_t fail_after, ms_fold_stats_t *st)
{
    ms_spool_t *sp = NULL;
    ms_fold_t *f = NULL;
    char err[256];
    int rc;

    assert_int_equal(ms_spool_open(path, &sp, err, sizeof err), 0);
    assert_int_equal(ms_fold_open(db, "test.db", 0, &f, err, sizeof err), 0);
    ms_fold_fail_after(f, fail_after);
    rc = ms_fold_begin(f, err, sizeof err);
    if (rc == 0)
        rc = ms_fold_pool(f, sp, st, err, sizeof err);
    if (rc == 0)
        rc = ms_fold_commit(f, err, sizeof err);
    else
        ms_fold_rollback(f);
    ms_fold_close(f);
    ms_spool_close(sp);
    return rc;
}

static void finish(pool_t *p)
{
    ms_spool_proc_t *pr = proc_of(p, 0);

    pr->end_t_ns = 9000;
    pr->end_rss_kb = 150;
    pr->end_hwm_kb = 300;
    pr->end_heap_kb = -1;
    pr->end_state = MS_SPOOL_END_DONE;
}

static void test_fold_idempotent(void **state)
{
    pool_t p;
    char dbpath[64], a[256], b[256];
    ms_fold_stats_t st;
    sqlite3 *db;

    (void)state;
    build_valid(&p);
    save(&p, FILE_BYTES);
    db = new_db(dbpath);
    assert_int_equal(fold_file(db, p.path, 0, &st), 0);
    assert_true(st.complete);
    assert_int_equal(st.rejected, 0);
    fingerprint(db, a, sizeof a);
    assert_string_equal(a, "3 600 1 1 1 1 0 1");
    assert_int_equal(one(db, "SELECT count(*) FROM processes WHERE cmdline = 'prog -x'"), 1);
    assert_int_equal(one(db, "SELECT count(*) FROM processes WHERE note = 'why?'"), 1);
    assert_int_equal(one(db, "SELECT count(*) FROM runs WHERE command = 'prog -x'"), 1);
    /* Folding the same bytes again writes nothing. */
    assert_int_equal(fold_file(db, p.path, 0, &st), 0);
    fingerprint(db, b, sizeof b);
    assert_string_equal(a, b);
    /* Records added since, and the end: exactly those rows more. */
    put_sample(&p, 1, MS_SPOOL_KIND_TICK, 8000, 250, 0);
    finish(&p);
    save(&p, FILE_BYTES);
    assert_int_equal(fold_file(db, p.path, 0, &st), 0);
    fingerprint(db, b, sizeof b);
    assert_string_equal(b, "5 1000 1 1 1 1 1 1");
    assert_int_equal(one(db, "SELECT count(*) FROM runs WHERE status = 'ok' AND finished_ns = 9000"), 1);
    assert_int_equal(fold_file(db, p.path, 0, &st), 0);
    fingerprint(db, a, sizeof a);
    assert_string_equal(a, b);
    sqlite3_close(db);
    unlink(dbpath);
    unlink(p.path);
}

/*
 * An end whose figures the shim could not read (-1: no descriptor left, /proc unmounted)
 * still ends the process and its run, with NULL figures and no end sample; an end whose
 * figures do not check yet is being published and is read again, never a bad chunk.
 */
/* One fold of sp with f, committed (commit set) or rolled back. */
static void fold_once(ms_fold_t *f, ms_spool_t *sp, int commit)
{
    ms_fold_stats_t st;
    char err[256];

    assert_int_equal(ms_spool_scan(sp, err, sizeof err), 0);
    assert_int_equal(ms_fold_begin(f, err, sizeof err), 0);
    assert_int_equal(ms_fold_pool(f, sp, &st, err, sizeof err), 0);
    if (commit)
        assert_int_equal(ms_fold_commit(f, err, sizeof err), 0);
    else
        ms_fold_rollback(f);
}

/*
 * An image that ended over a second ago and is folded whole is settled once the fold's
 * transaction commits (not when it is rolled back): a scan given the predicate no longer
 * reads its chunks and the fold no longer folds it. One that ended just now is not.
 */
static void test_fold_settles(void **state)
{
    pool_t p;
    char dbpath[64], err[256], a[256], b[256];
    ms_spool_t *sp = NULL;
    ms_fold_t *f = NULL;
    struct timespec now;
    sqlite3 *db;

    (void)state;
    build_valid(&p);
    finish(&p); /* ended at 9000 ns after the epoch: long ago */
    claim(&p, 2, 0xdef, 0, 4343);
    put_ident(&p, 2, "/bin/late", "late\0", 5);
    clock_gettime(CLOCK_REALTIME, &now);
    proc_of(&p, 2)->end_t_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    proc_of(&p, 2)->end_rss_kb = 100;
    proc_of(&p, 2)->end_hwm_kb = 100;
    proc_of(&p, 2)->end_heap_kb = -1;
    proc_of(&p, 2)->end_state = MS_SPOOL_END_DONE;
    save(&p, FILE_BYTES);
    db = new_db(dbpath);
    assert_int_equal(ms_spool_open(p.path, &sp, err, sizeof err), 0);
    assert_int_equal(ms_fold_open(db, "test.db", 0, &f, err, sizeof err), 0);
    ms_spool_set_settled(sp, ms_fold_settled, f);

    fold_once(f, sp, 0);
    assert_false(ms_fold_settled(f, 0xabc));
    assert_int_equal(one(db, "SELECT count(*) FROM processes"), 0);
    fold_once(f, sp, 1);
    assert_true(ms_fold_settled(f, 0xabc));
    assert_false(ms_fold_settled(f, 0xdef));
    fingerprint(db, a, sizeof a);
    assert_int_equal(one(db, "SELECT count(*) FROM processes"), 2);

    /* Bytes changed under a settled image are not read again, nor folded. */
    put_sample(&p, 1, MS_SPOOL_KIND_TICK, 8500, 999, 0);
    save(&p, FILE_BYTES);
    fold_once(f, sp, 1);
    assert_int_equal(sp->settled_skipped, 2);
    fingerprint(db, b, sizeof b);
    assert_string_equal(a, b);
    /* Without the predicate every chunk is read again, as a reader that does not fold. */
    ms_spool_set_settled(sp, NULL, NULL);
    assert_int_equal(ms_spool_scan(sp, err, sizeof err), 0);
    assert_int_equal(sp->settled_skipped, 0);
    assert_int_equal(sp->chunks[1].committed, p.used[1]);

    ms_fold_close(f);
    ms_spool_close(sp);
    sqlite3_close(db);
    unlink(p.path);
    unlink(dbpath);
}

static void test_fold_end_without_figures(void **state)
{
    pool_t p;
    char dbpath[64], got[256];
    ms_fold_stats_t st;
    ms_spool_proc_t *pr;
    sqlite3 *db;

    (void)state;
    build_valid(&p);
    pr = proc_of(&p, 0);
    /* DONE already stored, the figures not yet: not ended, nothing rejected. */
    pr->end_state = MS_SPOOL_END_DONE;
    pr->end_t_ns = 0;
    pr->end_rss_kb = -7;
    save(&p, FILE_BYTES);
    db = new_db(dbpath);
    assert_int_equal(fold_file(db, p.path, 0, &st), 0);
    assert_int_equal(st.rejected, 0);
    assert_int_equal(one(db, "SELECT count(*) FROM processes WHERE ended_ns IS NULL"), 1);
    assert_int_equal(one(db, "SELECT count(*) FROM runs WHERE finished_ns IS NULL"), 1);
    /* The figures published: the end as the shim writes it without /proc. */
    pr->end_t_ns = 9000;
    pr->end_rss_kb = -1;
    pr->end_hwm_kb = -1;
    pr->end_heap_kb = -1;
    save(&p, FILE_BYTES);
    assert_int_equal(fold_file(db, p.path, 0, &st), 0);
    assert_int_equal(st.rejected, 0);
    assert_int_equal(one(db, "SELECT count(*) FROM processes WHERE ended_ns = 9000"
                             " AND hwm_kb IS NULL AND end_rss_kb IS NULL"), 1);
    assert_int_equal(one(db, "SELECT count(*) FROM runs WHERE status = 'ok' AND finished_ns = 9000"), 1);
    fingerprint(db, got, sizeof got);
    assert_string_equal(got, "3 600 1 1 1 1 0 1"); /* every record, no end sample */
    /* Other negative figures are out of range. */
    pr->end_rss_kb = -2;
    assert_int_equal(ms_spool_check_end(pr), -EINVAL);
    pr->end_rss_kb = -1;
    pr->end_t_ns = 0;
    assert_int_equal(ms_spool_check_end(pr), -EINVAL);
    sqlite3_close(db);
    unlink(dbpath);
    unlink(p.path);
}

static void test_fold_interrupted(void **state)
{
    pool_t p;
    char dbpath[64], ref[256], got[256];
    ms_fold_stats_t st;
    sqlite3 *db;
    int failures = 0;

    (void)state;
    build_valid(&p);
    finish(&p);
    save(&p, FILE_BYTES);
    db = new_db(dbpath);
    assert_int_equal(fold_file(db, p.path, 0, &st), 0);
    fingerprint(db, ref, sizeof ref);
    sqlite3_close(db);
    unlink(dbpath);
    /* A failure at every statement in turn, then a fold that succeeds. */
    for (uint64_t k = 1; k < 60; k++) {
        db = new_db(dbpath);
        if (fold_file(db, p.path, k, &st) != 0)
            failures++;
        assert_int_equal(fold_file(db, p.path, 0, &st), 0);
        fingerprint(db, got, sizeof got);
        assert_string_equal(ref, got);
        sqlite3_close(db);
        unlink(dbpath);
    }
    assert_true(failures > 10); /* the injection hit statements of the fold */
    unlink(p.path);
}

static void test_fold_foreign_run(void **state)
{
    pool_t p;
    char dbpath[64];
    ms_fold_stats_t st;
    sqlite3 *db;

    (void)state;
    build_valid(&p);
    hdr(&p)->run_id = 42; /* no such run */
    save(&p, FILE_BYTES);
    db = new_db(dbpath);
    assert_int_equal(fold_file(db, p.path, 0, &st), -ESRCH);
    assert_int_equal(one(db, "SELECT count(*) FROM samples"), 0);
    sqlite3_close(db);
    unlink(dbpath);
    unlink(p.path);
}

static void test_removal_rule(void **state)
{
    pool_t p;
    ms_spool_t *sp = NULL;
    ms_spool_host_t h;
    char err[256], why[256];
    pid_t child;

    (void)state;
    assert_int_equal(ms_spool_host_self(&h), 0);
    /* A process that has ended and been reaped. */
    child = fork();
    assert_true(child >= 0);
    if (child == 0)
        _exit(0);
    assert_int_equal(waitpid(child, NULL, 0), child);
    build_valid(&p);
    proc_of(&p, 0)->pid = child;
    save(&p, FILE_BYTES);
    assert_int_equal(ms_spool_open(p.path, &sp, err, sizeof err), 0);
    assert_int_equal(ms_spool_removable(sp, &h, 1, why, sizeof why), 1);
    assert_int_equal(ms_spool_removable(sp, &h, 0, why, sizeof why), 0);
    /* Confirmed by a later scan only when no chunk was claimed since and all is folded. */
    assert_int_equal(ms_spool_removal_confirmed(sp, &h, sp->claimed, 1, why, sizeof why), 1);
    assert_int_equal(ms_spool_removal_confirmed(sp, &h, sp->claimed, 0, why, sizeof why), 0);
    assert_int_equal(ms_spool_removal_confirmed(sp, &h, sp->claimed - 1, 1, why, sizeof why), 0);
    assert_non_null(strstr(why, "claimed since"));
    ms_spool_close(sp);

    /* This process, with its real start time: alive. */
    {
        char buf[1024];
        unsigned long long ticks = 0;
        int fd = open("/proc/self/stat", O_RDONLY);
        ssize_t n = read(fd, buf, sizeof buf);
        close(fd);
        assert_int_equal(ms_spool_parse_start_ticks(buf, (size_t)n, &ticks), 0);
        proc_of(&p, 0)->pid = getpid();
        proc_of(&p, 0)->start_ticks = ticks;
        save(&p, FILE_BYTES);
        assert_int_equal(ms_spool_open(p.path, &sp, err, sizeof err), 0);
        assert_int_equal(ms_spool_removable(sp, &h, 1, why, sizeof why), 0);
        assert_non_null(strstr(why, "still running"));
        ms_spool_close(sp);
        /* The same pid with another start time is another process: gone. */
        proc_of(&p, 0)->start_ticks = ticks + 1;
        save(&p, FILE_BYTES);
        assert_int_equal(ms_spool_open(p.path, &sp, err, sizeof err), 0);
        assert_int_equal(ms_spool_removable(sp, &h, 1, why, sizeof why), 1);
        ms_spool_close(sp);
    }
    /* Another machine's pool, another namespace's process: undecidable, kept. */
    proc_of(&p, 0)->pid = child;
    hdr(&p)->boot_id_lo ^= 1;
    save(&p, FILE_BYTES);
    assert_int_equal(ms_spool_open(p.path, &sp, err, sizeof err), 0);
    assert_int_equal(ms_spool_removable(sp, &h, 1, why, sizeof why), 0);
    ms_spool_close(sp);
    hdr(&p)->boot_id_lo ^= 1;
    proc_of(&p, 0)->pidns_ino ^= 1;
    save(&p, FILE_BYTES);
    assert_int_equal(ms_spool_open(p.path, &sp, err, sizeof err), 0);
    assert_int_equal(ms_spool_removable(sp, &h, 1, why, sizeof why), 0);
    assert_non_null(strstr(why, "namespace"));
    ms_spool_close(sp);
    /* A chunk claimed but never written, in a file that just changed: kept. */
    proc_of(&p, 0)->pidns_ino ^= 1;
    hdr(&p)->next_chunk = 3;
    save(&p, FILE_BYTES);
    assert_int_equal(ms_spool_open(p.path, &sp, err, sizeof err), 0);
    assert_int_equal(ms_spool_removable(sp, &h, 1, why, sizeof why), 0);
    assert_non_null(strstr(why, "not written"));
    ms_spool_close(sp);
    unlink(p.path);
}

static unsigned long long own_start_ticks(void)
{
    char buf[1024];
    unsigned long long ticks = 0;
    const int fd = open("/proc/self/stat", O_RDONLY);
    const ssize_t n = read(fd, buf, sizeof buf);

    close(fd);
    assert_int_equal(ms_spool_parse_start_ticks(buf, (size_t)n, &ticks), 0);
    return ticks;
}

/*
 * Only "no such process" or another start time says a process is gone: a failure to look
 * (no descriptor left) or a header without a start time cannot decide, and keeps its pool.
 */
static void test_pid_alive_undecided(void **state)
{
    const unsigned long long ticks = own_start_ticks();
    pid_t child;
    int status;

    (void)state;
    assert_int_equal(ms_spool_pid_alive(getpid(), ticks), 1);
    assert_int_equal(ms_spool_pid_alive(getpid(), ticks + 1), 0);
    assert_true(ms_spool_pid_alive(getpid(), 0) < 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0)
        _exit(0);
    assert_int_equal(waitpid(child, NULL, 0), child);
    assert_int_equal(ms_spool_pid_alive(child, ticks), 0);
    /* With every descriptor in use, a live process is not taken for gone. */
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        const pid_t parent = getppid();
        const unsigned long long pticks = ticks; /* the parent's, read before the fork */
        struct rlimit rl = {.rlim_cur = 16, .rlim_max = 16};
        int rc;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            _exit(10);
        while (open("/dev/null", O_RDONLY) >= 0)
            ;
        if (errno != EMFILE)
            _exit(11);
        rc = ms_spool_pid_alive(parent, pticks);
        _exit(rc == -EMFILE ? 0 : rc == 0 ? 12 : 13);
    }
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_pool),
        cmocka_unit_test(test_truncated_mid_record),
        cmocka_unit_test(test_committed_beyond_chunk),
        cmocka_unit_test(test_bad_header),
        cmocka_unit_test(test_unwritten_and_huge_claims),
        cmocka_unit_test(test_stack_length_lies),
        cmocka_unit_test(test_parse_lengths),
        cmocka_unit_test(test_parse_blocks),
        cmocka_unit_test(test_sample_versions),
        cmocka_unit_test(test_parsers),
        cmocka_unit_test(test_fold_idempotent),
        cmocka_unit_test(test_fold_interrupted),
        cmocka_unit_test(test_fold_end_without_figures),
        cmocka_unit_test(test_fold_settles),
        cmocka_unit_test(test_fold_foreign_run),
        cmocka_unit_test(test_removal_rule),
        cmocka_unit_test(test_pid_alive_undecided),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
