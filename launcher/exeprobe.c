/* What a program's file says about running it with the shim (see exeprobe.h). */
#include "exeprobe.h"

#include "memsweep/marker.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

/* The kernel follows at most this many "#!" interpreters before it gives up (ELOOP). */
#define MAX_INTERP_DEPTH 4

/* Bytes read from the start of a file: an ELF header, or a "#!" line. */
#define HEAD_BYTES 256

/* Where the loader's search for a program starts without PATH, as in glibc's execvp. */
#define DEFAULT_PATH "/bin:/usr/bin"

/* Reads an unsigned field of n bytes at buf in the byte order `data`. */
static uint64_t get_uint(const unsigned char *buf, size_t n, int data)
{
    uint64_t v = 0;

    for (size_t i = 0; i < n; i++) {
        const size_t k = data == ELFDATA2LSB ? n - 1 - i : i;
        v = v << 8 | buf[k];
    }
    return v;
}

#define FIELD(type, f) offsetof(type, f), sizeof(((type *)0)->f)

int ms_elf_header(const unsigned char *buf, size_t len, ms_elf_t *out)
{
    size_t need;

    memset(out, 0, sizeof *out);
    if (len < EI_NIDENT || memcmp(buf, ELFMAG, SELFMAG) != 0)
        return -ENOEXEC;
    out->elf_class = buf[EI_CLASS];
    out->data = buf[EI_DATA];
    if ((out->elf_class != ELFCLASS32 && out->elf_class != ELFCLASS64) ||
        (out->data != ELFDATA2LSB && out->data != ELFDATA2MSB))
        return -ENOEXEC;
    need = out->elf_class == ELFCLASS64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
    if (len < need)
        return -ENOEXEC;
    if (out->elf_class == ELFCLASS64) {
        out->machine = (int)get_uint(buf + FIELD(Elf64_Ehdr, e_machine), out->data);
        out->phoff = get_uint(buf + FIELD(Elf64_Ehdr, e_phoff), out->data);
        out->phentsize = (unsigned)get_uint(buf + FIELD(Elf64_Ehdr, e_phentsize), out->data);
        out->phnum = (unsigned)get_uint(buf + FIELD(Elf64_Ehdr, e_phnum), out->data);
        need = sizeof(Elf64_Phdr);
    } else {
        out->machine = (int)get_uint(buf + FIELD(Elf32_Ehdr, e_machine), out->data);
        out->phoff = get_uint(buf + FIELD(Elf32_Ehdr, e_phoff), out->data);
        out->phentsize = (unsigned)get_uint(buf + FIELD(Elf32_Ehdr, e_phentsize), out->data);
        out->phnum = (unsigned)get_uint(buf + FIELD(Elf32_Ehdr, e_phnum), out->data);
        need = sizeof(Elf32_Phdr);
    }
    /* PN_XNUM keeps the real count elsewhere; no program the loader runs needs it. */
    if (out->phentsize != need || out->phnum == 0 || out->phnum >= PN_XNUM ||
        out->phnum > MS_ELF_PHNUM_MAX)
        return -EINVAL;
    return 0;
}

int ms_elf_has_interp(const ms_elf_t *e, const unsigned char *buf, size_t len)
{
    if (e->phentsize == 0 || len / e->phentsize < e->phnum)
        return -EINVAL;
    for (unsigned i = 0; i < e->phnum; i++) {
        const unsigned char *ph = buf + (size_t)i * e->phentsize;
        /* p_type is the first field of both classes' program headers. */
        if (get_uint(ph, sizeof(Elf64_Word), e->data) == PT_INTERP)
            return 1;
    }
    return 0;
}

