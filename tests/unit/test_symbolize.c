/*
 * Unit tests for analyzer/symbolize.c: the frame parser on good and bad text, and the
 * symbolizer on frames that two builds of tests/workloads/ms_symtarget.c print of
 * themselves (a position-independent one with debug information, and one that is neither),
 * on a stripped system program, and on files that are missing, replaced, not ELF,
 * truncated or damaged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "symbolize.h"

#define LEAF "ms_symtarget_leaf"

/* ---- the parser --------------------------------------------------------------------- */

static int parse(const char *line, ms_frame_t *f)
{
    return ms_frame_parse(line, strlen(line), f);
}

static void assert_span(const char *p, size_t len, const char *want)
{
    assert_non_null(p);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(p, want, len);
}

static void test_parse_plain(void **state)
{
    ms_frame_t f;
    const char *const line =
        "/usr/lib/x86_64-linux-gnu/libc.so.6+0x271ca __libc_start_call_main";
    (void)state;
    assert_int_equal(parse(line, &f), 0);
    assert_span(f.module, f.module_len, "/usr/lib/x86_64-linux-gnu/libc.so.6");
    assert_int_equal(f.offset, 0x271ca);
    assert_span(f.symbol, f.symbol_len, "__libc_start_call_main");
    assert_null(f.build_id);
    assert_int_equal(f.build_id_len, 0);
}

static void test_parse_spaces_and_build_id(void **state)
{
    ms_frame_t f;
    (void)state;
    /* The module holds a space and a "+0x1 " of its own: the last mark separates. */
    assert_int_equal(parse("/tmp/my dir/a+0x1 b/lib x.so+0x1F2 ? 0123abcdef", &f), 0);
    assert_span(f.module, f.module_len, "/tmp/my dir/a+0x1 b/lib x.so");
    assert_int_equal(f.offset, 0x1f2);
    assert_null(f.symbol);
    assert_span(f.build_id, f.build_id_len, "0123abcdef");

    assert_int_equal(parse("/p/prog (deleted)+0x10 main", &f), 0);
    assert_span(f.module, f.module_len, "/p/prog (deleted)");
    assert_span(f.symbol, f.symbol_len, "main");
    assert_null(f.build_id);
}

static void test_parse_unknown_module(void **state)
{
    ms_frame_t f;
    (void)state;
    assert_int_equal(parse("?+0x10 ?", &f), 0);
    assert_null(f.module);
    assert_int_equal(f.module_len, 0);
    assert_int_equal(f.offset, 0x10);
    assert_null(f.symbol);
    assert_null(f.build_id);
}

static void test_parse_offset_limits(void **state)
{
    ms_frame_t f;
    (void)state;
    assert_int_equal(parse("/a+0x0000000000ffffffffffffffff f", &f), 0);
    assert_true(f.offset == UINT64_MAX);
    assert_int_equal(parse("/a+0x0 f", &f), 0);
    assert_int_equal(f.offset, 0);
    assert_int_equal(parse("/a+0x1ffffffffffffffff f", &f), -EINVAL); /* 17 digits */
}

static void test_parse_garbage(void **state)
{
    static const char *const bad[] = {
        "", "?", "main", "/a+0x10", "/a+0x10 ", "+0x10 sym", "/a+0x sym", "/a+0xg sym",
        "/a 0x10 sym", "/a+10 sym", "/a+0x10  sym", "/a+0x10 sym ", "/a+0x10 sym abc",
        "/a+0x10 sym 0g", "/a+0x10 sym 00 11", "/a+0x10 sym\n", "/a+0x10 sym\n/b+0x1 s",
    };
    ms_frame_t f;
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&f, 0xa5, sizeof f);
        if (parse(bad[i], &f) != -EINVAL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_null(f.module);
        assert_null(f.symbol);
    }
    /* A NUL inside the length is not a frame either. */
    assert_int_equal(ms_frame_parse("/a+0x10\0 sym", 12, &f), -EINVAL);
    assert_int_equal(ms_frame_parse(NULL, 0, &f), -EINVAL);
    assert_int_equal(ms_frame_parse("/a+0x1 s", 8, NULL), -EINVAL);
}

