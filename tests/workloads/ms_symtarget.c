/*
 * A program whose own frames the symbolizer's tests resolve (tests/unit/test_symbolize.c).
 * It prints three stack frames as the shim records them (preload/shim_stacks.c,
 * docs/schema.md), `MODULE+0xOFFSET SYMBOL BUILDID`, one line each: a pc in main, a pc in
 * a static function, and a pc in a static function inlined into another. Each pc is the
 * byte before a return address, inside the call instruction, so its source line is the
 * line of the call. The offset is the pc minus the link_map's l_addr and the build-id is
 * read from the note the loader mapped, as the shim does, so the tests check the
 * symbolizer against the recording's own arithmetic rather than against a second reading
 * of the file. Built twice: position independent with debug information, and not
 * position independent without.
 */
#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct build_id_search {
    uintptr_t pc;
    char hex[129]; /* "" when the object has no build-id note */
} build_id_search_t;

/* The NT_GNU_BUILD_ID note of the object one of whose segments holds s->pc, in memory. */
static int find_build_id(struct dl_phdr_info *info, size_t size, void *arg)
{
    build_id_search_t *const s = arg;
    int mine = 0;

    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *const ph = &info->dlpi_phdr[i];
        const uintptr_t start = info->dlpi_addr + ph->p_vaddr;
        if (ph->p_type == PT_LOAD && s->pc >= start && s->pc - start < ph->p_memsz)
            mine = 1;
    }
    if (!mine)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *const ph = &info->dlpi_phdr[i];
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        const unsigned char *const end = p + ph->p_memsz;
        if (ph->p_type != PT_NOTE)
            continue;
        while ((size_t)(end - p) >= sizeof(ElfW(Nhdr))) {
            const ElfW(Nhdr) *const n = (const ElfW(Nhdr) *)(const void *)p;
            const size_t name = (n->n_namesz + 3u) & ~(size_t)3;
            const size_t desc = (n->n_descsz + 3u) & ~(size_t)3;
            const unsigned char *const d = p + sizeof *n + name;
            if ((size_t)(end - p) - sizeof *n < name + desc)
                break;
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4
                && memcmp(p + sizeof *n, "GNU", 4) == 0 && n->n_descsz <= 64) {
                for (size_t k = 0; k < n->n_descsz; k++)
                    snprintf(s->hex + 2 * k, 3, "%02x", d[k]);
                return 1;
            }
            p = d + desc;
        }
    }
    return 1;
}

/* Prints the frame of its caller's call to it. */
static __attribute__((noinline)) int print_frame(int depth)
{
    const uintptr_t pc = (uintptr_t)__builtin_return_address(0) - 1;
    build_id_search_t search = {.pc = pc};
    struct link_map *lm = NULL;
    Dl_info info;
    char exe[4096];
    const char *name;

    if (dladdr1((const void *)pc, &info, (void **)&lm, RTLD_DL_LINKMAP) == 0 || lm == NULL)
        return -1;
    name = lm->l_name;
    if (name == NULL || name[0] == '\0') {
        /* The loader does not name the program; the shim reads the same link. */
        const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0)
            return -1;
        exe[n] = '\0';
        name = exe;
    }
    dl_iterate_phdr(find_build_id, &search);
    printf("%s+0x%jx %s%s%s\n", name, (uintmax_t)(pc - lm->l_addr),
           info.dli_sname != NULL ? info.dli_sname : "?", search.hex[0] != '\0' ? " " : "",
           search.hex);
    return depth + 1;
}

/*
 * Static, so that only .symtab or the debug information names it. GCC must neither inline
 * it nor clone it under another name (ms_symtarget_leaf.constprop.0), so that its symbol is
 * its name; clang has no noclone and does not need it. It does work after the call so that
 * the call is not a jump.
 */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((noinline, noclone))
#else
__attribute__((noinline))
#endif
static int ms_symtarget_leaf(int depth)
{ /* symtarget: begin */
    const int r = print_frame(depth); /* symtarget: call */
    return r * 3 + depth;
} /* symtarget: end */

/* Always inlined: its code is ms_symtarget_outer's, its lines and name its own. */
static inline __attribute__((always_inline)) int ms_symtarget_inlined(int depth)
{
    const int r = print_frame(depth); /* symtarget: inlined call */
    return r * 5 + depth;
}

#if defined(__GNUC__) && !defined(__clang__)
__attribute__((noinline, noclone))
#else
__attribute__((noinline))
#endif
static int ms_symtarget_outer(int depth)
{
    const int r = ms_symtarget_inlined(depth + 1);
    return r * 7 + depth;
}

int main(int argc, char **argv)
{
    int r;

    (void)argv;
    r = print_frame(argc); /* symtarget: main call */
    if (r < 0 || ms_symtarget_leaf(r) < 0 || ms_symtarget_outer(r) < 0)
        return 1;
    return fflush(stdout) == 0 ? 0 : 1;
}
