/*
 * Unit tests for launcher/exeprobe.c: ELF headers and program header tables built here
 * byte by byte (both classes, both byte orders), "#!" lines, the PATH search execvp does,
 * the reasons given for real files, and the shim's marker, in images built here and in
 * the shim this build made (MS_TEST_SHIM).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exeprobe.h"
#include "memsweep/marker.h"
#include "memsweep/version.h"

/* Writes v as an n-byte field in the byte order data. */
static void put(unsigned char *p, size_t n, uint64_t v, int data)
{
    for (size_t i = 0; i < n; i++) {
        const size_t k = data == ELFDATA2LSB ? i : n - 1 - i;
        p[k] = (unsigned char)(v >> (8 * i));
    }
}

/*
 * An ELF file image of the given class and byte order: the header, then phnum program
 * headers of the types in types[], at offset phoff.
 */
static size_t make_elf(unsigned char *buf, size_t cap, int cls, int data, int machine,
                       const unsigned *types, unsigned phnum, size_t phoff)
{
    const int is64 = cls == ELFCLASS64;
    const size_t phent = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
    const size_t end = phoff + phnum * phent;

    assert_true(end <= cap);
    memset(buf, 0, cap);
    memcpy(buf, ELFMAG, SELFMAG);
    buf[EI_CLASS] = (unsigned char)cls;
    buf[EI_DATA] = (unsigned char)data;
    buf[EI_VERSION] = EV_CURRENT;
    if (is64) {
        put(buf + offsetof(Elf64_Ehdr, e_type), 2, ET_EXEC, data);
        put(buf + offsetof(Elf64_Ehdr, e_machine), 2, (uint64_t)machine, data);
        put(buf + offsetof(Elf64_Ehdr, e_phoff), 8, phoff, data);
        put(buf + offsetof(Elf64_Ehdr, e_phentsize), 2, phent, data);
        put(buf + offsetof(Elf64_Ehdr, e_phnum), 2, phnum, data);
    } else {
        put(buf + offsetof(Elf32_Ehdr, e_type), 2, ET_EXEC, data);
        put(buf + offsetof(Elf32_Ehdr, e_machine), 2, (uint64_t)machine, data);
        put(buf + offsetof(Elf32_Ehdr, e_phoff), 4, phoff, data);
        put(buf + offsetof(Elf32_Ehdr, e_phentsize), 2, phent, data);
        put(buf + offsetof(Elf32_Ehdr, e_phnum), 2, phnum, data);
    }
    for (unsigned i = 0; i < phnum; i++)
        put(buf + phoff + i * phent, 4, types[i], data);
    return end;
}

static void check_elf(int cls, int data, int machine)
{
    static const unsigned dyn[] = {PT_PHDR, PT_INTERP, PT_LOAD, PT_LOAD, PT_DYNAMIC};
    static const unsigned stat[] = {PT_LOAD, PT_LOAD, PT_NOTE, PT_TLS, PT_GNU_STACK};
    unsigned char buf[1024];
    ms_elf_t e;
    const size_t phoff = cls == ELFCLASS64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
    size_t n;

    n = make_elf(buf, sizeof buf, cls, data, machine, dyn, 5, phoff);
    assert_int_equal(ms_elf_header(buf, n, &e), 0);
    assert_int_equal(e.elf_class, cls);
    assert_int_equal(e.data, data);
    assert_int_equal(e.machine, machine);
    assert_int_equal(e.phoff, phoff);
    assert_int_equal(e.phnum, 5);
    assert_int_equal(ms_elf_has_interp(&e, buf + e.phoff, n - e.phoff), 1);
    /* A table cut short cannot be judged. */
    assert_int_equal(ms_elf_has_interp(&e, buf + e.phoff, n - e.phoff - 1), -EINVAL);

    n = make_elf(buf, sizeof buf, cls, data, machine, stat, 5, 512);
    assert_int_equal(ms_elf_header(buf, n, &e), 0);
    assert_int_equal(e.phoff, 512);
    assert_int_equal(ms_elf_has_interp(&e, buf + e.phoff, n - e.phoff), 0);
}

static void test_elf_classes_and_orders(void **state)
{
    (void)state;
    check_elf(ELFCLASS64, ELFDATA2LSB, EM_X86_64);
    check_elf(ELFCLASS32, ELFDATA2LSB, EM_386);
    check_elf(ELFCLASS64, ELFDATA2MSB, EM_PPC64);
    check_elf(ELFCLASS32, ELFDATA2MSB, EM_MIPS);
}