static void test_parse_stops_at_len(void **state)
{
    /* The bytes after len would make other frames; only len counts. */
    const char text[] = "/a+0x10 sym 0011";
    ms_frame_t f;
    (void)state;
    assert_int_equal(ms_frame_parse(text, 7, &f), -EINVAL);  /* "/a+0x10" */
    assert_int_equal(ms_frame_parse(text, 9, &f), 0);        /* "/a+0x10 s" */
    assert_span(f.symbol, f.symbol_len, "s");
    assert_int_equal(ms_frame_parse(text, 14, &f), 0);       /* "... sym 00" */
    assert_span(f.build_id, f.build_id_len, "00");
    assert_int_equal(ms_frame_parse(text, 13, &f), -EINVAL); /* "... sym 0" */
}

/*
 * Random text, made mostly of the pieces a frame is made of so that some of it parses:
 * whatever is accepted must lie inside the line.
 */
static void test_parse_random_bytes(void **state)
{
    static const char *const pieces[] = {"/m", "+0x", "1f", " ", "?", "s", "ab", "\n", "0"};
    const size_t n_pieces = sizeof pieces / sizeof pieces[0];
    unsigned seed = 12345;
    char line[64];
    ms_frame_t f;
    size_t accepted = 0, with_id = 0;
    (void)state;
    for (int round = 0; round < 200000; round++) {
        const size_t want = (size_t)(rand_r(&seed) % (int)sizeof line);
        size_t len = 0;
        while (len < want) {
            const size_t pick = (size_t)rand_r(&seed) % (n_pieces + 1);
            const char *p = pick < n_pieces ? pieces[pick] : NULL;
            if (p == NULL)
                line[len++] = (char)rand_r(&seed); /* any byte, NUL included */
            else
                for (; *p != '\0' && len < want; p++)
                    line[len++] = *p;
        }
        if (ms_frame_parse(line, len, &f) != 0)
            continue;
        accepted++;
        with_id += f.build_id != NULL;
        if (f.module != NULL)
            assert_true(f.module == line && f.module_len > 0 && f.module_len < len);
        assert_true(f.symbol == NULL
                    || (f.symbol > line && f.symbol + f.symbol_len <= line + len));
        assert_true(f.build_id == NULL
                    || (f.build_id > line && f.build_id + f.build_id_len == line + len));
        assert_null(memchr(line, '\0', len));
    }
    /* Frames, some with a build-id, do come out of the mix: the checks were exercised. */
    assert_true(accepted > 100);
    assert_true(with_id > 10);
}

/* ---- the programs under test -------------------------------------------------------- */

typedef struct frame_copy {
    char module[4096];
    char build_id[129];
    uint64_t offset;
} frame_copy_t;

/*
 * Runs path and parses the frames it prints: main's, the static function's, and the
 * inlined function's inside ms_symtarget_outer.
 */