int ms_shebang_interp(const unsigned char *buf, size_t len, char *out, size_t outlen)
{
    size_t i = 2;
    size_t n = 0;

    if (len < 2 || buf[0] != '#' || buf[1] != '!')
        return -ENOEXEC;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
        i++;
    while (i + n < len && buf[i + n] != ' ' && buf[i + n] != '\t' && buf[i + n] != '\n' &&
           buf[i + n] != '\0')
        n++;
    if (n == 0)
        return -ENOEXEC;
    if (n >= outlen)
        return -ENAMETOOLONG;
    memcpy(out, buf + i, n);
    out[n] = '\0';
    return 0;
}

/* Nonzero when path is a regular file its caller may execute. */
static int executable_file(const char *path, int *err)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        *err = errno;
        return 0;
    }
    if (!S_ISREG(st.st_mode) || access(path, X_OK) != 0) {
        *err = EACCES;
        return 0;
    }
    return 1;
}

int ms_exe_resolve(const char *name, const char *path_env, char **out)
{
    const char *p;
    int saw_eacces = 0;
    int err = 0;

    *out = NULL;
    if (name[0] == '\0')
        return -ENOENT;
    if (strchr(name, '/') != NULL) {
        if (!executable_file(name, &err))
            return -err;
        *out = strdup(name);
        return *out != NULL ? 0 : -ENOMEM;
    }
    p = path_env != NULL ? path_env : DEFAULT_PATH;
    for (;;) {
        const char *end = strchrnul(p, ':');
        const int dirlen = (int)(end - p);
        char *cand;

        /* An empty entry is the current directory, as for execvp. */
        if (asprintf(&cand, "%.*s%s%s", dirlen, p, dirlen > 0 ? "/" : "", name) < 0)
            return -ENOMEM;
        if (executable_file(cand, &err)) {
            *out = cand;
            return 0;
        }
        free(cand);
        /* execvp goes on after these and reports EACCES if any candidate gave it. */
        if (err == EACCES)
            saw_eacces = 1;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    return saw_eacces ? -EACCES : -ENOENT;
}

/* What a file is to the loader. */
typedef enum { KIND_UNLOADABLE, KIND_DYNAMIC, KIND_UNKNOWN } kind_t;

int ms_elf_self(ms_elf_t *own)
{
    static ms_elf_t cached;
    static int state; /* 0: not read, 1: read, -1: unreadable */
    unsigned char buf[MS_ELF_HEADER_MAX];

    if (state == 0) {
        const int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
        ssize_t n = -1;
        if (fd >= 0) {
            n = pread(fd, buf, sizeof buf, 0);
            close(fd);
        }
        state = n > 0 && ms_elf_header(buf, (size_t)n, &cached) == 0 ? 1 : -1;
    }
    *own = cached;
    return state == 1 ? 0 : -ENOENT;
}

/* Sets *why to the formatted reason; returns KIND_UNLOADABLE, or -ENOMEM. */
static int unloadable(char **why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int unloadable(char **why, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vasprintf(why, fmt, ap);
    va_end(ap);
    if (rc < 0) {
        *why = NULL;
        return -ENOMEM;
    }
    return KIND_UNLOADABLE;
}

/* Nonzero when the kernel honours set-id bits and file capabilities under path. */
static int suid_honoured(const char *path)
{
    struct statvfs sv;

    return statvfs(path, &sv) != 0 || (sv.f_flag & ST_NOSUID) == 0;
}

/*
 * Judges the file at path: KIND_UNLOADABLE with the reason in *why, KIND_DYNAMIC, or
 * KIND_UNKNOWN (unreadable, or neither ELF nor "#!"). -ENOMEM on allocation failure.
 */
static int classify(const char *path, unsigned uid, unsigned gid, int depth, char **why)
{
    unsigned char head[HEAD_BYTES];
    unsigned char *ph = NULL;
    char interp[HEAD_BYTES];
    struct stat st;
    ms_elf_t e, own;
    ssize_t n;
    size_t phlen;
    int fd;
    int rc;

    *why = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return KIND_UNKNOWN;
    n = pread(fd, head, sizeof head, 0);
    if (n <= 0 || fstat(fd, &st) != 0) {
        close(fd);
        return KIND_UNKNOWN;
    }
    if (ms_shebang_interp(head, (size_t)n, interp, sizeof interp) == 0) {
        char *inner = NULL;
        close(fd);
        if (depth >= MAX_INTERP_DEPTH)
            return KIND_UNKNOWN;
        rc = classify(interp, uid, gid, depth + 1, &inner);
        if (rc == KIND_UNLOADABLE) {
            /* The kernel ignores set-id bits on scripts; their interpreter decides. */
            rc = unloadable(why, "%s (the interpreter of %s)", inner, path);
            free(inner);
        }
        return rc;
    }
    rc = ms_elf_header(head, (size_t)n, &e);
    if (rc != 0) {
        close(fd);
        return KIND_UNKNOWN;
    }
    if (ms_elf_self(&own) == 0 &&
        (e.elf_class != own.elf_class || e.data != own.data || e.machine != own.machine)) {
        close(fd);
        if (e.elf_class != own.elf_class)
            return unloadable(why, "%d-bit program: %s (the shim is %d-bit)",
                              e.elf_class == ELFCLASS64 ? 64 : 32, path,
                              own.elf_class == ELFCLASS64 ? 64 : 32);
        return unloadable(why, "program for another architecture: %s (ELF machine %d)",
                          path, e.machine);
    }
    phlen = (size_t)e.phnum * e.phentsize;
    ph = malloc(phlen);
    if (ph == NULL) {
        close(fd);
        return -ENOMEM;
    }
    n = e.phoff <= (uint64_t)INT64_MAX ? pread(fd, ph, phlen, (off_t)e.phoff) : -1;
    close(fd);
    rc = n > 0 ? ms_elf_has_interp(&e, ph, (size_t)n) : -EINVAL;
    free(ph);
    if (rc < 0)
        return KIND_UNKNOWN;
    if (rc == 0)
        return unloadable(why, "statically linked: %s", path);
    /*
     * The loader runs in secure mode, and ignores LD_PRELOAD paths, when the exec changes
     * the effective ids away from the real ones or grants capabilities. Mounted nosuid,
     * the file changes neither.
     */
    if (!suid_honoured(path))
        return KIND_DYNAMIC;
    if ((st.st_mode & S_ISUID) && st.st_uid != uid)
        return unloadable(why, "setuid: %s (owned by uid %u)", path, (unsigned)st.st_uid);
    /* Without group execute permission the set-group-id bit means mandatory locking. */
    if ((st.st_mode & S_ISGID) && (st.st_mode & S_IXGRP) && st.st_gid != gid)
        return unloadable(why, "setgid: %s (group gid %u)", path, (unsigned)st.st_gid);
    /* Root's capabilities cannot grow, so for root file capabilities change nothing. */
    if (uid != 0 && getxattr(path, "security.capability", NULL, 0) > 0)
        return unloadable(why, "file capabilities: %s", path);
    return KIND_DYNAMIC;
}

char *ms_exe_unloadable(const char *path, unsigned uid, unsigned gid)
{
    char *why = NULL;

    return classify(path, uid, gid, 0, &why) == KIND_UNLOADABLE ? why : NULL;
}

/* Whether [off, off + size) lies within len bytes, without overflow. */
static int in_file(uint64_t off, uint64_t size, size_t len)
{
    return off <= (uint64_t)len && size <= (uint64_t)len - off;
}

/* Sets why and returns rc, for ms_shim_marker's many exits. */
static int not_shim(int rc, char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int not_shim(int rc, char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return rc;
}

/* One section header, the fields the marker's lookup needs. */
typedef struct shdr {
    uint64_t type, addr, offset, size, link, entsize;
} shdr_t;

/* Reads section header i of the table at shoff; 0, or -EINVAL when it is not in img. */
static int read_shdr(const unsigned char *img, size_t len, const ms_elf_t *e, uint64_t shoff,
                     unsigned shentsize, unsigned i, shdr_t *sh)
{
    const uint64_t at = shoff + (uint64_t)i * shentsize;
    const unsigned char *h;

    if (!in_file(at, shentsize, len))
        return -EINVAL;
    h = img + at;
    if (e->elf_class == ELFCLASS64) {
        sh->type = get_uint(h + FIELD(Elf64_Shdr, sh_type), e->data);
        sh->addr = get_uint(h + FIELD(Elf64_Shdr, sh_addr), e->data);
        sh->offset = get_uint(h + FIELD(Elf64_Shdr, sh_offset), e->data);
        sh->size = get_uint(h + FIELD(Elf64_Shdr, sh_size), e->data);
        sh->link = get_uint(h + FIELD(Elf64_Shdr, sh_link), e->data);
        sh->entsize = get_uint(h + FIELD(Elf64_Shdr, sh_entsize), e->data);
    } else {
        sh->type = get_uint(h + FIELD(Elf32_Shdr, sh_type), e->data);
        sh->addr = get_uint(h + FIELD(Elf32_Shdr, sh_addr), e->data);
        sh->offset = get_uint(h + FIELD(Elf32_Shdr, sh_offset), e->data);
        sh->size = get_uint(h + FIELD(Elf32_Shdr, sh_size), e->data);
        sh->link = get_uint(h + FIELD(Elf32_Shdr, sh_link), e->data);
        sh->entsize = get_uint(h + FIELD(Elf32_Shdr, sh_entsize), e->data);
    }
    return 0;
}

/* One dynamic symbol, the fields the lookup needs. */
typedef struct sym {
    uint64_t name, value, size, shndx;
} sym_t;

static void read_sym(const unsigned char *h, const ms_elf_t *e, sym_t *y)
{
    if (e->elf_class == ELFCLASS64) {
        y->name = get_uint(h + FIELD(Elf64_Sym, st_name), e->data);
        y->value = get_uint(h + FIELD(Elf64_Sym, st_value), e->data);
        y->size = get_uint(h + FIELD(Elf64_Sym, st_size), e->data);
        y->shndx = get_uint(h + FIELD(Elf64_Sym, st_shndx), e->data);
    } else {
        y->name = get_uint(h + FIELD(Elf32_Sym, st_name), e->data);
        y->value = get_uint(h + FIELD(Elf32_Sym, st_value), e->data);
        y->size = get_uint(h + FIELD(Elf32_Sym, st_size), e->data);
        y->shndx = get_uint(h + FIELD(Elf32_Sym, st_shndx), e->data);
    }
}

/* Copies the marker's value, the symbol y of section sh, to version; 0 or -EINVAL. */
static int marker_text(const unsigned char *img, size_t len, const shdr_t *sh, const sym_t *y,
                       char *version, size_t vlen)
{
    uint64_t off;
    const unsigned char *v;
    size_t n;

    if (sh->type == SHT_NOBITS || y->value < sh->addr || y->size == 0 ||
        y->size > MS_SHIM_MARKER_MAX || y->value - sh->addr > sh->size ||
        y->size > sh->size - (y->value - sh->addr))
        return -EINVAL;
    off = sh->offset + (y->value - sh->addr);
    if (off < sh->offset || !in_file(off, y->size, len))
        return -EINVAL;
    v = img + off;
    n = strnlen((const char *)v, (size_t)y->size);
    if (n == (size_t)y->size || n + 1 > vlen)
        return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < 0x20 || v[i] >= 0x7F)
            return -EINVAL;
    }
    memcpy(version, v, n);
    version[n] = '\0';
    return 0;
}

int ms_shim_marker(const unsigned char *img, size_t len, const ms_elf_t *own, char *version,
                   size_t vlen, char *why, size_t whylen)
{
    const size_t symsize_need[2] = {sizeof(Elf32_Sym), sizeof(Elf64_Sym)};
    const size_t shsize_need[2] = {sizeof(Elf32_Shdr), sizeof(Elf64_Shdr)};
    ms_elf_t e;
    uint64_t shoff;
    unsigned shentsize, shnum, type;
    shdr_t dynsym, strtab;
    int is64;
    int rc;

    if (vlen > 0)
        version[0] = '\0';
    rc = ms_elf_header(img, len, &e);
    if (rc == -ENOEXEC)
        return not_shim(-ENOEXEC, why, whylen, "not an ELF file");
    if (rc != 0)
        return not_shim(-ENOEXEC, why, whylen, "not an ELF object a program can load");
    if (own != NULL && (e.elf_class != own->elf_class || e.data != own->data)) {
        return not_shim(-EXDEV, why, whylen, "a %d-bit%s ELF object; memsweep is %d-bit%s",
                        e.elf_class == ELFCLASS64 ? 64 : 32,
                        e.data != own->data ? e.data == ELFDATA2MSB ? " big-endian"
                                                                    : " little-endian"
                                            : "",
                        own->elf_class == ELFCLASS64 ? 64 : 32,
                        e.data != own->data ? own->data == ELFDATA2MSB ? " big-endian"
                                                                       : " little-endian"
                                            : "");
    }
    if (own != NULL && e.machine != own->machine)
        return not_shim(-EXDEV, why, whylen,
                        "an ELF object for another machine (ELF machine %d, memsweep's is %d)",
                        e.machine, own->machine);
    is64 = e.elf_class == ELFCLASS64;
    if (is64) {
        type = (unsigned)get_uint(img + FIELD(Elf64_Ehdr, e_type), e.data);
        shoff = get_uint(img + FIELD(Elf64_Ehdr, e_shoff), e.data);
        shentsize = (unsigned)get_uint(img + FIELD(Elf64_Ehdr, e_shentsize), e.data);
        shnum = (unsigned)get_uint(img + FIELD(Elf64_Ehdr, e_shnum), e.data);
    } else {
        type = (unsigned)get_uint(img + FIELD(Elf32_Ehdr, e_type), e.data);
        shoff = get_uint(img + FIELD(Elf32_Ehdr, e_shoff), e.data);
        shentsize = (unsigned)get_uint(img + FIELD(Elf32_Ehdr, e_shentsize), e.data);
        shnum = (unsigned)get_uint(img + FIELD(Elf32_Ehdr, e_shnum), e.data);
    }
    if (type != ET_DYN)
        return not_shim(-ENOEXEC, why, whylen, "not a shared library");
    /* SHN_LORESERVE and above keep the real count elsewhere; no shim has that many. */
    if (shoff == 0 || shnum == 0 || shnum >= SHN_LORESERVE)
        return not_shim(-ENOMSG, why, whylen, "no section headers to find %s in",
                        MS_SHIM_MARKER);
    if (shentsize != shsize_need[is64] || !in_file(shoff, (uint64_t)shnum * shentsize, len))
        return not_shim(-EBADMSG, why, whylen, "its section headers are damaged or cut short");
    memset(&dynsym, 0, sizeof dynsym);
    for (unsigned i = 0; i < shnum; i++) {
        shdr_t sh;
        (void)read_shdr(img, len, &e, shoff, shentsize, i, &sh);
        if (sh.type == SHT_DYNSYM) {
            dynsym = sh;
            break;
        }
    }
    if (dynsym.type != SHT_DYNSYM)
        return not_shim(-ENOMSG, why, whylen, "it exports no symbol, so not %s",
                        MS_SHIM_MARKER);
    if (dynsym.entsize != symsize_need[is64] || !in_file(dynsym.offset, dynsym.size, len) ||
        dynsym.link >= shnum || read_shdr(img, len, &e, shoff, shentsize,
                                          (unsigned)dynsym.link, &strtab) != 0 ||
        strtab.type != SHT_STRTAB || !in_file(strtab.offset, strtab.size, len))
        return not_shim(-EBADMSG, why, whylen, "its dynamic symbol table is damaged");
    for (uint64_t k = 0; k < dynsym.size / dynsym.entsize; k++) {
        const char *names = (const char *)img + strtab.offset;
        shdr_t sh;
        sym_t y;

        read_sym(img + dynsym.offset + k * dynsym.entsize, &e, &y);
        if (y.name >= strtab.size ||
            strnlen(names + y.name, (size_t)(strtab.size - y.name)) == strtab.size - y.name ||
            strcmp(names + y.name, MS_SHIM_MARKER) != 0)
            continue;
        if (y.shndx == SHN_UNDEF)
            continue; /* a reference to the marker, not its definition */
        if (y.shndx >= shnum || read_shdr(img, len, &e, shoff, shentsize, (unsigned)y.shndx,
                                          &sh) != 0 ||
            marker_text(img, len, &sh, &y, version, vlen) != 0)
            return not_shim(-EBADMSG, why, whylen, "its %s is damaged", MS_SHIM_MARKER);
        return 0;
    }
    return not_shim(-ENOMSG, why, whylen, "it does not export %s", MS_SHIM_MARKER);
}

int ms_shim_check_file(const char *path, char *version, size_t vlen, char *why,
                       size_t whylen)
{
    struct stat st;
    ms_elf_t own;
    void *img;
    int fd;
    int rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = -errno;
        if (fd >= 0)
            close(fd);
        return not_shim(rc, why, whylen, "%s", strerror(-rc));
    }
    if (st.st_size == 0) {
        close(fd);
        return not_shim(-ENOEXEC, why, whylen, "an empty file");
    }
    /* Mapped, not read: the file may be large, and only its tables are looked at. */
    img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    rc = img == MAP_FAILED ? -errno : 0;
    close(fd);
    if (rc != 0)
        return not_shim(rc, why, whylen, "%s", strerror(-rc));
    rc = ms_shim_marker(img, (size_t)st.st_size, ms_elf_self(&own) == 0 ? &own : NULL,
                        version, vlen, why, whylen);
    munmap(img, (size_t)st.st_size);
    return rc;
}