static void test_elf_rejects(void **state)
{
    static const unsigned one[] = {PT_LOAD};
    unsigned char buf[256];
    ms_elf_t e;
    size_t n;

    (void)state;
    n = make_elf(buf, sizeof buf, ELFCLASS64, ELFDATA2LSB, EM_X86_64, one, 1, 64);
    assert_int_equal(ms_elf_header(buf, 63, &e), -ENOEXEC);         /* header cut short */
    assert_int_equal(ms_elf_header((const unsigned char *)"#!/bin/sh\n", 10, &e), -ENOEXEC);
    buf[EI_CLASS] = 3;
    assert_int_equal(ms_elf_header(buf, n, &e), -ENOEXEC);          /* unknown class */
    buf[EI_CLASS] = ELFCLASS64;
    buf[EI_DATA] = 0;
    assert_int_equal(ms_elf_header(buf, n, &e), -ENOEXEC);          /* unknown byte order */
    buf[EI_DATA] = ELFDATA2LSB;
    put(buf + offsetof(Elf64_Ehdr, e_phentsize), 2, sizeof(Elf32_Phdr), ELFDATA2LSB);
    assert_int_equal(ms_elf_header(buf, n, &e), -EINVAL);           /* wrong entry size */
    put(buf + offsetof(Elf64_Ehdr, e_phentsize), 2, sizeof(Elf64_Phdr), ELFDATA2LSB);
    put(buf + offsetof(Elf64_Ehdr, e_phnum), 2, PN_XNUM, ELFDATA2LSB);
    assert_int_equal(ms_elf_header(buf, n, &e), -EINVAL);           /* count kept elsewhere */
    put(buf + offsetof(Elf64_Ehdr, e_phnum), 2, 0, ELFDATA2LSB);
    assert_int_equal(ms_elf_header(buf, n, &e), -EINVAL);           /* no program header */
    put(buf + offsetof(Elf64_Ehdr, e_phnum), 2, 1, ELFDATA2LSB);
    assert_int_equal(ms_elf_header(buf, n, &e), 0);
}

/* Writes field f of struct type at p with value v in the byte order data. */
#define PUTF(p, type, f, v, data)                                                          \
    put((p) + offsetof(type, f), sizeof(((type *)0)->f), (uint64_t)(v), (data))

/* Layout of the images make_shim builds: every part at a fixed offset, in 512 bytes. */
enum {
    SHIM_DYNSTR = 128,  /* "\0" MS_SHIM_MARKER "\0" */
    SHIM_RODATA = 160,  /* the marker's text */
    SHIM_DYNSYM = 192,  /* the null symbol and the marker */
    SHIM_SHDRS = 256,   /* null, .dynsym, .dynstr, .rodata */
    SHIM_SIZE = 512,
    SHIM_ADDR = 0x2000, /* the address .rodata is loaded at */
};

/*
 * A shared object image of class cls and byte order data whose dynamic symbol table
 * defines the marker with the text version: what the launcher looks for, in the fewest
 * bytes. Returns its size.
 */
