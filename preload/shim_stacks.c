/*
 * Turns a captured stack into the text of stacks.frames (docs/schema.md), in the thread
 * that captured it (shim_trigger.c), before it tries the spool's writer: dladdr takes the
 * dynamic loader's lock, which must never be waited for while the writer is held. The module of a frame is the object's path as the loader knows it
 * (the program itself is unnamed there, so the caller passes /proc/self/exe); the offset
 * is from the object's load address (zero for a program that is not position
 * independent), so that `addr2line -f -e module offset` finds the line; the symbol is the
 * dynamic symbol that contains the address, which exists only for exported functions (a
 * static function, or any in a program linked without -rdynamic, shows as "?").
 * C++ names stay mangled. The module's GNU build-id, when it has one, ends the line, so
 * that the analyzer can tell the file it finds at the path from the one that ran; it is
 * read from the notes that the object's program headers, as dl_iterate_phdr gives them,
 * place in memory (dl_iterate_phdr takes the loader's list lock, which, like dladdr's,
 * is never held here together with a lock of the shim).
 */
#include "shim_internal.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stddef.h>
#include <string.h>

/*
 * Build-ids of the modules met, by load bias and name. Only the thread that holds the
 * stack text calls ms__stack_format (shim_trigger.c), so no lock is needed. The loader's
 * count of objects removed says when a dlclose may have put another module at a known
 * place: the cache is then emptied.
 */
#define MODULES 32
#define BUILD_ID_MAX 64 /* bytes of a build-id kept; GNU's are 20 */
static struct {
    int used;
    uintptr_t bias;
    const char *name; /* the loader's l_name pointer, compared by address and text */
    char hex[2 * BUILD_ID_MAX + 1];
} modules[MODULES];
static unsigned modules_next;
static unsigned long long modules_subs;

/* Whether [at, at + len) lies in a readable loaded segment of the object. */
static int readable(const ElfW(Phdr) *ph, int n, uintptr_t bias, uintptr_t at, size_t len)
{
    for (int i = 0; i < n; i++) {
        const uintptr_t from = bias + ph[i].p_vaddr;
        if (ph[i].p_type == PT_LOAD && (ph[i].p_flags & PF_R) && at >= from &&
            len <= ph[i].p_filesz && at - from <= ph[i].p_filesz - len)
            return 1;
    }
    return 0;
}

/*
 * The build-id of an object from its notes, which its program headers (as the loader
 * keeps them) place in memory; each note segment is read only where a readable loaded
 * segment maps it. hex gets "" when there is none.
 */
static void read_build_id(const ElfW(Phdr) *ph, int n, uintptr_t bias, char *hex)
{
    static const char digits[] = "0123456789abcdef";

    hex[0] = '\0';
    for (int i = 0; i < n; i++) {
        uintptr_t at = bias + ph[i].p_vaddr;
        size_t left = ph[i].p_filesz;
        /* Notes are padded to their segment's alignment: 4, or 8 in some objects. */
        const size_t pad = ph[i].p_align == 8 ? 7u : 3u;
        if (ph[i].p_type != PT_NOTE || !readable(ph, n, bias, at, left))
            continue;
        while (left >= sizeof(ElfW(Nhdr))) {
            const ElfW(Nhdr) *const nh = (const ElfW(Nhdr) *)at;
            /* As glibc reads notes: the descriptor and the next note at the alignment. */
            const size_t desc_at = (sizeof *nh + (size_t)nh->n_namesz + pad) & ~pad;
            const size_t whole = (desc_at + (size_t)nh->n_descsz + pad) & ~pad;
            if (nh->n_namesz > left || nh->n_descsz > left || desc_at > left || whole > left ||
                whole == 0)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
                memcmp((const char *)(nh + 1), "GNU", 4) == 0 && nh->n_descsz > 0 &&
                nh->n_descsz <= BUILD_ID_MAX) {
                const unsigned char *const id = (const unsigned char *)at + desc_at;
                for (size_t k = 0; k < nh->n_descsz; k++) {
                    hex[2 * k] = digits[id[k] >> 4];
                    hex[2 * k + 1] = digits[id[k] & 15];
                }
                hex[2 * nh->n_descsz] = '\0';
                return;
            }
            at += whole;
            left -= whole;
        }
    }
}