/*
 * The first word of a shell line when it is a plain program name or path (after an
 * optional "exec"), in a new string, with *end (when end is not NULL) where it ends in
 * line; NULL when the line starts otherwise (an assignment, a quote, an expansion, a
 * compound command) or on ENOMEM.
 */
static char *first_word(const char *line, const char **end)
{
    static const char stops[] = " \t\n;&|<>()";
    static const char unsure[] = "$`\"'\\*?[]{}~=#!";
    const char *p = line;
    size_t n;

    p += strspn(p, " \t");
    if (strncmp(p, "exec", 4) == 0 && (p[4] == ' ' || p[4] == '\t')) {
        p += 4;
        p += strspn(p, " \t");
    }
    n = strcspn(p, stops);
    if (n == 0 || strcspn(p, unsure) < n)
        return NULL;
    if (end != NULL)
        *end = p + n;
    return strndup(p, n);
}

/*
 * Words sh takes as its own rather than a program to find in PATH: the keywords and
 * built-in commands of dash (Debian's /bin/sh) and of bash (another system's), sorted for
 * bsearch. A word missing here may be refused wrongly; one too many is merely not checked.
 */
static const char *const shell_words[] = {
    ".",       ":",       "[",        "[[",      "alias",    "bg",       "bind",
    "break",   "builtin", "caller",   "case",    "cd",       "chdir",    "command",
    "compgen", "complete", "compopt", "continue", "coproc",  "declare",  "dirs",
    "disown",  "do",      "done",     "echo",    "elif",     "else",     "enable",
    "esac",    "eval",    "exec",     "exit",    "export",   "false",    "fc",
    "fg",      "fi",      "for",      "function", "getopts", "hash",     "help",
    "history", "if",      "in",       "jobs",    "kill",     "let",      "local",
    "logout",  "mapfile", "popd",     "printf",  "pushd",    "pwd",      "read",
    "readarray", "readonly", "return", "select", "set",      "shift",    "shopt",
    "source",  "suspend", "test",     "then",    "time",     "times",    "trap",
    "true",    "type",    "typeset",  "ulimit",  "umask",    "unalias",  "unset",
    "until",   "wait",    "while",
};