static size_t make_shim(unsigned char *buf, int cls, int data, int machine, const char *version)
{
    static const unsigned load[] = {PT_LOAD};
    const int is64 = cls == ELFCLASS64;
    const size_t symsz = is64 ? sizeof(Elf64_Sym) : sizeof(Elf32_Sym);
    const size_t shsz = is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
    const size_t vsize = strlen(version) + 1;
    unsigned char *sym = buf + SHIM_DYNSYM + symsz;
    unsigned char *sh;

    make_elf(buf, SHIM_SIZE, cls, data, machine, load, 1,
             is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr));
    if (is64) {
        PUTF(buf, Elf64_Ehdr, e_type, ET_DYN, data);
        PUTF(buf, Elf64_Ehdr, e_shoff, SHIM_SHDRS, data);
        PUTF(buf, Elf64_Ehdr, e_shentsize, shsz, data);
        PUTF(buf, Elf64_Ehdr, e_shnum, 4, data);
    } else {
        PUTF(buf, Elf32_Ehdr, e_type, ET_DYN, data);
        PUTF(buf, Elf32_Ehdr, e_shoff, SHIM_SHDRS, data);
        PUTF(buf, Elf32_Ehdr, e_shentsize, shsz, data);
        PUTF(buf, Elf32_Ehdr, e_shnum, 4, data);
    }
    memcpy(buf + SHIM_DYNSTR + 1, MS_SHIM_MARKER, sizeof MS_SHIM_MARKER);
    assert_true(vsize <= SHIM_DYNSYM - SHIM_RODATA);
    memcpy(buf + SHIM_RODATA, version, vsize);
    /* Symbol 1: the marker, defined in section 3 (.rodata). */
    if (is64) {
        PUTF(sym, Elf64_Sym, st_name, 1, data);
        PUTF(sym, Elf64_Sym, st_info, ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT), data);
        PUTF(sym, Elf64_Sym, st_shndx, 3, data);
        PUTF(sym, Elf64_Sym, st_value, SHIM_ADDR, data);
        PUTF(sym, Elf64_Sym, st_size, vsize, data);
    } else {
        PUTF(sym, Elf32_Sym, st_name, 1, data);
        PUTF(sym, Elf32_Sym, st_info, ELF32_ST_INFO(STB_GLOBAL, STT_OBJECT), data);
        PUTF(sym, Elf32_Sym, st_shndx, 3, data);
        PUTF(sym, Elf32_Sym, st_value, SHIM_ADDR, data);
        PUTF(sym, Elf32_Sym, st_size, vsize, data);
    }
    /* Sections 1 to 3: .dynsym (linked to .dynstr), .dynstr, .rodata. */
    for (int i = 1; i <= 3; i++) {
        static const unsigned types[] = {0, SHT_DYNSYM, SHT_STRTAB, SHT_PROGBITS};
        static const unsigned offs[] = {0, SHIM_DYNSYM, SHIM_DYNSTR, SHIM_RODATA};
        const size_t sizes[] = {0, 2 * symsz, SHIM_RODATA - SHIM_DYNSTR,
                                SHIM_DYNSYM - SHIM_RODATA};
        sh = buf + SHIM_SHDRS + (size_t)i * shsz;
        if (is64) {
            PUTF(sh, Elf64_Shdr, sh_type, types[i], data);
            PUTF(sh, Elf64_Shdr, sh_offset, offs[i], data);
            PUTF(sh, Elf64_Shdr, sh_size, sizes[i], data);
            PUTF(sh, Elf64_Shdr, sh_addr, i == 3 ? SHIM_ADDR : 0, data);
            PUTF(sh, Elf64_Shdr, sh_link, i == 1 ? 2 : 0, data);
            PUTF(sh, Elf64_Shdr, sh_entsize, i == 1 ? symsz : 0, data);
        } else {
            PUTF(sh, Elf32_Shdr, sh_type, types[i], data);
            PUTF(sh, Elf32_Shdr, sh_offset, offs[i], data);
            PUTF(sh, Elf32_Shdr, sh_size, sizes[i], data);
            PUTF(sh, Elf32_Shdr, sh_addr, i == 3 ? SHIM_ADDR : 0, data);
            PUTF(sh, Elf32_Shdr, sh_link, i == 1 ? 2 : 0, data);
            PUTF(sh, Elf32_Shdr, sh_entsize, i == 1 ? symsz : 0, data);
        }
    }
    return SHIM_SIZE;
}

/* ms_shim_marker on a copy of exactly len bytes, so that a sanitizer sees any overread. */
static int marker_of(const unsigned char *img, size_t len, const ms_elf_t *own, char *version,
                     size_t vlen)
{
    unsigned char *copy = malloc(len > 0 ? len : 1);
    char why[256] = "";
    int rc;

    assert_non_null(copy);
    memcpy(copy, img, len);
    rc = ms_shim_marker(copy, len, own, version, vlen, why, sizeof why);
    free(copy);
    /* Every refusal says why in words. */
    if (rc != 0)
        assert_true(strlen(why) > 5);
    return rc;
}