typedef struct {
    uintptr_t bias;
    const char *name;
    char *hex;
    unsigned long long subs;
    int found;
} find_t;

static int same_name(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

/* dl_iterate_phdr's callback: the object of the bias and name asked for. */
static int find_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    find_t *const f = arg;

    if (size < offsetof(struct dl_phdr_info, dlpi_phnum) + sizeof info->dlpi_phnum)
        return 1;
    if ((uintptr_t)info->dlpi_addr != f->bias || !same_name(info->dlpi_name, f->name))
        return 0;
    read_build_id(info->dlpi_phdr, info->dlpi_phnum, (uintptr_t)info->dlpi_addr, f->hex);
    f->found = 1;
    return 1;
}

/* dl_iterate_phdr's callback: the loader's count of objects removed, from the first. */
static int count_removed(struct dl_phdr_info *info, size_t size, void *arg)
{
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs)
        *(unsigned long long *)arg = info->dlpi_subs;
    return 1;
}

static const char *build_id_of(const struct link_map *lm)
{
    find_t f = {(uintptr_t)lm->l_addr, lm->l_name, NULL, 0, 0};
    unsigned slot;

    for (unsigned i = 0; i < MODULES; i++)
        if (modules[i].used && modules[i].bias == f.bias && modules[i].name == f.name)
            return modules[i].hex;
    slot = modules_next++ % MODULES;
    /* Marked used once filled: a fork child of a thread filling it finds it unused. */
    modules[slot].used = 0;
    modules[slot].bias = f.bias;
    modules[slot].name = f.name;
    f.hex = modules[slot].hex;
    f.hex[0] = '\0';
    dl_iterate_phdr(find_object, &f);
    modules[slot].used = 1;
    return modules[slot].hex;
}

static const struct link_map *module_of(const void *addr, Dl_info *info)
{
    void *lm = NULL;

    if (dladdr1(addr, info, &lm, RTLD_DL_LINKMAP) == 0)
        return NULL;
    return lm;
}

int ms__stack_format(const ms_stack_t *s, const char *exe, ms_fmt_t *out)
{
    Dl_info self_info;
    const struct link_map *const self = module_of((const void *)ms__stack_format, &self_info);
    unsigned long long subs = 0;
    int depth = 0;
    int leading = 1;

    dl_iterate_phdr(count_removed, &subs);
    if (subs != modules_subs) {
        memset(modules, 0, sizeof modules);
        modules_subs = subs;
    }

    for (int i = 0; i < s->depth && i < MS_MAX_STACK_FRAMES; i++) {
        /* Return addresses point after the call; the byte before is inside it. */
        const uintptr_t pc = (uintptr_t)s->ips[i] - (i > 0 ? 1 : 0);
        const size_t mark = out->len;
        const struct link_map *lm;
        Dl_info info = {0};

        if (s->ips[i] == NULL)
            break;
        lm = module_of((const void *)pc, &info);
        if (leading && lm != NULL && lm == self)
            continue;
        leading = 0;
        if (depth > 0)
            ms__fmt_str(out, "\n");
        if (lm == NULL) {
            ms__fmt_str(out, "?+");
            ms__fmt_hex(out, pc);
        } else {
            const char *name = lm->l_name;
            if (name == NULL || name[0] == '\0')
                name = exe != NULL && exe[0] != '\0' ? exe : "?";
            ms__fmt_str(out, name);
            ms__fmt_str(out, "+");
            ms__fmt_hex(out, pc - lm->l_addr);
        }
        ms__fmt_str(out, " ");
        ms__fmt_str(out, info.dli_sname != NULL ? info.dli_sname : "?");
        if (lm != NULL) {
            const char *const id = build_id_of(lm);
            if (id[0] != '\0') {
                ms__fmt_str(out, " ");
                ms__fmt_str(out, id);
            }
        }
        if (out->truncated) {
            /* Whole lines only. */
            out->len = mark;
            out->buf[mark] = '\0';
            break;
        }
        depth++;
    }
    return depth;
}

int64_t ms__stack_hash(const char *text, size_t len)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)text[i];
        h *= UINT64_C(0x100000001b3);
    }
    return (int64_t)h;
}