static int cmp_word(const void *key, const void *elem)
{
    return strcmp((const char *)key, *(const char *const *)elem);
}

char *ms_shell_first_program(const char *line)
{
    const char *after = NULL;
    char *word = first_word(line, &after);

    if (word == NULL)
        return NULL;
    /* A '(' after the word makes it the name of a function the line defines; a word
     * that starts with '-' is an option of "exec" ("exec -a name prog"), not a program. */
    after += strspn(after, " \t");
    if (*after == '(' || word[0] == '-' ||
        bsearch(word, shell_words, sizeof shell_words / sizeof shell_words[0],
                sizeof shell_words[0], cmp_word) != NULL) {
        free(word);
        return NULL;
    }
    return word;
}

/*
 * Makes *path absolute against the current directory, which the worker shared, so that
 * the reason still names the file when read elsewhere. Symbolic links are kept: the name
 * is the one that was run. Returns 0 or -ENOMEM.
 */
static int absolute(char **path)
{
    char *cwd;
    char *abs;
    const char *rel = *path;

    if (rel[0] == '/')
        return 0;
    cwd = getcwd(NULL, 0);
    if (cwd == NULL)
        return errno == ENOMEM ? -ENOMEM : 0; /* keep the relative name */
    while (rel[0] == '.' && rel[1] == '/')
        rel += 2 + strspn(rel + 2, "/");
    if (asprintf(&abs, "%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/", rel) < 0) {
        free(cwd);
        return -ENOMEM;
    }
    free(cwd);
    free(*path);
    *path = abs;
    return 0;
}