static void check_shim_image(int cls, int data, int machine)
{
    unsigned char buf[SHIM_SIZE];
    unsigned char bad[SHIM_SIZE];
    const int is64 = cls == ELFCLASS64;
    const size_t symsz = is64 ? sizeof(Elf64_Sym) : sizeof(Elf32_Sym);
    const size_t shsz = is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
    unsigned char *sym = bad + SHIM_DYNSYM + symsz;
    ms_elf_t own = {.elf_class = cls, .data = data, .machine = machine};
    ms_elf_t other = own;
    char version[MS_SHIM_MARKER_MAX];
    const size_t n = make_shim(buf, cls, data, machine, "9.8.7-test");

    assert_int_equal(marker_of(buf, n, &own, version, sizeof version), 0);
    assert_string_equal(version, "9.8.7-test");
    assert_int_equal(marker_of(buf, n, NULL, version, sizeof version), 0);
    assert_string_equal(version, "9.8.7-test");
    /* No room for the text: refused, not cut. */
    assert_int_equal(marker_of(buf, n, NULL, version, 5), -EBADMSG);

    /* Another machine, class or byte order than the launcher's. */
    other.machine = machine + 1;
    assert_int_equal(marker_of(buf, n, &other, version, sizeof version), -EXDEV);
    other = own;
    other.elf_class = is64 ? ELFCLASS32 : ELFCLASS64;
    assert_int_equal(marker_of(buf, n, &other, version, sizeof version), -EXDEV);
    other = own;
    other.data = data == ELFDATA2LSB ? ELFDATA2MSB : ELFDATA2LSB;
    assert_int_equal(marker_of(buf, n, &other, version, sizeof version), -EXDEV);

    /* A program, not a library. */
    memcpy(bad, buf, n);
    put(bad + offsetof(Elf64_Ehdr, e_type), 2, ET_EXEC, data);
    assert_int_equal(marker_of(bad, n, &own, version, sizeof version), -ENOEXEC);
    /* Another name, or the marker only referred to: no marker. */
    memcpy(bad, buf, n);
    bad[SHIM_DYNSTR + sizeof MS_SHIM_MARKER - 1] = 'X';
    assert_int_equal(marker_of(bad, n, &own, version, sizeof version), -ENOMSG);
    memcpy(bad, buf, n);
    put(sym + (is64 ? offsetof(Elf64_Sym, st_shndx) : offsetof(Elf32_Sym, st_shndx)), 2,
        SHN_UNDEF, data);
    assert_int_equal(marker_of(bad, n, &own, version, sizeof version), -ENOMSG);
    /* No section headers at all. */
    memcpy(bad, buf, n);
    put(bad + (is64 ? offsetof(Elf64_Ehdr, e_shnum) : offsetof(Elf32_Ehdr, e_shnum)), 2, 0,
        data);
    assert_int_equal(marker_of(bad, n, &own, version, sizeof version), -ENOMSG);
    /* A text without its NUL, or outside its section. */
    memcpy(bad, buf, n);
    memset(bad + SHIM_RODATA, 'x', strlen("9.8.7-test") + 1);
    assert_int_equal(marker_of(bad, n, &own, version, sizeof version), -EBADMSG);
    memcpy(bad, buf, n);
    put(sym + (is64 ? offsetof(Elf64_Sym, st_value) : offsetof(Elf32_Sym, st_value)),
        is64 ? 8 : 4, SHIM_ADDR + (SHIM_DYNSYM - SHIM_RODATA) - 2, data);
    assert_int_equal(marker_of(bad, n, &own, version, sizeof version), -EBADMSG);
    memcpy(bad, buf, n);
    put(sym + (is64 ? offsetof(Elf64_Sym, st_value) : offsetof(Elf32_Sym, st_value)),
        is64 ? 8 : 4, SHIM_ADDR - 1, data);
    assert_int_equal(marker_of(bad, n, &own, version, sizeof version), -EBADMSG);
    /* A string table named by an index out of range. */
    memcpy(bad, buf, n);
    put(bad + SHIM_SHDRS + shsz +
            (is64 ? offsetof(Elf64_Shdr, sh_link) : offsetof(Elf32_Shdr, sh_link)),
        4, 9, data);
    assert_int_equal(marker_of(bad, n, &own, version, sizeof version), -EBADMSG);
    /* A symbol table reaching past the end of the file. */
    memcpy(bad, buf, n);
    put(bad + SHIM_SHDRS + shsz +
            (is64 ? offsetof(Elf64_Shdr, sh_size) : offsetof(Elf32_Shdr, sh_size)),
        is64 ? 8 : 4, 1u << 20, data);
    assert_int_equal(marker_of(bad, n, &own, version, sizeof version), -EBADMSG);

    /* Cut short anywhere before its last table ends: never the shim, never a read past
     * the end. */
    for (size_t len = 0; len < SHIM_SHDRS + 4 * shsz; len++)
        assert_int_not_equal(marker_of(buf, len, &own, version, sizeof version), 0);
    assert_int_equal(marker_of(buf, SHIM_SHDRS + 4 * shsz, &own, version, sizeof version), 0);
}