static void run_target(const char *path, frame_copy_t frames[3])
{
    char text[3][8192];
    int pipefd[2];
    int status = 0;
    pid_t pid;
    FILE *in;

    assert_int_equal(pipe(pipefd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pipefd[1], STDOUT_FILENO);
        close(pipefd[0]);
        close(pipefd[1]);
        execl(path, path, (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    in = fdopen(pipefd[0], "r");
    assert_non_null(in);
    for (int i = 0; i < 3; i++) {
        ms_frame_t f;
        size_t len;
        assert_non_null(fgets(text[i], sizeof text[i], in));
        len = strcspn(text[i], "\n");
        assert_int_equal(ms_frame_parse(text[i], len, &f), 0);
        assert_non_null(f.module);
        assert_true(f.module_len < sizeof frames[i].module);
        memcpy(frames[i].module, f.module, f.module_len);
        frames[i].module[f.module_len] = '\0';
        /* Neither function is exported, so dladdr named neither. */
        assert_null(f.symbol);
        assert_non_null(f.build_id); /* the toolchain writes one; the tests need it */
        assert_true(f.build_id_len < sizeof frames[i].build_id);
        memcpy(frames[i].build_id, f.build_id, f.build_id_len);
        frames[i].build_id[f.build_id_len] = '\0';
        frames[i].offset = f.offset;
    }
    fclose(in);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* The ELF type of path and the value and size of its .symtab symbol name. */
static void elf_symbol(const char *path, const char *name, int *type, uint64_t *value,
                       uint64_t *size)
{
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    Elf_Scn *scn = NULL;
    GElf_Ehdr ehdr;
    Elf *elf;
    int found = 0;

    assert_true(fd >= 0);
    assert_int_not_equal(elf_version(EV_CURRENT), EV_NONE);
    elf = elf_begin(fd, ELF_C_READ, NULL);
    assert_non_null(elf);
    assert_non_null(gelf_getehdr(elf, &ehdr));
    *type = ehdr.e_type;
    while (!found && (scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr shdr;
        Elf_Data *data;
        assert_non_null(gelf_getshdr(scn, &shdr));
        if (shdr.sh_type != SHT_SYMTAB || shdr.sh_entsize == 0)
            continue;
        data = elf_getdata(scn, NULL);
        assert_non_null(data);
        for (size_t i = 0; i < shdr.sh_size / shdr.sh_entsize; i++) {
            GElf_Sym sym;
            const char *n;
            assert_non_null(gelf_getsym(data, (int)i, &sym));
            n = elf_strptr(elf, shdr.sh_link, sym.st_name);
            if (n != NULL && strcmp(n, name) == 0 && GELF_ST_TYPE(sym.st_info) == STT_FUNC) {
                *value = sym.st_value;
                *size = sym.st_size;
                found = 1;
                break;
            }
        }
    }
    elf_end(elf);
    close(fd);
    if (!found)
        fail_msg("%s: no function %s in .symtab", path, name);
}

/* The line of ms_symtarget.c that holds the marker comment "symtarget: <what>". */
static int marker_line(const char *what)
{
    char want[64], buf[512];
    FILE *src = fopen(MS_TEST_SYMTARGET_SRC, "r");
    int line = 0, found = 0;

    assert_non_null(src);
    snprintf(want, sizeof want, "/* symtarget: %s */", what);
    while (fgets(buf, sizeof buf, src) != NULL) {
        line++;
        if (strstr(buf, want) != NULL) {
            found = line;
            break;
        }
    }
    fclose(src);
    if (found == 0)
        fail_msg("%s: no marker \"%s\"", MS_TEST_SYMTARGET_SRC, want);
    return found;
}

static int ends_with(const char *s, const char *suffix)
{
    const size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ---- symbolizing the programs ------------------------------------------------------- */

static void test_pie_with_debug_info(void **state)
{
    frame_copy_t fr[3];
    uint64_t value = 0, size = 0;
    ms_symbolizer_t *s = ms_symbolizer_new();
    ms_sym_t sym;
    int type = 0;
    (void)state;

    assert_non_null(s);
    run_target(MS_TEST_SYMTARGET_PIE, fr);
    elf_symbol(fr[1].module, LEAF, &type, &value, &size);
    assert_int_equal(type, ET_DYN);
    assert_true(fr[1].offset >= value && fr[1].offset < value + size);

    assert_int_equal(ms_symbolize(s, fr[1].module, fr[1].build_id, fr[1].offset, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_OK);
    assert_string_equal(sym.function, LEAF);
    assert_string_equal(sym.symbol, LEAF);
    assert_false(sym.inlined);
    assert_int_equal(sym.symbol_offset, fr[1].offset - value);
    assert_non_null(sym.file);
    assert_true(ends_with(sym.file, "/ms_symtarget.c"));
    assert_true(sym.line >= marker_line("begin") && sym.line <= marker_line("end"));
    assert_int_equal(sym.line, marker_line("call"));

    /* main is a global function, but not exported either. */
    assert_int_equal(ms_symbolize(s, fr[0].module, fr[0].build_id, fr[0].offset, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_OK);
    assert_string_equal(sym.function, "main");
    assert_int_equal(sym.line, marker_line("main call"));

    /*
     * Inlined code: named after the function it was written in, at its own line, within
     * the symbol of the function it was inlined into.
     */
    elf_symbol(fr[2].module, "ms_symtarget_outer", &type, &value, &size);
    assert_true(fr[2].offset >= value && fr[2].offset < value + size);
    assert_int_equal(ms_symbolize(s, fr[2].module, fr[2].build_id, fr[2].offset, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_OK);
    assert_string_equal(sym.function, "ms_symtarget_inlined");
    assert_true(sym.inlined);
    assert_string_equal(sym.symbol, "ms_symtarget_outer");
    assert_int_equal(sym.symbol_offset, fr[2].offset - value);
    assert_int_equal(sym.line, marker_line("inlined call"));

    /* Without a recorded build-id the file is trusted. */
    assert_int_equal(ms_symbolize(s, fr[1].module, NULL, fr[1].offset, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_OK);
    assert_string_equal(sym.function, LEAF);
    ms_symbolizer_free(s);
}

static void test_non_pie_without_debug_info(void **state)
{
    frame_copy_t fr[3];
    uint64_t value = 0, size = 0;
    ms_symbolizer_t *s = ms_symbolizer_new();
    ms_sym_t sym;
    int type = 0;
    (void)state;

    assert_non_null(s);
    run_target(MS_TEST_SYMTARGET_NOPIE, fr);
    elf_symbol(fr[1].module, LEAF, &type, &value, &size);
    assert_int_equal(type, ET_EXEC);
    /* l_addr is 0: the offset is the absolute address, which is the symbol's. */
    assert_true(fr[1].offset >= value && fr[1].offset < value + size);

    assert_int_equal(ms_symbolize(s, fr[1].module, fr[1].build_id, fr[1].offset, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_OK);
    assert_string_equal(sym.function, LEAF);
    assert_string_equal(sym.symbol, LEAF);
    assert_int_equal(sym.symbol_offset, fr[1].offset - value);
    /* Built with -g0: the name came from .symtab, and there is no line. */
    assert_null(sym.file);
    assert_int_equal(sym.line, 0);

    assert_int_equal(ms_symbolize(s, fr[0].module, fr[0].build_id, fr[0].offset, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_OK);
    assert_string_equal(sym.function, "main");

    /* Without debug information inlined code is the function it is in. */
    assert_int_equal(ms_symbolize(s, fr[2].module, fr[2].build_id, fr[2].offset, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_OK);
    assert_string_equal(sym.function, "ms_symtarget_outer");
    assert_false(sym.inlined);
    ms_symbolizer_free(s);
}

static void test_other_build_is_rebuilt(void **state)
{
    frame_copy_t pie[3], nopie[3];
    ms_symbolizer_t *s = ms_symbolizer_new();
    ms_sym_t sym;
    char wrong[sizeof pie[1].build_id];
    (void)state;

    assert_non_null(s);
    run_target(MS_TEST_SYMTARGET_PIE, pie);
    run_target(MS_TEST_SYMTARGET_NOPIE, nopie);
    assert_string_not_equal(pie[1].build_id, nopie[1].build_id);

    /* The other program's build-id, one changed digit, a prefix, the upper case. */
    assert_int_equal(ms_symbolize(s, pie[1].module, nopie[1].build_id, pie[1].offset, &sym),
                     0);
    assert_int_equal(sym.status, MS_SYM_REBUILT);
    assert_null(sym.function);
    assert_null(sym.file);
    strcpy(wrong, pie[1].build_id);
    wrong[5] = wrong[5] == '0' ? '1' : '0';
    assert_int_equal(ms_symbolize(s, pie[1].module, wrong, pie[1].offset, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_REBUILT);
    strcpy(wrong, pie[1].build_id);
    wrong[8] = '\0';
    assert_int_equal(ms_symbolize(s, pie[1].module, wrong, pie[1].offset, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_REBUILT);
    strcpy(wrong, pie[1].build_id);
    for (char *c = wrong; *c != '\0'; c++)
        if (*c >= 'a' && *c <= 'f')
            *c = (char)(*c - 'a' + 'A');
    assert_int_equal(ms_symbolize(s, pie[1].module, wrong, pie[1].offset, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_OK);
    ms_symbolizer_free(s);
}

/* ---- files that cannot be symbolized ------------------------------------------------ */

typedef struct tmpdir {
    char path[256];
} tmpdir_t;

static void tmpdir_make(tmpdir_t *t)
{
    const char *base = getenv("TMPDIR");
    snprintf(t->path, sizeof t->path, "%s/ms_symtest.XXXXXX",
             base != NULL && base[0] == '/' ? base : "/tmp");
    assert_non_null(mkdtemp(t->path));
}

static void tmpdir_remove(const tmpdir_t *t)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->path);
    assert_int_equal(system(cmd), 0);
}

/* Writes the first n bytes of from (all of it when n is SIZE_MAX) to to. */
static size_t copy_file(const char *from, const char *to, size_t n)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[65536];
    size_t total = 0, got;

    assert_non_null(in);
    assert_non_null(out);
    while (total < n && (got = fread(buf, 1, sizeof buf < n - total ? sizeof buf : n - total,
                                     in)) > 0) {
        assert_int_equal(fwrite(buf, 1, got, out), got);
        total += got;
    }
    fclose(in);
    assert_int_equal(fclose(out), 0);
    return total;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/*
 * Hides path's .debug_aranges, if it has one, by renaming it "debug_aranges" (its name
 * less the dot, in place in the section name table). Returns whether there was one.
 */
static int hide_aranges(const char *path)
{
    const int fd = open(path, O_RDWR | O_CLOEXEC);
    Elf_Scn *scn = NULL;
    size_t shstrndx;
    Elf *elf;
    int hidden = 0;

    assert_true(fd >= 0);
    assert_int_not_equal(elf_version(EV_CURRENT), EV_NONE);
    elf = elf_begin(fd, ELF_C_RDWR, NULL);
    assert_non_null(elf);
    assert_int_equal(elf_getshdrstrndx(elf, &shstrndx), 0);
    /* Nothing moves: the file is rewritten as it is laid out. */
    elf_flagelf(elf, ELF_C_SET, ELF_F_LAYOUT);
    while ((scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr shdr;
        const char *name;
        assert_non_null(gelf_getshdr(scn, &shdr));
        name = elf_strptr(elf, shstrndx, shdr.sh_name);
        if (name != NULL && strcmp(name, ".debug_aranges") == 0) {
            shdr.sh_name++;
            assert_true(gelf_update_shdr(scn, &shdr));
            elf_flagshdr(scn, ELF_C_SET, ELF_F_DIRTY);
            hidden = 1;
        }
    }
    if (hidden)
        assert_true(elf_update(elf, ELF_C_WRITE) > 0);
    elf_end(elf);
    close(fd);
    return hidden;
}

/*
 * Without .debug_aranges (clang writes none by default) libdw 0.188 places no address in
 * a compilation unit; the symbolizer finds the unit from the units' own ranges.
 */
static void test_debug_info_without_aranges(void **state)
{
    frame_copy_t fr[3];
    ms_symbolizer_t *s = ms_symbolizer_new();
    tmpdir_t t;
    char path[512];
    ms_sym_t sym;
    (void)state;

    assert_non_null(s);
    run_target(MS_TEST_SYMTARGET_PIE, fr);
    tmpdir_make(&t);
    snprintf(path, sizeof path, "%s/noaranges", t.path);
    copy_file(fr[1].module, path, SIZE_MAX);
#if defined(__clang__)
    (void)hide_aranges(path); /* clang wrote none to hide */
#else
    assert_true(hide_aranges(path));
#endif

    assert_int_equal(ms_symbolize(s, path, fr[1].build_id, fr[1].offset, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_OK);
    assert_string_equal(sym.function, LEAF);
    assert_non_null(sym.file);
    assert_true(ends_with(sym.file, "/ms_symtarget.c"));
    assert_int_equal(sym.line, marker_line("call"));
    assert_int_equal(ms_symbolize(s, path, fr[2].build_id, fr[2].offset, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_OK);
    assert_string_equal(sym.function, "ms_symtarget_inlined");
    assert_true(sym.inlined);
    assert_int_equal(sym.line, marker_line("inlined call"));
    /* The ELF header is in no unit. */
    assert_int_equal(ms_symbolize(s, path, fr[1].build_id, 0, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_NO_SYMBOLS);
    assert_null(sym.file);
    ms_symbolizer_free(s);
    tmpdir_remove(&t);
}

static void test_missing_and_unknown(void **state)
{
    ms_symbolizer_t *s = ms_symbolizer_new();
    ms_sym_t sym;
    (void)state;

    assert_non_null(s);
    assert_int_equal(ms_symbolize(s, "/nonexistent/memsweep/prog", NULL, 0x1000, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_MISSING);
    assert_null(sym.function);
    assert_int_equal(ms_symbolize(s, NULL, NULL, 0x1000, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_MISSING);
    assert_int_equal(ms_symbolize(s, "?", NULL, 0x1000, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_MISSING);
    /* Relative to a directory nobody recorded (the vDSO's name is one such). */
    assert_int_equal(ms_symbolize(s, "linux-vdso.so.1", NULL, 0x1000, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_MISSING);
    assert_int_equal(ms_symbolize(NULL, "/bin/sh", NULL, 0, &sym), -EINVAL);
    assert_int_equal(ms_symbolize(s, "/bin/sh", NULL, 0, NULL), -EINVAL);
    ms_symbolizer_free(s);
    ms_symbolizer_free(NULL);
}

static void test_not_elf(void **state)
{
    ms_symbolizer_t *s = ms_symbolizer_new();
    tmpdir_t t;
    char text[512], empty[512], gz[512], fifo[512];
    ms_sym_t sym;
    (void)state;

    assert_non_null(s);
    tmpdir_make(&t);
    snprintf(text, sizeof text, "%s/notes.txt", t.path);
    write_text(text, "This is not an ELF file, though it is long enough to hold a header.\n");
    snprintf(empty, sizeof empty, "%s/empty", t.path);
    write_text(empty, "");
    /* The magic alone, then nothing that libelf could read. */
    snprintf(gz, sizeof gz, "%s/magic", t.path);
    write_text(gz, "\177ELF\002\001\001");
    snprintf(fifo, sizeof fifo, "%s/fifo", t.path);

    assert_int_equal(ms_symbolize(s, text, NULL, 0x10, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_NOT_ELF);
    assert_int_equal(ms_symbolize(s, empty, NULL, 0x10, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_NOT_ELF);
    assert_int_equal(ms_symbolize(s, gz, NULL, 0x10, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_NOT_ELF);
    /* Not regular files: never opened. */
    assert_int_equal(ms_symbolize(s, t.path, NULL, 0x10, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_NOT_ELF);
    assert_int_equal(ms_symbolize(s, "/dev/null", NULL, 0x10, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_NOT_ELF);
    /* Opening a FIFO for reading would wait for a writer. */
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(ms_symbolize(s, fifo, NULL, 0x10, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_NOT_ELF);
    ms_symbolizer_free(s);
    tmpdir_remove(&t);
}

static void test_truncated_copies(void **state)
{
    const size_t cuts[] = {1000, 64, 4096, 0 /* half */, 1 /* all but one byte */};
    frame_copy_t fr[3];
    ms_symbolizer_t *s = ms_symbolizer_new();
    struct stat st;
    tmpdir_t t;
    (void)state;

    assert_non_null(s);
    run_target(MS_TEST_SYMTARGET_PIE, fr);
    assert_int_equal(stat(fr[1].module, &st), 0);
    tmpdir_make(&t);
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        const size_t n = cuts[i] == 0   ? (size_t)st.st_size / 2
                         : cuts[i] == 1 ? (size_t)st.st_size - 1
                                        : cuts[i];
        char path[512];
        ms_sym_t sym;
        snprintf(path, sizeof path, "%s/cut%zu", t.path, n);
        assert_int_equal(copy_file(fr[1].module, path, n), n);
        assert_int_equal(ms_symbolize(s, path, NULL, fr[1].offset, &sym), 0);
        if (sym.status == MS_SYM_OK)
            fail_msg("%zu of %lld bytes: symbolized as %s", n, (long long)st.st_size,
                     sym.function);
    }
    ms_symbolizer_free(s);
    tmpdir_remove(&t);
}

/*
 * Copies with bytes overwritten at random (a fixed seed, so that a failure repeats): any
 * status will do, as long as the process survives and every call returns.
 */
static void test_damaged_copies(void **state)
{
    frame_copy_t fr[3];
    ms_symbolizer_t *s = ms_symbolizer_new();
    unsigned seed = 777;
    struct stat st;
    tmpdir_t t;
    char orig[512];
    unsigned char *image;
    FILE *f;
    size_t ok = 0;
    (void)state;

    assert_non_null(s);
    run_target(MS_TEST_SYMTARGET_PIE, fr);
    assert_int_equal(stat(fr[1].module, &st), 0);
    tmpdir_make(&t);
    snprintf(orig, sizeof orig, "%s/orig", t.path);
    copy_file(fr[1].module, orig, SIZE_MAX);
    image = malloc((size_t)st.st_size);
    assert_non_null(image);
    f = fopen(orig, "rb");
    assert_non_null(f);
    assert_int_equal(fread(image, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    fclose(f);

    for (int round = 0; round < 150; round++) {
        char path[512];
        ms_sym_t sym;
        const int flips = 1 + rand_r(&seed) % 16;
        unsigned char *copy = malloc((size_t)st.st_size);
        assert_non_null(copy);
        memcpy(copy, image, (size_t)st.st_size);
        for (int k = 0; k < flips; k++) {
            /* Half the damage in the headers, where it hurts most. */
            const size_t whole = (size_t)st.st_size;
            const size_t span = (rand_r(&seed) & 1) && whole > 4096 ? 4096 : whole;
            copy[(size_t)rand_r(&seed) % span] = (unsigned char)rand_r(&seed);
        }
        snprintf(path, sizeof path, "%s/damaged%d", t.path, round);
        f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(copy, 1, (size_t)st.st_size, f), (size_t)st.st_size);
        assert_int_equal(fclose(f), 0);
        free(copy);
        assert_int_equal(ms_symbolize(s, path, NULL, fr[1].offset, &sym), 0);
        assert_true(sym.status >= MS_SYM_OK && sym.status <= MS_SYM_NOT_ELF);
        ok += sym.status == MS_SYM_OK;
        assert_int_equal(ms_symbolize(s, path, NULL, fr[0].offset, &sym), 0);
        assert_int_equal(ms_symbolize(s, path, NULL, 0, &sym), 0);
        unlink(path);
    }
    /* Most damage misses what the lookup reads, so most copies still symbolize. */
    assert_true(ok > 0);
    free(image);
    ms_symbolizer_free(s);
    tmpdir_remove(&t);
}

/*
 * A stripped program of the system. Debian strips its programs and links them position
 * independent, and exports nothing from them: the entry point is covered by no symbol
 * (unless its debug package is installed, which then names _start).
 */
static void test_stripped_system_program(void **state)
{
    static const char *const candidates[] = {"/usr/bin/true", "/bin/true"};
    const char *path = NULL;
    ms_symbolizer_t *s = ms_symbolizer_new();
    GElf_Ehdr ehdr;
    Elf_Scn *scn = NULL;
    Elf *elf;
    ms_sym_t sym;
    int fd, has_symtab = 0;
    (void)state;

    assert_non_null(s);
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0] && path == NULL; i++)
        if (access(candidates[i], R_OK) == 0)
            path = candidates[i];
    if (path == NULL) {
        ms_symbolizer_free(s);
        skip();
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_not_equal(elf_version(EV_CURRENT), EV_NONE);
    elf = elf_begin(fd, ELF_C_READ, NULL);
    assert_non_null(elf);
    assert_non_null(gelf_getehdr(elf, &ehdr));
    while ((scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr shdr;
        if (gelf_getshdr(scn, &shdr) != NULL && shdr.sh_type == SHT_SYMTAB)
            has_symtab = 1;
    }
    elf_end(elf);
    close(fd);
    if (has_symtab) {
        /* Not a stripped program here: nothing this test can say. */
        ms_symbolizer_free(s);
        skip();
    }

    assert_int_equal(ms_symbolize(s, path, NULL, ehdr.e_entry + 1, &sym), 0);
    if (sym.status == MS_SYM_OK)
        assert_string_equal(sym.function, "_start"); /* from a debug package */
    else
        assert_int_equal(sym.status, MS_SYM_NO_SYMBOLS);
    /* The ELF header is code of no function in any program. */
    assert_int_equal(ms_symbolize(s, path, NULL, 0, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_NO_SYMBOLS);
    assert_null(sym.function);
    ms_symbolizer_free(s);
}

/* ---- the cache ---------------------------------------------------------------------- */

static void test_module_opened_once(void **state)
{
    frame_copy_t fr[3];
    ms_symbolizer_t *s = ms_symbolizer_new();
    tmpdir_t t;
    char a[512], b[512];
    ms_sym_t sym;
    (void)state;

    assert_non_null(s);
    run_target(MS_TEST_SYMTARGET_PIE, fr);
    tmpdir_make(&t);
    snprintf(a, sizeof a, "%s/a", t.path);
    snprintf(b, sizeof b, "%s/b", t.path);
    copy_file(fr[1].module, a, SIZE_MAX);
    copy_file(fr[1].module, b, SIZE_MAX);

    assert_int_equal(ms_symbolize(s, a, fr[1].build_id, fr[1].offset, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_OK);
    /* Open once, and kept open: the file's removal does not matter any more. */
    assert_int_equal(unlink(a), 0);
    assert_int_equal(ms_symbolize(s, a, fr[1].build_id, fr[1].offset, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_OK);
    assert_string_equal(sym.function, LEAF);

    /* With room for one module, using b closes a, which is then looked for again. */
    ms_symbolizer_set_max_open(s, 1);
    assert_int_equal(ms_symbolize(s, b, fr[1].build_id, fr[1].offset, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_OK);
    assert_int_equal(ms_symbolize(s, a, fr[1].build_id, fr[1].offset, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_MISSING);
    copy_file(fr[1].module, a, SIZE_MAX);
    /* A missing file is remembered as missing. */
    assert_int_equal(ms_symbolize(s, a, fr[1].build_id, fr[1].offset, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_MISSING);
    /* b was closed to open a, and is opened again. */
    assert_int_equal(ms_symbolize(s, b, fr[1].build_id, fr[1].offset, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_OK);
    assert_string_equal(sym.function, LEAF);
    ms_symbolizer_free(s);
    tmpdir_remove(&t);
}

/* Out of descriptors is this process's state, not the file's: it is not remembered. */
static void test_resource_error_not_cached(void **state)
{
    frame_copy_t fr[3];
    ms_symbolizer_t *s = ms_symbolizer_new();
    struct rlimit saved, low;
    ms_sym_t sym;
    int rc, lowest;
    (void)state;

    assert_non_null(s);
    run_target(MS_TEST_SYMTARGET_PIE, fr);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
    /* A limit at the lowest free descriptor leaves room for none. */
    lowest = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(lowest >= 0);
    close(lowest);
    low = saved;
    low.rlim_cur = (rlim_t)lowest;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    rc = ms_symbolize(s, fr[1].module, fr[1].build_id, fr[1].offset, &sym);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
    assert_int_equal(rc, -EMFILE);
    assert_int_equal(sym.status, MS_SYM_MISSING);
    assert_int_equal(ms_symbolize(s, fr[1].module, fr[1].build_id, fr[1].offset, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_OK);
    assert_string_equal(sym.function, LEAF);
    ms_symbolizer_free(s);
}

/* A program replaced while it ran: its link reads "PATH (deleted)". */
static void test_deleted_program(void **state)
{
    frame_copy_t fr[3];
    ms_symbolizer_t *s = ms_symbolizer_new();
    tmpdir_t t;
    char path[512], deleted[600], other[sizeof fr[1].build_id];
    ms_sym_t sym;
    (void)state;

    assert_non_null(s);
    run_target(MS_TEST_SYMTARGET_PIE, fr);
    tmpdir_make(&t);
    snprintf(path, sizeof path, "%s/prog", t.path);
    snprintf(deleted, sizeof deleted, "%s (deleted)", path);
    copy_file(fr[1].module, path, SIZE_MAX);

    /* The build-id proves the file now at the path is the one that ran. */
    assert_int_equal(ms_symbolize(s, deleted, fr[1].build_id, fr[1].offset, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_OK);
    assert_string_equal(sym.function, LEAF);
    /* Nothing proves it. */
    assert_int_equal(ms_symbolize(s, deleted, NULL, fr[1].offset, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_MISSING);
    /* It is proven another build. */
    strcpy(other, fr[1].build_id);
    other[0] = other[0] == 'a' ? 'b' : 'a';
    assert_int_equal(ms_symbolize(s, deleted, other, fr[1].offset, &sym), 0);
    assert_int_equal(sym.status, MS_SYM_REBUILT);
    ms_symbolizer_free(s);
    tmpdir_remove(&t);
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(ms_sym_status_name(MS_SYM_OK), "ok");
    assert_string_equal(ms_sym_status_name(MS_SYM_NO_SYMBOLS), "no symbols");
    assert_string_equal(ms_sym_status_name(MS_SYM_MISSING), "missing");
    assert_string_equal(ms_sym_status_name(MS_SYM_REBUILT), "rebuilt");
    assert_string_equal(ms_sym_status_name(MS_SYM_NOT_ELF), "not ELF");
    assert_string_equal(ms_sym_status_name((ms_sym_status_t)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_plain),
        cmocka_unit_test(test_parse_spaces_and_build_id),
        cmocka_unit_test(test_parse_unknown_module),
        cmocka_unit_test(test_parse_offset_limits),
        cmocka_unit_test(test_parse_garbage),
        cmocka_unit_test(test_parse_stops_at_len),
        cmocka_unit_test(test_parse_random_bytes),
        cmocka_unit_test(test_pie_with_debug_info),
        cmocka_unit_test(test_non_pie_without_debug_info),
        cmocka_unit_test(test_other_build_is_rebuilt),
        cmocka_unit_test(test_debug_info_without_aranges),
        cmocka_unit_test(test_missing_and_unknown),
        cmocka_unit_test(test_not_elf),
        cmocka_unit_test(test_truncated_copies),
        cmocka_unit_test(test_damaged_copies),
        cmocka_unit_test(test_stripped_system_program),
        cmocka_unit_test(test_module_opened_once),
        cmocka_unit_test(test_resource_error_not_cached),
        cmocka_unit_test(test_deleted_program),
        cmocka_unit_test(test_status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