char *ms_unmeasured_reason(char *const *argv, const char *line, const char *path_env,
                           unsigned uid, unsigned gid)
{
    char *path = NULL;
    char *why = NULL;
    int rc;

    if (line != NULL) {
        /*
         * The shell itself records its processes; when none did, the line's own program
         * may have replaced it at once (dash runs the last command of -c with exec).
         */
        char *word = first_word(line, NULL);
        if (word != NULL && ms_exe_resolve(word, path_env, &path) == 0 &&
            absolute(&path) == 0 && classify(path, uid, gid, 0, &why) == KIND_UNLOADABLE) {
            char *full = NULL;
            if (asprintf(&full, "%s (run by /bin/sh -c)", why) < 0)
                full = NULL;
            free(why);
            why = full;
        } else if (classify("/bin/sh", uid, gid, 0, &why) != KIND_UNLOADABLE) {
            free(why);
            why = strdup("no process reported by /bin/sh -c or the programs of its line "
                         "(see the run's log)");
        }
        free(word);
        free(path);
        return why;
    }
    rc = ms_exe_resolve(argv[0], path_env, &path);
    if (rc == -ENOMEM)
        return NULL;
    if (rc != 0) {
        if (asprintf(&why, "cannot be executed: %s: %s", argv[0], strerror(-rc)) < 0)
            why = NULL;
        return why;
    }
    rc = absolute(&path);
    if (rc != 0) {
        free(path);
        return NULL;
    }
    rc = classify(path, uid, gid, 0, &why);
    if (rc == KIND_DYNAMIC) {
        if (asprintf(&why, "no process reported by %s, which is dynamically linked "
                           "(see the run's log)", path) < 0)
            why = NULL;
    } else if (rc == KIND_UNKNOWN) {
        if (asprintf(&why, "no process reported by %s (see the run's log)", path) < 0)
            why = NULL;
    }
    free(path);
    return why;
}