static void test_shim_marker_images(void **state)
{
    (void)state;
    check_shim_image(ELFCLASS64, ELFDATA2LSB, EM_X86_64);
    check_shim_image(ELFCLASS32, ELFDATA2LSB, EM_386);
    check_shim_image(ELFCLASS64, ELFDATA2MSB, EM_PPC64);
    check_shim_image(ELFCLASS32, ELFDATA2MSB, EM_MIPS);
}

static void test_shim_marker_files(void **state)
{
    char version[MS_SHIM_MARKER_MAX];
    char why[256];
    char path[] = "/tmp/ms-test-exeprobe.XXXXXX";
    int fd;

    (void)state;
    /* The shim of this build carries this build's version. */
    assert_int_equal(ms_shim_check_file(MS_TEST_SHIM, version, sizeof version, why, sizeof why),
                     0);
    assert_string_equal(version, MS_VERSION);
    /* This test program is an ELF file of the right machine, but not the shim. */
    assert_int_equal(ms_shim_check_file("/proc/self/exe", version, sizeof version, why,
                                        sizeof why),
                     -ENOMSG);
    assert_non_null(strstr(why, MS_SHIM_MARKER));
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ms_shim_check_file(path, version, sizeof version, why, sizeof why),
                     -ENOEXEC); /* empty */
    assert_int_equal(write(fd, "#!/bin/sh\nexit 0\n", 17), 17);
    close(fd);
    assert_int_equal(ms_shim_check_file(path, version, sizeof version, why, sizeof why),
                     -ENOEXEC);
    assert_string_equal(why, "not an ELF file");
    unlink(path);
    assert_int_equal(ms_shim_check_file(path, version, sizeof version, why, sizeof why),
                     -ENOENT);
    assert_string_equal(why, strerror(ENOENT));
}

/* ms_shell_first_program on line: the word, or "" for NULL. */
static void expect_first_program(const char *line, const char *want)
{
    char *got = ms_shell_first_program(line);

    if (want[0] == '\0') {
        if (got != NULL)
            fail_msg("'%s': expected no program, got '%s'", line, got);
    } else {
        if (got == NULL)
            fail_msg("'%s': expected '%s', got none", line, want);
        assert_string_equal(got, want);
    }
    free(got);
}

static void test_shell_first_program(void **state)
{
    (void)state;
    expect_first_program("python3 train.py --seed 1", "python3");
    expect_first_program("  ./run.sh a b", "./run.sh");
    expect_first_program("exec /opt/bin/solve x", "/opt/bin/solve");
    expect_first_program("prog>out.txt", "prog");
    expect_first_program("prog; echo done", "prog");
    expect_first_program("prog|sort", "prog");
    /* The word after "exec" is the program; a word that only starts with it is one. */
    expect_first_program("executor --x", "executor");
    /* Built-ins and keywords of sh are not looked up in PATH. */
    expect_first_program("echo hi", "");
    expect_first_program("cd /tmp && prog", "");
    expect_first_program("set -e; prog", "");
    expect_first_program("for i in 1 2; do prog $i; done", "");
    expect_first_program("test -f x && prog", "");
    expect_first_program(". ./env.sh; prog", "");
    expect_first_program("exec", "");
    expect_first_program("exec -a name prog", "");
    expect_first_program("time prog", "");
    /* A function the line defines, with or without a blank before its parentheses. */
    expect_first_program("f() { prog; }; f", "");
    expect_first_program("run_one () { prog; }; run_one", "");
    /* What only the shell can read. */
    expect_first_program("X=1 prog", "");
    expect_first_program("\"my prog\" a", "");
    expect_first_program("$HOME/bin/prog", "");
    expect_first_program("~/bin/prog", "");
    expect_first_program("(cd /tmp; prog)", "");
    expect_first_program("{ prog; }", "");
    expect_first_program("! prog", "");
    expect_first_program("<in prog", "");
    expect_first_program("p*g", "");
    expect_first_program("", "");
}

static void test_shebang(void **state)
{
    char out[32];
    static const char s1[] = "#!/bin/sh\necho hi\n";
    static const char s2[] = "#! \t/usr/bin/env python3 -u\n";
    static const char s3[] = "#!/usr/bin/very/long/interpreter/path\n";

    (void)state;
    assert_int_equal(ms_shebang_interp((const unsigned char *)s1, sizeof s1 - 1, out,
                                       sizeof out), 0);
    assert_string_equal(out, "/bin/sh");
    assert_int_equal(ms_shebang_interp((const unsigned char *)s2, sizeof s2 - 1, out,
                                       sizeof out), 0);
    assert_string_equal(out, "/usr/bin/env");
    /* A line cut by the read still names what it holds. */
    assert_int_equal(ms_shebang_interp((const unsigned char *)s1, 6, out, sizeof out), 0);
    assert_string_equal(out, "/bin");
    assert_int_equal(ms_shebang_interp((const unsigned char *)s3, sizeof s3 - 1, out, 16),
                     -ENAMETOOLONG);
    assert_int_equal(ms_shebang_interp((const unsigned char *)"#!  \n", 5, out, sizeof out),
                     -ENOEXEC);
    assert_int_equal(ms_shebang_interp((const unsigned char *)"#", 1, out, sizeof out),
                     -ENOEXEC);
    assert_int_equal(ms_shebang_interp((const unsigned char *)"\177ELF", 4, out, sizeof out),
                     -ENOEXEC);
}

/* A scratch directory with an executable "prog" in a/ and a non-executable one in b/. */
static char dir[64];

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static int setup_dir(void **state)
{
    char path[128];

    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ms-exeprobe-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/a", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/b", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/b/prog", dir);
    write_file(path, "#!/bin/sh\n", 0644);
    snprintf(path, sizeof path, "%s/a/prog", dir);
    write_file(path, "#!/bin/sh\n", 0755);
    snprintf(path, sizeof path, "%s/b/other", dir);
    write_file(path, "#!/bin/sh\n", 0644);
    return 0;
}

static int teardown_dir(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_resolve(void **state)
{
    char path_env[256];
    char want[128];
    char *out = NULL;

    (void)state;
    /* b/ comes first but its prog is not executable: execvp goes on to a/. */
    snprintf(path_env, sizeof path_env, "%s/b:%s/nowhere:%s/a", dir, dir, dir);
    snprintf(want, sizeof want, "%s/a/prog", dir);
    assert_int_equal(ms_exe_resolve("prog", path_env, &out), 0);
    assert_string_equal(out, want);
    free(out);
    /* Only a non-executable candidate: EACCES, as execvp reports it. */
    assert_int_equal(ms_exe_resolve("other", path_env, &out), -EACCES);
    assert_null(out);
    assert_int_equal(ms_exe_resolve("absent", path_env, &out), -ENOENT);
    assert_int_equal(ms_exe_resolve("", path_env, &out), -ENOENT);
    /* A name with a slash is not searched for. */
    assert_int_equal(ms_exe_resolve(want, "/nonexistent", &out), 0);
    assert_string_equal(out, want);
    free(out);
    snprintf(want, sizeof want, "%s/b/prog", dir);
    assert_int_equal(ms_exe_resolve(want, NULL, &out), -EACCES);
    /* Without PATH, execvp searches /bin and /usr/bin. */
    assert_int_equal(ms_exe_resolve("sh", NULL, &out), 0);
    assert_true(strcmp(out, "/bin/sh") == 0 || strcmp(out, "/usr/bin/sh") == 0);
    free(out);
}

static void test_reasons(void **state)
{
    char exe[4096];
    char argv0[4096];
    char *argv[] = {argv0, NULL};
    char *why;
    ssize_t n;

    (void)state;
    /* This test program is dynamically linked: nothing keeps the shim out of it. */
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    assert_true(n > 0);
    exe[n] = '\0';
    assert_null(ms_exe_unloadable(exe, (unsigned)getuid(), (unsigned)getgid()));
    memcpy(argv0, exe, (size_t)n + 1);
    why = ms_unmeasured_reason(argv, NULL, NULL, 0, 0);
    assert_non_null(why);
    assert_non_null(strstr(why, "no process reported by "));
    assert_non_null(strstr(why, "which is dynamically linked"));
    free(why);

    snprintf(argv0, sizeof argv0, "ms-no-such-program");
    why = ms_unmeasured_reason(argv, NULL, "/nonexistent", 0, 0);
    assert_string_equal(why, "cannot be executed: ms-no-such-program: No such file or directory");
    free(why);

    /* A line whose first word cannot be judged: the shell is named. */
    why = ms_unmeasured_reason(NULL, "VAR=1 prog", "/nonexistent", 0, 0);
    assert_non_null(why);
    assert_non_null(strstr(why, "/bin/sh -c"));
    free(why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elf_classes_and_orders),
        cmocka_unit_test(test_elf_rejects),
        cmocka_unit_test(test_shebang),
        cmocka_unit_test_setup_teardown(test_resolve, setup_dir, teardown_dir),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_shim_marker_images),
        cmocka_unit_test(test_shim_marker_files),
        cmocka_unit_test(test_shell_first_program),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
